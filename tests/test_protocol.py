"""The protocol layer: IDs, topics, ApplicationUp parsing and downlink building."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime
import json
from typing import Any

import orjson
import pytest

from custom_components.ttn_mqtt.protocol.downlink import (
    Downlink,
    PayloadFormat,
    Priority,
    build_downlink_message,
    decode_payload_text,
    new_correlation_id,
    report_details,
)
from custom_components.ttn_mqtt.protocol.errors import DownlinkError, TtnParseError
from custom_components.ttn_mqtt.protocol.ids import (
    application_uid,
    is_valid_api_key,
    is_valid_id,
    looks_like_api_key_id,
    normalize_eui,
)
from custom_components.ttn_mqtt.protocol.messages import (
    MAX_MESSAGE_BYTES,
    DownlinkEvent,
    DownlinkStatus,
    JoinAccept,
    LocationSolved,
    ServiceData,
    Uplink,
    parse_application_up,
    parse_location,
    parse_payload,
)
from custom_components.ttn_mqtt.protocol.topics import (
    DownlinkMode,
    MessageKind,
    downlink_topic,
    parse_topic,
    subscription_topics,
)

# The uplink captured on the eu1 cluster, from ../shared/ttn-v3-mqtt.md.
CAPTURED_UPLINK: dict[str, Any] = {
    "end_device_ids": {
        "device_id": "distance-03",
        "application_ids": {"application_id": "home-assistant-casa"},
        "dev_eui": "22D11357891CB769",
        "join_eui": "70B3D57ED002E4B5",
        "dev_addr": "260B7500",
    },
    "correlation_ids": ["gs:uplink:01J23NEGJP1XSAFZQDQVD01HY8"],
    "received_at": "2024-07-06T09:19:21.381960868Z",
    "uplink_message": {
        "session_key_id": "AZCHQat2VmAxX4ZK0gWZPw==",
        "f_port": 1,
        "f_cnt": 41,
        "frm_payload": "AQAIAQAIAwIBNilnAPYqAgJYKwIPYCxlB9g=",
        "decoded_payload": {
            "accelerometer_77": {"x": 1, "y": 0.5, "z": 9.8},
            "analog_in_3": 3.1,
            "boolean_1": True,
            "digital_in_1": 8,
            "gps_34": {
                "latitude": 48.76826575,
                "longitude": 9.1596689,
                "altitude": 310,
            },
            "illuminance_44": 2008,
            "temperature_41": 24.6,
        },
        "rx_metadata": [
            {
                "gateway_ids": {
                    "gateway_id": "eui-a840411dbd104150",
                    "eui": "A840411DBD104150",
                },
                "time": "2024-07-06T09:19:21.154471Z",
                "timestamp": 556187027,
                "rssi": -54,
                "channel_rssi": -54,
                "snr": 9,
                "received_at": "2024-07-06T09:19:21.150027496Z",
            },
            {"gateway_ids": {"gateway_id": "far-away"}, "rssi": -110, "snr": -7.5},
        ],
        "settings": {
            "data_rate": {
                "lora": {
                    "bandwidth": 125000,
                    "spreading_factor": 7,
                    "coding_rate": "4/5",
                }
            },
            "frequency": "868100000",
            "timestamp": 556187027,
        },
        "received_at": "2024-07-06T09:19:21.175051417Z",
        "consumed_airtime": "0.082176s",
        "version_ids": {"brand_id": "dragino", "model_id": "lht65"},
        "locations": {
            "frm-payload": {"latitude": 48.1, "longitude": 9.2, "source": "SOURCE_GPS"}
        },
    },
}


def _device_ids() -> dict[str, Any]:
    return {"device_id": "dev1", "application_ids": {"application_id": "app1"}}


def test_ids() -> None:
    assert is_valid_id("my-app")
    assert is_valid_id("a1b")
    for bad in ("ab", "-app", "app-", "my--app", "My-App", "app/x", "a+b", "a" * 37):
        assert not is_valid_id(bad), bad
    assert normalize_eui("70-b3-d5-7e-d0-00-00-00") == "70B3D57ED0000000"
    assert normalize_eui("70:B3:D5:7E:D0:00:00:00") == "70B3D57ED0000000"
    with pytest.raises(ValueError, match="not an EUI"):
        normalize_eui("70B3D57ED00000")
    key = "NNSXS." + "A" * 39 + "." + "B" * 52
    assert is_valid_api_key(key)
    assert not is_valid_api_key(key.lower())
    assert looks_like_api_key_id("A" * 39)
    assert not looks_like_api_key_id(key)
    assert application_uid("app", "ttn") == "app@ttn"
    assert application_uid("app", "") == "app"


def test_topics() -> None:
    # The kinds handled, each on its own: not `#`, which brings up/normalized too.
    assert subscription_topics("app@ttn") == [
        f"v3/app@ttn/devices/+/{kind}"
        for kind in (
            "up",
            "join",
            "down/queued",
            "down/sent",
            "down/ack",
            "down/nack",
            "down/failed",
            "down/invalidated",
            "location/solved",
        )
    ]
    assert (
        downlink_topic("app@ttn", "dev-1", DownlinkMode.REPLACE)
        == "v3/app@ttn/devices/dev-1/down/replace"
    )
    for bad in ("dev/x", "dev+", "#", "x"):
        with pytest.raises(ValueError, match="invalid device ID"):
            downlink_topic("app@ttn", bad, DownlinkMode.PUSH)
    parsed = parse_topic("app@ttn", "v3/app@ttn/devices/dev-1/down/ack")
    assert (parsed.device_id, parsed.kind) == ("dev-1", MessageKind.DOWN_ACK)
    for bad in (
        "v3/other@ttn/devices/dev-1/up",
        "v3/app@ttn/devices/dev-1/unknown",
        "v3/app@ttn/devices/dev-1",
        "v3/app@ttn/devices/DEV/up",
        "v3/app@ttn/status",
    ):
        with pytest.raises(TtnParseError):
            parse_topic("app@ttn", bad)


def test_parse_captured_uplink() -> None:
    uplink = parse_payload(orjson.dumps(CAPTURED_UPLINK))
    assert isinstance(uplink, Uplink)
    assert uplink.device.device_id == "distance-03"
    assert uplink.device.application_id == "home-assistant-casa"
    assert uplink.device.dev_eui == "22D11357891CB769"
    assert uplink.received_at == datetime(2024, 7, 6, 9, 19, 21, 381960, tzinfo=UTC)
    assert (uplink.f_port, uplink.f_cnt) == (1, 41)
    assert uplink.decoded_payload["gps_34"]["altitude"] == 310
    assert uplink.frequency == 868100000
    assert uplink.spreading_factor == 7
    assert uplink.bandwidth == 125000
    assert uplink.coding_rate == "4/5"
    assert uplink.consumed_airtime == pytest.approx(0.082176)
    assert uplink.best_gateway.gateway_id == "eui-a840411dbd104150"
    assert len(uplink.gateways) == 2
    assert uplink.version_ids.brand_id == "dragino"
    assert uplink.locations["frm-payload"].latitude == 48.1
    assert not uplink.simulated
    assert not uplink.confirmed


def test_parse_tolerates_every_omitted_field() -> None:
    minimal = {"end_device_ids": {"device_id": "dev1"}, "uplink_message": {}}
    uplink = parse_application_up(minimal)
    assert isinstance(uplink, Uplink)
    assert uplink.received_at is None
    assert uplink.f_cnt is None
    assert uplink.frm_payload is None
    assert uplink.decoded_payload is None
    assert uplink.gateways == ()
    assert uplink.best_gateway is None
    assert uplink.frequency is None
    assert uplink.version_ids is None
    assert uplink.device.application_id == ""


def test_parse_old_coding_rate_place_and_numeric_frequency() -> None:
    message = copy.deepcopy(CAPTURED_UPLINK)
    settings = message["uplink_message"]["settings"]
    del settings["data_rate"]["lora"]["coding_rate"]
    settings["coding_rate"] = "4/6"
    settings["frequency"] = 867100000
    message["uplink_message"]["rx_metadata"] = [{"gateway_ids": {"gateway_id": "g"}}]
    uplink = parse_application_up(message)
    assert uplink.coding_rate == "4/6"
    assert uplink.frequency == 867100000
    assert uplink.best_gateway.gateway_id == "g"


def test_parse_simulated_uplink() -> None:
    message = {**CAPTURED_UPLINK, "simulated": True}
    assert parse_application_up(message).simulated


def test_parse_join() -> None:
    message = {
        "end_device_ids": _device_ids(),
        "received_at": "2020-02-17T10:32:24.590413417Z",
        "join_accept": {"session_key_id": "AXBSp8v2brG0jqkri+sIkw=="},
    }
    assert isinstance(parse_application_up(message), JoinAccept)


@pytest.mark.parametrize(
    ("key", "status"),
    [
        ("downlink_queued", DownlinkStatus.QUEUED),
        ("downlink_sent", DownlinkStatus.SENT),
        ("downlink_ack", DownlinkStatus.ACK),
        ("downlink_nack", DownlinkStatus.NACK),
    ],
)
def test_parse_downlink_events(key: str, status: DownlinkStatus) -> None:
    message = {
        "end_device_ids": _device_ids(),
        "correlation_ids": ["as:downlink:01E19B99501X84X6CV471TVSZ1"],
        key: {
            "f_port": 15,
            "f_cnt": 1,
            "frm_payload": "vu8=",
            "confirmed": True,
            "priority": "NORMAL",
            "correlation_ids": [
                "ttn_mqtt:abc",
                "as:downlink:01E19B99501X84X6CV471TVSZ1",
            ],
        },
    }
    event = parse_application_up(message)
    assert isinstance(event, DownlinkEvent)
    assert event.status is status
    assert event.f_port == 15
    assert event.confirmed
    assert event.downlink_correlation_ids[0] == "ttn_mqtt:abc"


def test_parse_downlink_failed() -> None:
    message = {
        "end_device_ids": _device_ids(),
        "downlink_failed": {
            "downlink": {"f_port": 15, "frm_payload": "vu8=", "correlation_ids": ["x"]},
            "error": {
                "namespace": "pkg/networkserver",
                "name": "application_downlink_too_long",
                "message_format": "application downlink payload is too long",
                "code": 3,
            },
        },
    }
    event = parse_application_up(message)
    assert event.status is DownlinkStatus.FAILED
    assert event.error_name == "application_downlink_too_long"
    assert event.error_message == "application downlink payload is too long"
    assert event.downlink_correlation_ids == ("x",)


def test_parse_downlink_failed_in_full() -> None:
    """The message_format is filled from the attributes; the cause is kept.

    As lorawan-stack's networkserver writes it (errApplicationDownlinkTooLong) and
    api/ttn/lorawan/v3/error.proto defines ErrorDetails.
    """
    message = {
        "end_device_ids": _device_ids(),
        "downlink_failed": {
            "downlink": {"f_port": 15, "frm_payload": "vu8=", "correlation_ids": ["x"]},
            "error": {
                "namespace": "pkg/networkserver",
                "name": "application_downlink_too_long",
                "message_format": "application downlink payload length `{length}` "
                "exceeds maximum '{max}'",
                "attributes": {"length": 60, "max": 51},
                "code": 3,
                "cause": {
                    "namespace": "pkg/band",
                    "name": "data_rate_index",
                    "message_format": "no data rate with index `{index}`",
                    "attributes": {"index": 0},
                },
            },
        },
    }
    event = parse_application_up(message)
    assert event.error_message == (
        "application downlink payload length `60` exceeds maximum '51'"
    )
    assert event.error_cause_name == "data_rate_index"
    assert event.error_cause_message == "no data rate with index `0`"
    details = report_details(event)
    assert details["error_cause_name"] == "data_rate_index"
    # A placeholder without an attribute stays as written.
    message["downlink_failed"]["error"]["attributes"] = {"length": 60}
    assert parse_application_up(message).error_message.endswith("maximum '{max}'")


def test_parse_a_nack_with_its_attempt() -> None:
    message = {
        "end_device_ids": _device_ids(),
        "downlink_nack": {
            "f_port": 2,
            "confirmed": True,
            "correlation_ids": ["x"],
            "confirmed_retry": {"attempt": 3, "max_attempts": 8},
        },
    }
    event = parse_application_up(message)
    assert (event.retry_attempt, event.retry_max_attempts) == (3, 8)
    assert report_details(event)["attempt"] == 3


def test_parse_queue_invalidated() -> None:
    message = {
        "end_device_ids": _device_ids(),
        "downlink_queue_invalidated": {
            "downlinks": [{"f_port": 2}],
            "last_f_cnt_down": 3,
        },
    }
    event = parse_application_up(message)
    assert event.status is DownlinkStatus.INVALIDATED
    assert event.f_port == 2


def test_parse_location_solved_and_service_data() -> None:
    solved = parse_application_up(
        {
            "end_device_ids": _device_ids(),
            "location_solved": {
                "service": "lora-cloud-device-management-v1-wifi",
                "location": {"latitude": 52.1, "longitude": 4.3, "accuracy": 20},
            },
        }
    )
    assert isinstance(solved, LocationSolved)
    assert solved.location.accuracy == 20
    service = parse_application_up(
        {
            "end_device_ids": _device_ids(),
            "service_data": {"service": "lora-cloud", "data": {"x": 1}},
        }
    )
    assert isinstance(service, ServiceData)
    assert service.data == {"x": 1}


BAD_PAYLOADS = {
    "not json": b"{not json",
    "not an object": b"[1, 2, 3]",
    "a string": b'"uplink"',
    "no device ids": b'{"uplink_message": {}}',
    "bad device id": b'{"end_device_ids": {"device_id": "A/B"}, "uplink_message": {}}',
    "unknown kind": b'{"end_device_ids": {"device_id": "dev1"}}',
    "f_port text": b'{"end_device_ids": {"device_id": "dev1"}, "uplink_message": {"f_port": "x"}}',
    "f_cnt bool": b'{"end_device_ids": {"device_id": "dev1"}, "uplink_message": {"f_cnt": true}}',
    "decoded list": b'{"end_device_ids": {"device_id": "dev1"}, "uplink_message": {"decoded_payload": [1]}}',
    "rx_metadata object": b'{"end_device_ids": {"device_id": "dev1"}, "uplink_message": {"rx_metadata": {}}}',
    "rssi text": b'{"end_device_ids": {"device_id": "dev1"}, "uplink_message": {"rx_metadata": [{"rssi": "x"}]}}',
    "bad time": b'{"end_device_ids": {"device_id": "dev1"}, "received_at": "yesterday", "uplink_message": {}}',
    "bad airtime": b'{"end_device_ids": {"device_id": "dev1"}, "uplink_message": {"consumed_airtime": "long"}}',
    "location not an object": b'{"end_device_ids": {"device_id": "dev1"}, "uplink_message": {"locations": {"a": [1, 2]}}}',
    "latitude text": b'{"end_device_ids": {"device_id": "dev1"}, "uplink_message": {"locations": {"a": {"latitude": "north"}}}}',
    "confirmed text": b'{"end_device_ids": {"device_id": "dev1"}, "uplink_message": {"confirmed": "yes"}}',
    "correlation ids": b'{"end_device_ids": {"device_id": "dev1"}, "correlation_ids": [1], "uplink_message": {}}',
    "deeply nested": b'{"x": ' * 2000 + b"1" + b"}" * 2000,
    "too large": b'{"pad": "' + b"x" * MAX_MESSAGE_BYTES + b'"}',
}


@pytest.mark.parametrize("payload", BAD_PAYLOADS.values(), ids=BAD_PAYLOADS.keys())
def test_bad_input_raises_only_parse_error(payload: bytes) -> None:
    with pytest.raises(TtnParseError):
        parse_payload(payload)


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
    assert err.value.reason == "invalid_hex"
    with pytest.raises(DownlinkError) as err:
        decode_payload_text("!!!", PayloadFormat.BASE64)
    assert err.value.reason == "invalid_base64"


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"f_port": 0, "frm_payload": b"\x01"}, "invalid_f_port"),
        ({"f_port": 224, "frm_payload": b"\x01"}, "invalid_f_port"),
        ({"f_port": 1}, "payload_xor_decoded"),
        (
            {"f_port": 1, "frm_payload": b"\x01", "decoded_payload": {}},
            "payload_xor_decoded",
        ),
        ({"f_port": 1, "frm_payload": b"\x00" * 243}, "payload_too_long"),
        ({"f_port": 1, "decoded_payload": [1]}, "decoded_not_object"),
    ],
)
def test_downlink_validation(kwargs: dict[str, Any], reason: str) -> None:
    with pytest.raises(DownlinkError) as err:
        Downlink(correlation_id="ttn_mqtt:x", **kwargs)
    assert err.value.reason == reason


def test_a_location_left_at_zero_is_zero() -> None:
    """The server leaves zero values out: a missing longitude is 0, not an error."""
    location = parse_location({"latitude": 51.48})
    assert (location.latitude, location.longitude) == (51.48, 0.0)


def test_a_time_without_its_zone_is_utc() -> None:
    """A received_at without a zone is UTC, as the server means."""
    uplink = parse_application_up(
        {
            "end_device_ids": _device_ids(),
            "received_at": "2024-07-06T09:19:21.150027",
            "uplink_message": {},
        }
    )
    assert uplink.received_at == datetime(2024, 7, 6, 9, 19, 21, 150027, tzinfo=UTC)
