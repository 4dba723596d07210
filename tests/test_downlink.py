"""Downlinks: what may be sent, the message published, and the reports on its fate.

No Home Assistant here; test_services.py sends downlinks through the action and
test_event.py shows their reports.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime
import json
from typing import Any

import orjson
import pytest

from custom_components.ttn_mqtt.protocol.downlink import (
    MAX_DECODED_DEPTH,
    Downlink,
    PayloadFormat,
    Priority,
    build_downlink_message,
    decode_payload_text,
    exhausted_report,
    new_correlation_id,
    own_correlation_id,
    report_details,
    unanswered_report,
)
from custom_components.ttn_mqtt.protocol.errors import DownlinkError, DownlinkProblem
from custom_components.ttn_mqtt.protocol.messages import (
    DownlinkEvent,
    DownlinkStatus,
    EndDeviceIds,
)

DEVICE = EndDeviceIds(device_id="door-01", application_id="test-app")


def _nested(depth: int) -> dict[str, Any]:
    """Return an object nested `depth` levels deep, itself the first."""
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def _decoded_of_size(size: int) -> dict[str, str]:
    """Return a decoded payload of exactly `size` bytes as JSON."""
    decoded = {"text": ""}
    decoded["text"] = "x" * (size - len(orjson.dumps(decoded)))
    assert len(orjson.dumps(decoded)) == size
    return decoded


def _report(status: DownlinkStatus, **changes: Any) -> DownlinkEvent:
    event = DownlinkEvent(
        device=DEVICE,
        received_at=datetime(2024, 7, 6, 9, 0, tzinfo=UTC),
        raw_json=b"{}",
        status=status,
        f_port=2,
        frm_payload="AQ==",
        decoded_payload=None,
        confirmed=True,
        priority="NORMAL",
        downlink_correlation_ids=("as:downlink:01", "ttn_mqtt:abc"),
    )
    return replace(event, **changes)


def test_downlink_message() -> None:
    downlink = Downlink(
        f_port=15,
        frm_payload=b"\xbe\xef",
        confirmed=True,
        priority=Priority.HIGH,
        correlation_id="ttn_mqtt:1",
    )
    decoded = Downlink(
        f_port=2, decoded_payload={"led": "on"}, correlation_id="ttn_mqtt:2"
    )
    body = json.loads(build_downlink_message([downlink, decoded]))
    assert body == {
        "downlinks": [
            {
                "f_port": 15,
                "frm_payload": "vu8=",
                "priority": "HIGH",
                "confirmed": True,
                "correlation_ids": ["ttn_mqtt:1"],
                "confirmed_retry": {"max_attempts": 8},
            },
            {
                "f_port": 2,
                "decoded_payload": {"led": "on"},
                "confirmed": False,
                "correlation_ids": ["ttn_mqtt:2"],
            },
        ]
    }
    # An empty payload is a downlink too (ApplicationDownlink.frm_payload "").
    empty = Downlink(f_port=7, frm_payload=b"", correlation_id="ttn_mqtt:3")
    assert empty.as_json()["frm_payload"] == ""
    assert json.loads(build_downlink_message([])) == {"downlinks": []}
    assert new_correlation_id().startswith("ttn_mqtt:")
    assert new_correlation_id() != new_correlation_id()


def test_priorities_are_the_servers() -> None:
    """The names of TxSchedulePriority (api/ttn/lorawan/v3/messages.proto), lowest first."""
    assert [priority.value for priority in Priority] == [
        "LOWEST",
        "LOW",
        "BELOW_NORMAL",
        "NORMAL",
        "ABOVE_NORMAL",
        "HIGH",
        "HIGHEST",
    ]


def test_payload_text() -> None:
    assert decode_payload_text("be ef:01", PayloadFormat.HEX) == b"\xbe\xef\x01"
    assert (
        decode_payload_text(
            base64.b64encode(b"\x00\x01").decode(), PayloadFormat.BASE64
        )
        == b"\x00\x01"
    )
    with pytest.raises(DownlinkError) as err:
        decode_payload_text("xyz", PayloadFormat.HEX)
    assert err.value.problem is DownlinkProblem.INVALID_HEX
    with pytest.raises(DownlinkError) as err:
        decode_payload_text("!!!", PayloadFormat.BASE64)
    assert err.value.problem is DownlinkProblem.INVALID_BASE64


@pytest.mark.parametrize(
    "kwargs",
    [
        # FPort 1 to 223 carry application data (LoRaWAN 1.0.4, 4.3.2).
        {"f_port": 1, "frm_payload": b"\x01"},
        {"f_port": 223, "frm_payload": b"\x01"},
        # The most any data rate carries.
        {"f_port": 1, "frm_payload": b"\x00" * 242},
        {"f_port": 1, "decoded_payload": _decoded_of_size(4096)},
        # As deep as orjson writes.
        {"f_port": 1, "decoded_payload": _nested(MAX_DECODED_DEPTH)},
    ],
    ids=["f_port_1", "f_port_223", "payload_242", "decoded_4096", "decoded_deepest"],
)
def test_the_limits_are_sent(kwargs: dict[str, Any]) -> None:
    downlink = Downlink(correlation_id="ttn_mqtt:x", **kwargs)
    assert build_downlink_message([downlink])


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"f_port": 0, "frm_payload": b"\x01"}, "invalid_f_port"),
        ({"f_port": 224, "frm_payload": b"\x01"}, "invalid_f_port"),
        ({"f_port": 1.0, "frm_payload": b"\x01"}, "invalid_f_port"),
        ({"f_port": True, "frm_payload": b"\x01"}, "invalid_f_port"),
        ({"f_port": 1}, "payload_xor_decoded"),
        (
            {"f_port": 1, "frm_payload": b"\x01", "decoded_payload": {}},
            "payload_xor_decoded",
        ),
        ({"f_port": 1, "frm_payload": b"\x00" * 243}, "payload_too_long"),
        ({"f_port": 1, "decoded_payload": [1]}, "decoded_not_object"),
        ({"f_port": 1, "decoded_payload": {"levels": {1, 2}}}, "decoded_not_json"),
        (
            {"f_port": 1, "decoded_payload": _nested(MAX_DECODED_DEPTH + 1)},
            "decoded_not_json",
        ),
        ({"f_port": 1, "decoded_payload": _decoded_of_size(4097)}, "decoded_too_large"),
    ],
)
def test_downlink_validation(kwargs: dict[str, Any], reason: str) -> None:
    with pytest.raises(DownlinkError) as err:
        Downlink(correlation_id="ttn_mqtt:x", **kwargs)
    assert err.value.problem is DownlinkProblem[reason.upper()]


def test_our_correlation_id_among_the_servers() -> None:
    assert own_correlation_id(["as:downlink:01", "ttn_mqtt:abc"]) == "ttn_mqtt:abc"
    assert own_correlation_id(["as:downlink:01"]) is None


def test_report_details() -> None:
    """What the event entity and the event say of a downlink, by its status."""
    assert report_details(_report(DownlinkStatus.SENT, retry_attempt=2)) == {
        "correlation_id": "ttn_mqtt:abc",
        "correlation_ids": ["as:downlink:01", "ttn_mqtt:abc"],
        "f_port": 2,
    }
    assert report_details(_report(DownlinkStatus.NACK, retry_attempt=2)) == {
        "correlation_id": "ttn_mqtt:abc",
        "correlation_ids": ["as:downlink:01", "ttn_mqtt:abc"],
        "f_port": 2,
        "attempt": 2,
    }
    assert "attempt" not in report_details(_report(DownlinkStatus.NACK))
    failed = _report(
        DownlinkStatus.FAILED,
        error_name="application_downlink_too_long",
        error_message="too long",
    )
    assert report_details(failed) == {
        "correlation_id": "ttn_mqtt:abc",
        "correlation_ids": ["as:downlink:01", "ttn_mqtt:abc"],
        "f_port": 2,
        "error_name": "application_downlink_too_long",
        "error_message": "too long",
    }
    # A cause is said when the server gives any of it.
    for cause in (
        {"error_cause_name": "data_rate_index"},
        {"error_cause_message": "no data rate with index `0`"},
    ):
        details = report_details(replace(failed, **cause))
        assert {
            key: details[key] for key in ("error_cause_name", "error_cause_message")
        } == {"error_cause_name": None, "error_cause_message": None, **cause}


def test_a_downlink_never_answered_is_reported_failed() -> None:
    downlink = Downlink(
        f_port=3,
        decoded_payload={"led": "on"},
        confirmed=True,
        priority=Priority.HIGH,
        correlation_id="ttn_mqtt:abc",
    )
    now = datetime(2024, 7, 6, 9, 0, tzinfo=UTC)
    report = unanswered_report(downlink, DEVICE, 30.0, now)
    assert (report.device, report.received_at, report.raw) == (DEVICE, now, {})
    assert report.status is DownlinkStatus.FAILED
    assert (report.f_port, report.decoded_payload, report.confirmed) == (
        3,
        {"led": "on"},
        True,
    )
    assert report.priority == "HIGH"
    assert report.downlink_correlation_ids == ("ttn_mqtt:abc",)
    assert report.error_name == "no_answer"
    assert report.error_message == (
        "The Things Stack did not answer within 30 s: it refused the downlink before "
        "queueing it (its downlink payload formatter failed, or the message was "
        "invalid), or the connection was lost"
    )
    without_priority = replace(downlink, priority=None)
    assert unanswered_report(without_priority, DEVICE, 2.5, now).priority is None
    assert "within 2.5 s" in unanswered_report(downlink, DEVICE, 2.5, now).error_message


def test_the_last_nack_is_followed_by_a_failure() -> None:
    """After its last transmission (attempt past max_attempts) the server drops it."""
    last = _report(DownlinkStatus.NACK, retry_attempt=9, retry_max_attempts=8)
    dropped = exhausted_report(last)
    assert dropped == replace(
        last,
        status=DownlinkStatus.FAILED,
        error_name="max_retries_reached",
        error_message="The device acknowledged none of 9 transmissions; "
        "The Things Stack dropped the downlink",
    )
    for not_last in (
        replace(last, retry_attempt=8),
        replace(last, retry_attempt=None),
        replace(last, retry_max_attempts=None),
        replace(last, status=DownlinkStatus.FAILED),
    ):
        assert exhausted_report(not_last) is None
