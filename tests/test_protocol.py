"""The protocol layer: topics and ApplicationUp parsing.

IDs are tested in test_ids.py, downlinks in test_downlink.py.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
import gc
from typing import Any

import orjson
import pytest

from custom_components.ttn_mqtt.protocol.downlink import report_details
from custom_components.ttn_mqtt.protocol.errors import TtnParseError
from custom_components.ttn_mqtt.protocol.messages import (
    MAX_MESSAGE_BYTES,
    DownlinkEvent,
    DownlinkStatus,
    JoinAccept,
    LocationSolved,
    Uplink,
    parse_application_up,
    parse_location,
    parse_payload,
)
from custom_components.ttn_mqtt.protocol.topics import (
    HANDLED_KINDS,
    DownlinkMode,
    MessageKind,
    downlink_topic,
    parse_topic,
    subscription_topics,
)
from custom_components.ttn_mqtt.protocol.uplink_ledger import uplink_key

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
    assert (
        downlink_topic("app@ttn", "dev-1", DownlinkMode.PUSH)
        == "v3/app@ttn/devices/dev-1/down/push"
    )
    parsed = parse_topic("app@ttn", "v3/app@ttn/devices/dev-1/down/ack")
    assert (parsed.device_id, parsed.kind) == ("dev-1", MessageKind.DOWN_ACK)
    for bad in (
        "v3/other@ttn/devices/dev-1/up",
        # Another application whose ID is as long.
        "v3/ppa@ttn/devices/dev-1/up",
        "v3/app@ttn/devices/dev-1/unknown",
        "v3/app@ttn/devices/dev-1",
        "v3/app@ttn/devices/DEV/up",
        "v3/app@ttn/status",
    ):
        with pytest.raises(TtnParseError):
            parse_topic("app@ttn", bad)


# Every topic of a device (The Things Stack's MQTT server, pkg/applicationserver/io/mqtt).
DEVICE_TOPICS = {
    "up": MessageKind.UPLINK,
    "up/normalized": MessageKind.UPLINK_NORMALIZED,
    "join": MessageKind.JOIN,
    "down/queued": MessageKind.DOWN_QUEUED,
    "down/sent": MessageKind.DOWN_SENT,
    "down/ack": MessageKind.DOWN_ACK,
    "down/nack": MessageKind.DOWN_NACK,
    "down/failed": MessageKind.DOWN_FAILED,
    "down/invalidated": MessageKind.DOWN_INVALIDATED,
    "location/solved": MessageKind.LOCATION_SOLVED,
    "service/data": MessageKind.SERVICE_DATA,
}


@pytest.mark.parametrize(("tail", "kind"), DEVICE_TOPICS.items())
def test_every_topic_of_a_device_is_parsed(tail: str, kind: MessageKind) -> None:
    """Each is told apart, those not subscribed to as well: another client may be."""
    parsed = parse_topic("app@ttn", f"v3/app@ttn/devices/dev-1/{tail}")
    assert (parsed.device_id, parsed.kind) == ("dev-1", kind)


def test_up_normalized_and_service_data_are_not_subscribed_to() -> None:
    """Nothing here uses them, and they would fill the server's 64-message buffer."""
    assert set(MessageKind) - HANDLED_KINDS == {
        MessageKind.UPLINK_NORMALIZED,
        MessageKind.SERVICE_DATA,
    }
    topics = subscription_topics("app@ttn")
    assert "v3/app@ttn/devices/+/service/data" not in topics
    assert "v3/app@ttn/devices/+/up/normalized" not in topics
    assert "v3/app@ttn/devices/+/down/invalidated" in topics


def test_a_device_id_of_36_characters_is_one_37_is_not() -> None:
    """The Things Stack's longest device ID works in every topic; a longer one in none."""
    longest, too_long = "d" * 36, "d" * 37
    assert parse_topic("app@ttn", f"v3/app@ttn/devices/{longest}/up").device_id == (
        longest
    )
    assert downlink_topic("app@ttn", longest, DownlinkMode.PUSH).endswith(
        f"/{longest}/down/push"
    )
    message = {"end_device_ids": {"device_id": longest}, "uplink_message": {}}
    assert parse_application_up(message).device.device_id == longest
    with pytest.raises(TtnParseError):
        parse_topic("app@ttn", f"v3/app@ttn/devices/{too_long}/up")
    with pytest.raises(ValueError, match="invalid device ID"):
        downlink_topic("app@ttn", too_long, DownlinkMode.PUSH)
    message["end_device_ids"]["device_id"] = too_long
    with pytest.raises(TtnParseError, match="device_id is missing or invalid"):
        parse_application_up(message)


def test_downlink_statuses_are_what_automations_match() -> None:
    """The `status` of ttn_mqtt_downlink events, as the README lists them."""
    assert [status.value for status in DownlinkStatus] == [
        "queued",
        "sent",
        "ack",
        "nack",
        "failed",
        "invalidated",
    ]


def test_parse_captured_uplink() -> None:
    uplink = parse_payload(orjson.dumps(CAPTURED_UPLINK))
    assert isinstance(uplink, Uplink)
    assert uplink.device.device_id == "distance-03"
    assert uplink.device.application_id == "home-assistant-casa"
    assert uplink.device.dev_eui == "22D11357891CB769"
    assert uplink.device.join_eui == "70B3D57ED002E4B5"
    assert uplink.device.dev_addr == "260B7500"
    assert uplink.received_at == datetime(2024, 7, 6, 9, 19, 21, 381960, tzinfo=UTC)
    assert (uplink.f_port, uplink.f_cnt) == (1, 41)
    assert uplink.frm_payload == "AQAIAQAIAwIBNilnAPYqAgJYKwIPYCxlB9g="
    assert uplink.decoded_payload["gps_34"]["altitude"] == 310
    assert uplink.spreading_factor == 7
    assert uplink.consumed_airtime == pytest.approx(0.082176)
    assert uplink.best_gateway.gateway_id == "eui-a840411dbd104150"
    assert [(g.gateway_id, g.rssi, g.snr) for g in uplink.gateways] == [
        ("eui-a840411dbd104150", -54, 9),
        ("far-away", -110, -7.5),
    ]
    assert (uplink.version_ids.brand_id, uplink.version_ids.model_id) == (
        "dragino",
        "lht65",
    )
    location = uplink.locations["frm-payload"]
    assert (location.latitude, location.longitude) == (48.1, 9.2)
    assert not uplink.simulated
    assert not uplink.confirmed
    # The whole message, as received, for diagnostics and the store.
    assert uplink.raw == CAPTURED_UPLINK


def test_parse_version_ids() -> None:
    """Make, model and versions from the device repository: the device registry's."""
    message = copy.deepcopy(CAPTURED_UPLINK)
    message["uplink_message"]["version_ids"] = {
        "brand_id": "dragino",
        "model_id": "lht65",
        "hardware_version": "1.2",
        "firmware_version": "1.8",
        "band_id": "EU_863_870",
    }
    versions = parse_application_up(message).version_ids
    assert (
        versions.brand_id,
        versions.model_id,
        versions.hardware_version,
        versions.firmware_version,
    ) == ("dragino", "lht65", "1.2", "1.8")


def test_the_best_gateway_is_the_loudest() -> None:
    """Wherever it is in the list; the first one when none says how loud."""
    message = copy.deepcopy(CAPTURED_UPLINK)
    message["uplink_message"]["rx_metadata"] = [
        {"gateway_ids": {"gateway_id": "deaf"}},
        {"gateway_ids": {"gateway_id": "far"}, "rssi": -110},
        {"gateway_ids": {"gateway_id": "near"}, "rssi": -54},
        {"rssi": -120},
    ]
    uplink = parse_application_up(message)
    assert uplink.best_gateway.gateway_id == "near"
    # A gateway without its IDs is nameless, not an error.
    assert uplink.gateways[-1].gateway_id == ""
    message["uplink_message"]["rx_metadata"] = [
        {"gateway_ids": {"gateway_id": "first"}},
        {"gateway_ids": {"gateway_id": "second"}},
    ]
    assert parse_application_up(message).best_gateway.gateway_id == "first"


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
    assert uplink.version_ids is None
    assert uplink.device.application_id == ""


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
    assert (event.frm_payload, event.priority) == ("vu8=", "NORMAL")
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
            "downlinks": [{"f_port": 2}, {"f_port": 3}],
            "last_f_cnt_down": 3,
        },
    }
    event = parse_application_up(message)
    assert event.status is DownlinkStatus.INVALIDATED
    # The first of the dropped downlinks is the one reported.
    assert event.f_port == 2
    # The server leaves an empty list out.
    message["downlink_queue_invalidated"] = {"last_f_cnt_down": 3}
    assert parse_application_up(message).f_port is None


def test_parse_location_solved() -> None:
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
    assert solved.service == "lora-cloud-device-management-v1-wifi"
    assert (solved.location.latitude, solved.location.accuracy) == (52.1, 20)


def _up(**fields: Any) -> bytes:
    """Return an uplink of dev1 with these fields in its uplink_message."""
    return orjson.dumps(
        {"end_device_ids": {"device_id": "dev1"}, "uplink_message": fields}
    )


def _of_dev1(**body: Any) -> bytes:
    return orjson.dumps({"end_device_ids": {"device_id": "dev1"}, **body})


# What cannot be read, and why: the log says the reason (`Skipped a message of ...`).
BAD_PAYLOADS: dict[str, tuple[bytes, str]] = {
    "not json": (b"{not json", "not JSON"),
    "not an object": (b"[1, 2, 3]", "message is not an object"),
    "a string": (b'"uplink"', "message is not an object"),
    "no device ids": (b'{"uplink_message": {}}', "end_device_ids is not an object"),
    "device ids list": (
        b'{"end_device_ids": [], "uplink_message": {}}',
        "end_device_ids is not an object",
    ),
    "bad device id": (
        b'{"end_device_ids": {"device_id": "A/B"}, "uplink_message": {}}',
        "device_id is missing or invalid",
    ),
    "device id number": (
        b'{"end_device_ids": {"device_id": 7}, "uplink_message": {}}',
        "device_id is not a string",
    ),
    "unknown kind": (_of_dev1(), "no known ApplicationUp kind"),
    "uplink list": (_of_dev1(uplink_message=[]), "uplink_message is not an object"),
    "join number": (_of_dev1(join_accept=1), "join_accept is not an object"),
    "solved list": (_of_dev1(location_solved=[]), "location_solved is not an object"),
    "service data": (
        _of_dev1(service_data={"data": {}}),
        "message carries no known ApplicationUp kind",
    ),
    "invalidated not a list": (
        _of_dev1(downlink_queue_invalidated={"downlinks": {"f_port": 1}}),
        "downlinks is not an object",
    ),
    "f_port text": (_up(f_port="x"), "f_port is not an integer"),
    "f_cnt bool": (_up(f_cnt=True), "f_cnt is not an integer"),
    "frm_payload number": (_up(frm_payload=1), "frm_payload is not a string"),
    "decoded list": (_up(decoded_payload=[1]), "decoded_payload is not an object"),
    "rx_metadata object": (_up(rx_metadata={}), "rx_metadata is not a list"),
    "gateway list": (_up(rx_metadata=[[]]), "rx_metadata is not an object"),
    "rssi text": (_up(rx_metadata=[{"rssi": "x"}]), "rssi is not a number"),
    "version_ids list": (_up(version_ids=[]), "version_ids is not an object"),
    "bad time": (
        _of_dev1(received_at="yesterday", uplink_message={}),
        "received_at is not a timestamp",
    ),
    "bad airtime": (_up(consumed_airtime="long"), "consumed_airtime is not a duration"),
    "location not an object": (
        _up(locations={"a": [1, 2]}),
        "location is not an object",
    ),
    "latitude text": (
        _up(locations={"a": {"latitude": "north"}}),
        "latitude is not a number",
    ),
    "confirmed text": (_up(confirmed="yes"), "confirmed is not a boolean"),
    "deeply nested": (b'{"x": ' * 2000 + b"1" + b"}" * 2000, "not JSON"),
    "too large": (
        b'{"pad": "' + b"x" * MAX_MESSAGE_BYTES + b'"}',
        f"message of {MAX_MESSAGE_BYTES + 11} bytes is too large",
    ),
}


@pytest.mark.parametrize(
    ("payload", "reason"), BAD_PAYLOADS.values(), ids=BAD_PAYLOADS.keys()
)
def test_bad_input_raises_only_parse_error(payload: bytes, reason: str) -> None:
    with pytest.raises(TtnParseError, match=reason):
        parse_payload(payload)


def test_what_cannot_be_written_as_json_is_no_message() -> None:
    """A body decoded by another JSON reader (storage's) must be one orjson writes."""
    with pytest.raises(TtnParseError, match="not JSON"):
        parse_application_up(
            {"end_device_ids": {"device_id": "dev1"}, "uplink_message": {1, 2}}
        )


def test_the_largest_message_is_read() -> None:
    """MAX_MESSAGE_BYTES is the largest message read, not the smallest refused."""
    message = {
        "end_device_ids": {"device_id": "dev1"},
        "uplink_message": {"decoded_payload": {"pad": ""}},
    }
    pad = MAX_MESSAGE_BYTES - len(orjson.dumps(message))
    message["uplink_message"]["decoded_payload"]["pad"] = "x" * pad
    payload = orjson.dumps(message)
    assert len(payload) == MAX_MESSAGE_BYTES
    assert isinstance(parse_payload(payload), Uplink)


def test_a_location_left_at_zero_is_zero() -> None:
    """The server leaves zero values out: a missing coordinate is 0, not an error."""
    location = parse_location({"latitude": 51.48})
    assert (location.latitude, location.longitude) == (51.48, 0.0)
    location = parse_location({"longitude": -0.1, "altitude": 12.5, "source": "X"})
    assert (location.latitude, location.longitude) == (0.0, -0.1)
    assert (location.altitude, location.accuracy) == (12.5, None)


@pytest.mark.parametrize(
    ("received_at", "utc"),
    [
        ("2024-07-06T09:19:21.5Z", datetime(2024, 7, 6, 9, 19, 21, 500000, tzinfo=UTC)),
        # Another zone is the same instant, in UTC.
        (
            "2024-07-06T11:19:21.5+02:00",
            datetime(2024, 7, 6, 9, 19, 21, 500000, tzinfo=UTC),
        ),
        # Without a zone it is UTC, as the server means.
        ("2024-07-06T09:19:21.5", datetime(2024, 7, 6, 9, 19, 21, 500000, tzinfo=UTC)),
        # From LoRaWAN's start (2015) to a year no clock means; beyond, no time.
        ("2015-01-01T00:00:00Z", datetime(2015, 1, 1, tzinfo=UTC)),
        ("2014-12-31T23:59:59Z", None),
        ("0001-01-01T00:00:00Z", None),
        ("9000-01-01T00:00:00Z", datetime(9000, 1, 1, tzinfo=UTC)),
        ("9000-01-01T00:00:01Z", None),
    ],
)
def test_received_at_is_a_utc_instant(received_at: str, utc: datetime | None) -> None:
    uplink = parse_application_up(
        {
            "end_device_ids": _device_ids(),
            "received_at": received_at,
            "uplink_message": {},
        }
    )
    assert uplink.received_at == utc
    if utc is not None:
        assert uplink.received_at.utcoffset() == timedelta(0)


def test_a_field_never_read_may_have_any_type() -> None:
    """What the integration does not use cannot drop an uplink (issue #18).

    Frequency, bandwidth, coding rate, band and the gateway's and device's other IDs
    of another type than the server sends were once parsed, and the uplink dropped.
    """
    message = copy.deepcopy(CAPTURED_UPLINK)
    message["end_device_ids"]["join_eui"] = 7
    message["end_device_ids"]["dev_addr"] = ["260B7500"]
    up = message["uplink_message"]
    up["settings"]["frequency"] = {"mhz": 868.1}
    up["settings"]["data_rate"]["lora"]["bandwidth"] = "wide"
    up["settings"]["data_rate"]["lora"]["coding_rate"] = 5
    up["rx_metadata"][0]["gateway_ids"] = {"gateway_id": 42}
    up["rx_metadata"][1]["gateway_ids"] = "far-away"
    up["version_ids"] = {"brand_id": "dragino", "band_id": 1}
    up["locations"]["frm-payload"]["source"] = 3
    message["correlation_ids"] = "gs:uplink:01J23NEGJP1XSAFZQDQVD01HY8"
    uplink = parse_application_up(message)
    assert isinstance(uplink, Uplink)
    assert (
        uplink.decoded_payload == CAPTURED_UPLINK["uplink_message"]["decoded_payload"]
    )
    assert [(g.gateway_id, g.rssi) for g in uplink.gateways] == [("", -54), ("", -110)]
    assert uplink.device.join_eui is None
    assert uplink.version_ids is not None
    assert uplink.version_ids.brand_id == "dragino"


def test_parts_equal_to_the_previous_uplinks_are_taken_from_it() -> None:
    """What lives until the device's next uplink is less: equal parts are not kept twice."""
    first = parse_payload(orjson.dumps(CAPTURED_UPLINK))
    second = parse_payload(orjson.dumps(CAPTURED_UPLINK), first)
    assert isinstance(first, Uplink)
    assert isinstance(second, Uplink)
    assert second == first
    assert second.device is first.device
    assert second.version_ids is first.version_ids

    moved = copy.deepcopy(CAPTURED_UPLINK)
    moved["end_device_ids"]["dev_addr"] = "260B7501"
    moved["uplink_message"]["version_ids"]["firmware_version"] = "1.9"
    third = parse_payload(orjson.dumps(moved), second)
    assert isinstance(third, Uplink)
    assert third.device.dev_addr == "260B7501"
    assert third.version_ids is not None
    assert third.version_ids.firmware_version == "1.9"


def test_what_lives_on_is_what_the_garbage_collector_stops_tracking() -> None:
    """A ledger key lives for its overlap, a reception until the next uplink.

    Untracked, neither feeds a full collection.
    """
    uplink = parse_payload(orjson.dumps(CAPTURED_UPLINK))
    assert isinstance(uplink, Uplink)
    key = uplink_key(uplink)
    assert key == ("distance-03", 41, uplink.received_at)
    gc.collect()
    assert not gc.is_tracked(key)
    # So are an uplink's receptions, which live until the device's next uplink.
    assert uplink.receptions == (
        ("eui-a840411dbd104150", -54, 9),
        ("far-away", -110, -7.5),
    )
    # A tuple of tuples is untracked once its items are: by the collection after.
    gc.collect()
    assert not gc.is_tracked(uplink.receptions)
