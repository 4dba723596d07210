"""The simulated TTN application behaves like The Things Stack where ttn_mqtt relies on it."""

import base64
from collections.abc import AsyncIterator, Iterable
import dataclasses
import json
import os
from pathlib import Path
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from typing import Any

import aiohttp
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
import pytest

from ttn_sim import (
    RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE,
    RIGHT_APPLICATION_TRAFFIC_READ,
    Application,
    Broker,
    Network,
    SimDevice,
    broker as broker_module,
    generate_api_key,
)
from ttn_sim.broker import API_KEY_PATTERN
from ttn_sim.client import Subscriber

from .common import MqttWatcher, wait_for
from .storage_server import PATH, StorageServer

REPO_ROOT = Path(__file__).parent.parent
NANOS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
MICROS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
DURATION = re.compile(r"^\d+(\.\d{3}|\.\d{6}|\.\d{9})?s$")
CONNACK_ACCEPTED = b"\x20\x02\x00\x00"
CONNACK_NOT_AUTHORISED = b"\x20\x02\x00\x05"
ERROR_CORRELATION_ID = re.compile(r"^[0-9a-f]{32}$")
# Long enough for a message the broker would deliver to have arrived.
SETTLE = 0.3


def credentials(app: Application) -> tuple[str, str]:
    """Return the application's MQTT username and password."""
    return app.username, app.api_key


def raw_connect(broker: Broker, username: str, password: str) -> bytes:
    """Send a hand-made MQTT 3.1.1 CONNECT; return the CONNACK bytes as sent."""

    def field(value: str | bytes) -> bytes:
        data = value.encode() if isinstance(value, str) else value
        return len(data).to_bytes(2, "big") + data

    flags = 0b1100_0010  # username, password, clean session
    body = field("MQTT") + bytes([4, flags]) + (30).to_bytes(2, "big")
    body += field("raw-connect") + field(username) + field(password)
    length, remaining = b"", len(body)
    while True:
        remaining, digit = divmod(remaining, 128)
        length += bytes([digit | (0x80 if remaining else 0)])
        if not remaining:
            break
    with socket.create_connection((broker.host, broker.port), timeout=5) as sock:
        sock.sendall(b"\x10" + length + body)
        answer = b""
        while len(answer) < 4 and (chunk := sock.recv(4 - len(answer))):
            answer += chunk
    return answer


def paho_session(
    broker: Broker,
    username: str,
    password: str,
    *,
    subscribe: Iterable[str] = (),
    tls_context: ssl.SSLContext | None = None,
) -> dict[str, Any]:
    """Connect with paho (MQTT 3.1.1), subscribe; return the CONNACK and SUBACK codes."""
    topics = list(subscribe)
    result: dict[str, Any] = {}
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.username_pw_set(username, password)
    if tls_context is not None:
        client.tls_set_context(tls_context)

    def on_connect(client, userdata, flags, reason_code, properties):
        result["connack"] = reason_code
        if topics and not reason_code.is_failure:
            client.subscribe([(topic, 0) for topic in topics])
        else:
            done.set()

    def on_subscribe(client, userdata, mid, reason_codes, properties):
        result["suback"] = [code.value for code in reason_codes]
        done.set()

    client.on_connect, client.on_subscribe = on_connect, on_subscribe
    client.connect(broker.host, broker.tls_port if tls_context else broker.port)
    client.loop_start()
    try:
        assert done.wait(5), "no answer from the broker"
    finally:
        client.disconnect()
        client.loop_stop()
    return result


def push(
    watcher: MqttWatcher,
    app: Application,
    device_id: str,
    *downlinks: dict[str, Any],
    mode: str = "push",
) -> None:
    """Publish a downlink request as the application would."""
    topic = f"v3/{app.uid}/devices/{device_id}/down/{mode}"
    watcher.publish(topic, {"downlinks": list(downlinks)})


def downlink(correlation_id: str, **fields: Any) -> dict[str, Any]:
    """Return a downlink request carrying our own correlation id."""
    return {
        "f_port": 15,
        "frm_payload": "vu8=",
        "correlation_ids": [correlation_id],
    } | fields


def event(correlation_id: str, kind: str):
    """Match the `down/<kind>` event of the downlink with `correlation_id`."""

    def matches(topic: str, payload: Any) -> bool:
        return topic.endswith(f"/down/{kind}") and correlation_id in payload.get(
            "correlation_ids", []
        )

    return matches


def events_of(watcher: MqttWatcher, correlation_id: str) -> list[str]:
    """Return the kinds of events seen so far for one downlink, in arrival order."""
    return [
        topic.rsplit("/", 1)[1]
        for topic, payload in watcher.messages
        if "/down/" in topic and correlation_id in payload.get("correlation_ids", [])
    ]


# Connecting and rights


def test_wrong_api_key_is_refused_with_connack_5(broker: Broker, ttn_app: Application):
    assert (
        raw_connect(broker, ttn_app.username, generate_api_key())
        == CONNACK_NOT_AUTHORISED
    )
    assert (
        raw_connect(broker, "other-app@ttn", ttn_app.api_key) == CONNACK_NOT_AUTHORISED
    )
    wait_for(lambda: broker.count_refused() == 2)

    # paho 2 reports return code 5 under its MQTT 5 name (value 135).
    result = paho_session(broker, ttn_app.username, "NNSXS.not-the-key")
    assert result["connack"] == "Not authorized"
    assert result["connack"].is_failure
    assert broker.count_connects(ttn_app.username) == 0


def test_right_key_reads_only_its_own_application(broker: Broker, ttn_app: Application):
    assert raw_connect(broker, ttn_app.username, ttn_app.api_key) == CONNACK_ACCEPTED

    result = paho_session(
        broker,
        ttn_app.username,
        ttn_app.api_key,
        subscribe=["v3/other-app@ttn/#", f"v3/{ttn_app.uid}/#", "v3/+/devices/+/up"],
    )

    assert result["connack"] == "Success"
    assert result["suback"] == [0x80, 0x00, 0x80]
    wait_for(lambda: broker.count_connects(ttn_app.username) == 2)


def test_application_may_publish_only_downlink_requests(
    broker: Broker, ttn_app: Application, mqtt_watcher, app_watcher: MqttWatcher
):
    everything = mqtt_watcher("#")
    app_watcher.publish(f"v3/{ttn_app.uid}/devices/door-01/up", {"forged": True})
    push(app_watcher, ttn_app, "door-01", downlink("allowed"))

    everything.wait_for_sync("/devices/door-01/down/push")
    assert [topic for topic, _ in everything.messages] == [
        f"v3/{ttn_app.uid}/devices/door-01/down/push"
    ]
    # As on TTS, the application does not get its own requests back.
    assert not [topic for topic, _ in app_watcher.messages if topic.endswith("/push")]


def test_key_without_read_right_subscribes_but_receives_nothing(
    broker: Broker, network: Network, mqtt_watcher
):
    write_only = Application(
        "write-only-app", rights=frozenset({RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE})
    )
    broker.replace_application(write_only)
    broker.restart()
    assert network.wait_connected()

    # mqtt.go `Subscribe` checks the topic only: granted, except another app's.
    result = paho_session(
        broker,
        write_only.username,
        write_only.api_key,
        subscribe=[f"v3/{write_only.uid}/#", "v3/test-app@ttn/#"],
    )
    assert result["connack"] == "Success"
    assert result["suback"] == [0x00, 0x80]

    reader = mqtt_watcher(f"v3/{write_only.uid}/#", *credentials(write_only))
    everything = mqtt_watcher(f"v3/{write_only.uid}/#")
    network.publish_raw(f"v3/{write_only.uid}/devices/dev-1/up", "{}")
    everything.wait_for_sync("/dev-1/up")
    time.sleep(SETTLE)
    assert reader.messages == []

    # Writing is still allowed.
    push(reader, write_only, "dev-1", downlink("written"))
    everything.wait_for_sync("/dev-1/down/push")


def test_key_without_write_right_has_its_requests_dropped(
    broker: Broker, network: Network, ttn_app: Application, app_watcher: MqttWatcher
):
    read_only = dataclasses.replace(
        ttn_app, rights=frozenset({RIGHT_APPLICATION_TRAFFIC_READ})
    )
    broker.replace_application(read_only)
    broker.restart()
    assert network.wait_connected()
    app_watcher.wait_subscribed()

    # Acknowledged (publishing.go `HandlePublish`), then dropped (`Deliver`).
    request = {"downlinks": [downlink("dropped")]}
    info = app_watcher.client.publish(
        f"v3/{ttn_app.uid}/devices/door-01/down/push", json.dumps(request), qos=1
    )
    info.wait_for_publish(5)
    assert info.is_published()
    time.sleep(SETTLE)
    assert network.downlinks == []

    # Reading is still allowed.
    uplink = network.uplink("door-01")
    assert app_watcher.wait_for_sync("/door-01/up")[1] == uplink
    assert not [topic for topic, _ in app_watcher.messages if "/down/" in topic]


def test_key_without_any_right_is_refused_with_connack_5(broker: Broker):
    no_rights = Application("no-rights-app", rights=frozenset())
    # Any right on the application lets the key in (rights.RequireApplication).
    info_only = Application("info-app", rights=frozenset({"RIGHT_APPLICATION_INFO"}))
    broker.replace_application(no_rights)
    broker.replace_application(info_only)
    broker.restart()

    assert (
        raw_connect(broker, no_rights.username, no_rights.api_key)
        == CONNACK_NOT_AUTHORISED
    )
    assert raw_connect(broker, info_only.username, info_only.api_key) == (
        CONNACK_ACCEPTED
    )
    result = paho_session(
        broker, *credentials(info_only), subscribe=[f"v3/{info_only.uid}/#"]
    )
    assert result["suback"] == [0x00]


def test_refused_connections_get_connack_5_until_accepted_again(
    broker: Broker, network: Network, ttn_app: Application
):
    broker.refuse_connections(ttn_app)

    assert raw_connect(broker, *credentials(ttn_app)) == CONNACK_NOT_AUTHORISED
    # Only that application: the network server still gets in.
    assert network.wait_connected()
    wait_for(lambda: broker.count_refused() == 1)

    broker.refuse_connections(ttn_app, False)

    assert raw_connect(broker, *credentials(ttn_app)) == CONNACK_ACCEPTED
    assert network.wait_connected()


def test_tls_listener_is_signed_by_the_generated_ca(
    broker: Broker, ttn_app: Application
):
    trusting = ssl.create_default_context(cafile=str(broker.ca_file))
    result = paho_session(
        broker, ttn_app.username, ttn_app.api_key, tls_context=trusting
    )
    assert result["connack"] == "Success"

    for hostname in ("127.0.0.1", "localhost"):
        with (
            socket.create_connection((broker.host, broker.tls_port), timeout=5) as sock,
            trusting.wrap_socket(sock, server_hostname=hostname) as tls,
        ):
            assert tls.version()

    system_trust_only = ssl.create_default_context()
    with (
        socket.create_connection((broker.host, broker.tls_port), timeout=5) as sock,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        system_trust_only.wrap_socket(sock, server_hostname="127.0.0.1")


def test_restart_keeps_ports_andcredentials(
    broker: Broker, network: Network, ttn_app: Application, app_watcher: MqttWatcher
):
    ports = (broker.port, broker.tls_port)

    broker.kill()
    wait_for(lambda: not network.is_connected and not app_watcher.is_subscribed)
    broker.restart()

    assert (broker.port, broker.tls_port) == ports
    assert network.wait_connected()
    app_watcher.wait_subscribed()
    uplink = network.uplink("door-01")
    assert app_watcher.wait_for_sync("/devices/door-01/up")[1] == uplink
    assert broker.count_connects(ttn_app.username) == 2
    assert broker.count_connects(broker.network_username) == 2


def test_application_ids_and_api_keys_follow_ttn_rules():
    key = generate_api_key()
    assert API_KEY_PATTERN.match(key)
    assert len(key) == 98
    assert key != generate_api_key()

    assert Application("my-app", "").username == "my-app"
    assert Application("my-app", "acme").uid == "my-app@acme"
    for bad_id in ("ab", "My-App", "app--1", "-app", "app/1", "a" * 37):
        with pytest.raises(ValueError, match="invalid application id"):
            Application(bad_id)


# Uplinks and joins


def test_uplinks_arrive_with_the_documented_shape(
    network: Network, app_watcher: MqttWatcher, ttn_app: Application
):
    first = network.uplink("th-sensor-01")
    second = network.uplink("th-sensor-01")

    topic, received = app_watcher.wait_for_sync("/up")
    assert topic == f"v3/{ttn_app.uid}/devices/th-sensor-01/up"
    assert received == first
    assert app_watcher.wait_for_sync("/up")[1] == second

    ids = received["end_device_ids"]
    assert ids["device_id"] == "th-sensor-01"
    assert ids["application_ids"] == {"application_id": "test-app"}
    assert re.fullmatch(r"[0-9A-F]{16}", ids["dev_eui"])
    assert re.fullmatch(r"[0-9A-F]{16}", ids["join_eui"])
    assert re.fullmatch(r"[0-9A-F]{8}", ids["dev_addr"])
    assert received["correlation_ids"]
    assert NANOS.match(received["received_at"])

    up = received["uplink_message"]
    assert second["uplink_message"]["f_cnt"] == up["f_cnt"] + 1
    assert up["f_port"] == 2
    assert len(base64.b64decode(up["frm_payload"])) == 11
    assert set(up["decoded_payload"]) == {"temperature", "humidity", "battery"}
    assert NANOS.match(up["received_at"])
    assert DURATION.match(up["consumed_airtime"])
    assert up["version_ids"]["brand_id"] == "dragino"
    assert up["network_ids"]["tenant_id"] == "ttn"

    settings = up["settings"]
    assert isinstance(settings["frequency"], str)
    assert settings["frequency"].isdigit()
    assert set(settings["data_rate"]["lora"]) == {
        "bandwidth",
        "spreading_factor",
        "coding_rate",
    }
    assert 1 <= len(up["rx_metadata"]) <= 3
    for metadata in up["rx_metadata"]:
        assert set(metadata["gateway_ids"]) == {"gateway_id", "eui"}
        assert isinstance(metadata["rssi"], int)
        assert MICROS.match(metadata["time"])
        assert NANOS.match(metadata["received_at"])
        assert metadata["location"]["source"] == "SOURCE_REGISTRY"


def test_device_without_formatter_and_overrides(
    network: Network, app_watcher: MqttWatcher
):
    raw = network.uplink("raw-01")
    unformatted = network.uplink("th-sensor-01", decoded_payload=None)
    custom = network.uplink(
        "multi-01", {"custom": [1, None]}, f_port=99, frm_payload=None
    )

    assert app_watcher.wait_for_sync("/raw-01/up")[1] == raw
    assert "decoded_payload" not in raw["uplink_message"]
    assert raw["uplink_message"]["frm_payload"]
    assert "version_ids" not in raw["uplink_message"]
    assert "decoded_payload" not in unformatted["uplink_message"]
    assert custom["uplink_message"]["decoded_payload"] == {"custom": [1, None]}
    assert custom["uplink_message"]["f_port"] == 99
    assert "frm_payload" not in custom["uplink_message"]
    assert app_watcher.wait_for_sync("/multi-01/up")[1] == custom


def test_join_restarts_the_frame_counter(network: Network, app_watcher: MqttWatcher):
    before = network.uplink("door-01")
    join = network.join("door-01")
    after = network.uplink("door-01")
    later = network.uplink("door-01")

    assert app_watcher.wait_for_sync("/door-01/join")[1] == join
    assert NANOS.match(join["received_at"])
    session_key_id = join["join_accept"]["session_key_id"]
    assert session_key_id != before["uplink_message"]["session_key_id"]
    assert "f_cnt" not in after["uplink_message"]
    assert after["uplink_message"]["session_key_id"] == session_key_id
    assert after["end_device_ids"]["dev_addr"] == join["end_device_ids"]["dev_addr"]
    assert later["uplink_message"]["f_cnt"] == 1
    received = [app_watcher.wait_for_sync("/door-01/up")[1] for _ in range(3)]
    assert received == [before, after, later]


def test_device_added_while_running_sends_uplinks(
    network: Network, app_watcher: MqttWatcher
):
    network.add_device(SimDevice("new-sensor-01", "A8404100000000FF"))

    sent = network.uplink("new-sensor-01")

    assert app_watcher.wait_for_sync("/new-sensor-01/up")[1] == sent
    assert sent["uplink_message"]["f_cnt"] >= 1


def test_seed_makes_readings_repeatable_and_they_vary(
    broker: Broker, ttn_app: Application
):
    def readings(network: Network) -> list[Any]:
        return [
            network.build_uplink(device_id)["uplink_message"].get("decoded_payload")
            for device_id in network.devices
            for _ in range(3)
        ]

    first = readings(Network(broker, ttn_app, seed=7))
    assert first == readings(Network(broker, ttn_app, seed=7))
    tracker = [r for r in first if r and "latitude" in r]
    assert len({(fix["latitude"], fix["longitude"]) for fix in tracker}) == 3


def test_normalized_uplinks_go_to_up_normalized_first(
    broker: Broker, ttn_app: Application, app_watcher: MqttWatcher, mqtt_watcher
):
    uplinks_only = mqtt_watcher(f"v3/{ttn_app.uid}/devices/+/up")
    normalized_only = mqtt_watcher(f"v3/{ttn_app.uid}/devices/+/up/normalized")
    with Network(broker, ttn_app, seed=3, normalized=True) as network:
        uplink = network.uplink("th-sensor-01")
        door = network.uplink("door-01")

    decoded = uplink["uplink_message"]["decoded_payload"]
    measurement = {
        "air": {
            "temperature": decoded["temperature"],
            "relativeHumidity": decoded["humidity"],
        }
    }
    assert uplink["uplink_message"]["normalized_payload"] == [measurement]
    assert "normalized_payload" not in door["uplink_message"]

    topic, normalized = normalized_only.wait_for_sync()
    assert topic == f"v3/{ttn_app.uid}/devices/th-sensor-01/up/normalized"
    assert normalized["end_device_ids"] == uplink["end_device_ids"]
    assert normalized["correlation_ids"] == uplink["correlation_ids"]
    assert normalized["received_at"] == uplink["received_at"]
    fields = normalized["uplink_normalized"]
    assert fields["normalized_payload"] == measurement
    assert list(fields) == [
        "session_key_id",
        "f_port",
        "f_cnt",
        "frm_payload",
        "normalized_payload",
        "rx_metadata",
        "settings",
        "received_at",
        "consumed_airtime",
        "version_ids",
        "network_ids",
    ]
    assert fields["f_cnt"] == uplink["uplink_message"]["f_cnt"]

    # A filter gets only what it matches; `#` gets both, normalized first.
    assert [uplinks_only.wait_for_sync()[1] for _ in range(2)] == [uplink, door]
    prefix = f"v3/{ttn_app.uid}/devices/"
    # Another client: its copies may still be on their way.
    wait_for(lambda: len(app_watcher.messages) >= 3)
    assert [topic.removeprefix(prefix) for topic, _ in app_watcher.messages] == [
        "th-sensor-01/up/normalized",
        "th-sensor-01/up",
        "door-01/up",
    ]
    assert len(normalized_only.messages) == 1


def test_service_data_is_published_on_its_own_topic(
    network: Network, ttn_app: Application, app_watcher: MqttWatcher, mqtt_watcher
):
    uplinks_only = mqtt_watcher(f"v3/{ttn_app.uid}/devices/+/up")
    sent = network.service_data("gps-tracker-01", {"battery": 87})

    topic, received = app_watcher.wait_for_sync()
    assert topic == f"v3/{ttn_app.uid}/devices/gps-tracker-01/service/data"
    assert received == sent
    assert received["service_data"] == {
        "service": "lora-cloud-device-management-v1",
        "data": {"battery": 87},
    }
    assert NANOS.match(received["received_at"])
    network.uplink("gps-tracker-01")
    uplinks_only.wait_for_sync()
    assert len(uplinks_only.messages) == 1


# Downlinks


def test_confirmed_downlink_is_queued_sent_and_acknowledged(
    network: Network, app_watcher: MqttWatcher, ttn_app: Application
):
    request = downlink("ttn_mqtt:test-1", priority="NORMAL", confirmed=True)
    push(app_watcher, ttn_app, "door-01", request)

    for kind in ("queued", "sent", "ack"):
        _, body = app_watcher.wait_for_sync(event("ttn_mqtt:test-1", kind))
        assert body["end_device_ids"]["device_id"] == "door-01"
        assert body["correlation_ids"][0] == "ttn_mqtt:test-1"
        assert NANOS.match(body["received_at"])
        content = body[f"downlink_{kind}"]
        assert content["correlation_ids"][0] == "ttn_mqtt:test-1"
        assert content["correlation_ids"][1].startswith("as:downlink:")
        assert content["f_port"] == 15
        assert content["frm_payload"] == "vu8="
        assert content["confirmed"] is True
        assert content["priority"] == "NORMAL"
    assert events_of(app_watcher, "ttn_mqtt:test-1") == ["queued", "sent", "ack"]
    assert network.downlinks == [("door-01", "push", {"downlinks": [request]})]


def test_unconfirmed_downlink_is_sent_without_ack(
    network: Network, app_watcher: MqttWatcher, ttn_app: Application
):
    push(
        app_watcher,
        ttn_app,
        "door-01",
        downlink("unconfirmed"),
        downlink("confirmed-after", confirmed=True),
    )

    _, sent = app_watcher.wait_for_sync(event("unconfirmed", "sent"))
    # The next downlink's ack comes later than an ack of the first one could.
    app_watcher.wait_for_sync(event("confirmed-after", "ack"))
    assert events_of(app_watcher, "unconfirmed") == ["queued", "sent"]
    assert "confirmed" not in sent["downlink_sent"]


def test_nack_device_answers_nack(
    network: Network, app_watcher: MqttWatcher, ttn_app: Application
):
    network.devices["door-01"].downlink_behaviour = "nack"
    push(app_watcher, ttn_app, "door-01", downlink("nacked", confirmed=True))

    _, body = app_watcher.wait_for_sync(event("nacked", "nack"))
    assert body["downlink_nack"]["correlation_ids"][0] == "nacked"
    assert body["downlink_nack"]["confirmed_retry"] == {"attempt": 1}
    assert events_of(app_watcher, "nacked")[:3] == ["queued", "sent", "nack"]


def test_nacked_downlink_is_retried_then_dropped(
    broker: Broker, app_watcher: MqttWatcher, ttn_app: Application
):
    with Network(broker, ttn_app, confirmed_retry_attempts=2) as network:
        network.devices["door-01"].downlink_behaviour = "nack"
        push(app_watcher, ttn_app, "door-01", downlink("retried", confirmed=True))

        sent, nacks = [], []
        for _ in range(3):
            sent.append(app_watcher.wait_for_sync(event("retried", "sent"))[1])
            nacks.append(app_watcher.wait_for_sync(event("retried", "nack"))[1])
        wait_for(lambda: network.queue("door-01") == [])
        time.sleep(SETTLE)

    # Each nack counts the transmissions nacked so far; the third exceeds the two
    # retries allowed, and the downlink is dropped without down/failed.
    assert [n["downlink_nack"]["confirmed_retry"] for n in nacks] == [
        {"attempt": 1},
        {"attempt": 2},
        {"attempt": 3},
    ]
    assert events_of(app_watcher, "retried") == ["queued"] + ["sent", "nack"] * 3
    # A retry goes out with the attempt that was nacked, under a new frame counter.
    assert "confirmed_retry" not in sent[0]["downlink_sent"]
    assert [s["downlink_sent"].get("confirmed_retry") for s in sent[1:]] == [
        {"attempt": 1},
        {"attempt": 2},
    ]
    f_cnts = [s["downlink_sent"]["f_cnt"] for s in sent]
    assert f_cnts == [f_cnts[0], f_cnts[0] + 1, f_cnts[0] + 2]
    assert [n["downlink_nack"]["f_cnt"] for n in nacks] == f_cnts


def test_downlink_max_attempts_overrides_the_default(
    network: Network, app_watcher: MqttWatcher, ttn_app: Application
):
    network.devices["door-01"].downlink_behaviour = "nack"
    request = downlink("once", confirmed=True, confirmed_retry={"max_attempts": 1})
    push(app_watcher, ttn_app, "door-01", request)

    _, queued = app_watcher.wait_for_sync(event("once", "queued"))
    assert queued["downlink_queued"]["confirmed_retry"] == {"max_attempts": 1}
    nacks = [app_watcher.wait_for_sync(event("once", "nack"))[1] for _ in range(2)]
    wait_for(lambda: network.queue("door-01") == [])
    time.sleep(SETTLE)

    assert [n["downlink_nack"]["confirmed_retry"] for n in nacks] == [
        {"attempt": 1, "max_attempts": 1},
        {"attempt": 2, "max_attempts": 1},
    ]
    assert events_of(app_watcher, "once") == ["queued"] + ["sent", "nack"] * 2


def test_too_long_downlink_fails(
    network: Network, app_watcher: MqttWatcher, ttn_app: Application
):
    # gps-tracker-01 sends at DR0: 51 bytes at most.
    assert network.devices["gps-tracker-01"].max_downlink_size == 51
    too_long = base64.b64encode(bytes(52)).decode()
    fits = base64.b64encode(bytes(51)).decode()
    push(
        app_watcher,
        ttn_app,
        "gps-tracker-01",
        downlink("too-long", frm_payload=too_long),
        downlink("fits", frm_payload=fits),
    )

    _, failed = app_watcher.wait_for_sync(event("too-long", "failed"))
    app_watcher.wait_for_sync(event("fits", "sent"))
    report = failed["downlink_failed"]
    error = report.pop("error")
    assert ERROR_CORRELATION_ID.match(error.pop("correlation_id"))
    assert error == {
        "namespace": "pkg/networkserver",
        "name": "application_downlink_too_long",
        "message_format": (
            "application downlink payload length `{length}` exceeds maximum '{max}'"
        ),
        "attributes": {"length": 52, "max": 51},
        "code": 3,
    }
    assert report["downlink"]["frm_payload"] == too_long
    assert report["downlink"]["correlation_ids"][0] == "too-long"
    assert events_of(app_watcher, "too-long") == ["queued", "failed"]


def test_failing_device_reports_failed(
    network: Network, app_watcher: MqttWatcher, ttn_app: Application
):
    network.devices["raw-01"].downlink_behaviour = "fail"
    push(app_watcher, ttn_app, "raw-01", downlink("doomed", confirmed=True))

    _, failed = app_watcher.wait_for_sync(event("doomed", "failed"))
    error = failed["downlink_failed"]["error"]
    assert list(error) == [
        "namespace",
        "name",
        "message_format",
        "correlation_id",
        "cause",
        "code",
    ]
    assert (error["namespace"], error["name"], error["code"]) == (
        "pkg/gatewayserver",
        "schedule",
        10,
    )
    assert error["message_format"] == "failed to schedule"
    cause = error["cause"]
    assert (cause["namespace"], cause["name"], cause["code"]) == (
        "pkg/gatewayserver/scheduling",
        "too_late",
        9,
    )
    assert "{delta}" in cause["message_format"]
    assert set(cause["attributes"]) == {"delta"}
    assert events_of(app_watcher, "doomed") == ["queued", "failed"]


def test_decoded_payload_goes_through_the_simulated_encoder(
    network: Network, app_watcher: MqttWatcher, ttn_app: Application
):
    request = {"f_port": 3, "decoded_payload": {"on": True}, "correlation_ids": ["enc"]}
    push(app_watcher, ttn_app, "th-sensor-01", request)

    _, body = app_watcher.wait_for_sync(event("enc", "queued"))
    queued = body["downlink_queued"]
    assert base64.b64decode(queued["frm_payload"]) == b'{"on":true}'
    assert queued["decoded_payload"] == {"on": True}


def test_both_payloads_send_frm_payload(
    network: Network, app_watcher: MqttWatcher, ttn_app: Application
):
    request = downlink("both", decoded_payload={"on": True})
    push(app_watcher, ttn_app, "th-sensor-01", request)

    _, body = app_watcher.wait_for_sync(event("both", "sent"))
    assert body["downlink_sent"]["frm_payload"] == "vu8="


def test_invalid_requests_publish_nothing(
    network: Network, app_watcher: MqttWatcher, ttn_app: Application
):
    topic = f"v3/{ttn_app.uid}/devices/door-01/down/push"
    app_watcher.publish(topic, "not json")
    invalid = [
        downlink("port-224", f_port=224),
        downlink("port-256", f_port=256),
        downlink("priority", priority="URGENT"),
        downlink("x" * 101),
        downlink("retries", confirmed_retry={"max_attempts": 0}),
        {"f_port": 3, "correlation_ids": ["no-payload"]},
    ]
    for request in invalid:
        push(app_watcher, ttn_app, "door-01", request)
    # One bad downlink refuses the whole request.
    push(app_watcher, ttn_app, "door-01", downlink("fine"), downlink("bad", f_port=224))
    push(app_watcher, ttn_app, "no-such-device", downlink("unknown"))
    push(app_watcher, ttn_app, "door-01", downlink("valid"))

    app_watcher.wait_for_sync(event("valid", "queued"))
    assert [topic for topic, _ in app_watcher.messages] == [
        f"v3/{ttn_app.uid}/devices/door-01/down/queued"
    ]
    assert [reason for _, reason in network.rejected] == [
        "payload is not JSON",
        "invalid f_port 224",
        "invalid f_port 256",
        "invalid priority 'URGENT'",
        "correlation_ids is not a list of short strings",
        "confirmed_retry.max_attempts 0 out of range",
        "no_payload",
        "invalid f_port 224",
        "unknown device",
    ]


def test_f_port_0_fails_every_downlink_of_the_request(
    network: Network, app_watcher: MqttWatcher, ttn_app: Application
):
    push(
        app_watcher,
        ttn_app,
        "door-01",
        downlink("with-port"),
        downlink("port-0", f_port=0),
    )

    failed = [app_watcher.wait_for_sync("/down/failed")[1] for _ in range(2)]
    for body, correlation_id in zip(failed, ("with-port", "port-0"), strict=True):
        report = body["downlink_failed"]
        assert report["downlink"]["correlation_ids"][0] == correlation_id
        assert report["downlink"]["correlation_ids"][1].startswith("as:downlink:")
        assert "f_cnt" not in report["downlink"]
        error = report["error"]
        assert (error["namespace"], error["name"], error["code"]) == (
            "pkg/applicationserver",
            "no_f_port",
            3,
        )
    assert network.queue("door-01") == []
    assert not [t for t, _ in app_watcher.messages if t.endswith("/down/queued")]


def test_empty_and_long_payloads_are_queued(
    network: Network, app_watcher: MqttWatcher, ttn_app: Application
):
    # door-01 sends at DR3: 115 bytes at most; the API itself sets no maximum.
    too_big = base64.b64encode(bytes(300)).decode()
    push(
        app_watcher,
        ttn_app,
        "door-01",
        downlink("empty", frm_payload=""),
        downlink("too-big", frm_payload=too_big),
    )

    _, queued = app_watcher.wait_for_sync(event("empty", "queued"))
    assert "frm_payload" not in queued["downlink_queued"]
    assert "priority" not in queued["downlink_queued"]  # LOWEST, the zero value
    app_watcher.wait_for_sync(event("empty", "sent"))
    _, failed = app_watcher.wait_for_sync(event("too-big", "failed"))
    assert failed["downlink_failed"]["error"]["attributes"] == {
        "length": 300,
        "max": 115,
    }
    assert events_of(app_watcher, "too-big") == ["queued", "failed"]


def test_replace_with_empty_list_clears_a_held_queue(
    broker: Broker, app_watcher: MqttWatcher, ttn_app: Application
):
    with Network(broker, ttn_app, auto_send=False) as network:
        push(app_watcher, ttn_app, "multi-01", downlink("held-1"), downlink("held-2"))
        app_watcher.wait_for_sync(event("held-2", "queued"))
        held = network.queue("multi-01")
        assert [d["correlation_ids"][0] for d in held] == ["held-1", "held-2"]

        push(app_watcher, ttn_app, "multi-01", mode="replace")
        wait_for(lambda: len(network.downlinks) == 2)
        assert network.queue("multi-01") == []

        # Class A: only an uplink lets a downlink out, and nothing is left to send.
        network.uplink("multi-01")
        push(app_watcher, ttn_app, "multi-01", downlink("after-replace"))
        app_watcher.wait_for_sync(event("after-replace", "queued"))
        assert events_of(app_watcher, "after-replace") == ["queued"]
        network.uplink("multi-01")
        app_watcher.wait_for_sync(event("after-replace", "sent"))

    sent = [p for t, p in app_watcher.messages if t.endswith("/down/sent")]
    assert [body["correlation_ids"][0] for body in sent] == ["after-replace"]


def test_replace_swaps_the_queue(
    broker: Broker, app_watcher: MqttWatcher, ttn_app: Application
):
    with Network(broker, ttn_app, auto_send=False) as network:
        push(app_watcher, ttn_app, "door-01", downlink("old"))
        push(app_watcher, ttn_app, "door-01", downlink("new"), mode="replace")
        app_watcher.wait_for_sync(event("new", "queued"))

        assert [d["correlation_ids"][0] for d in network.queue("door-01")] == ["new"]
        assert [mode for _, mode, _ in network.downlinks] == ["push", "replace"]


# The Storage Integration


@pytest.fixture
async def storage(
    socket_enabled: None, ttn_app: Application
) -> AsyncIterator[StorageServer]:
    """A local Storage Integration holding five uplinks, a minute apart."""
    server = StorageServer(ttn_app.app_id, ttn_app.api_key)
    for minute in (3, 1, 4, 0, 2):
        server.store(
            {
                "end_device_ids": {"device_id": f"dev-{minute}"},
                "received_at": f"2024-07-06T09:0{minute}:00Z",
                "uplink_message": {"f_port": 1},
            }
        )
    await server.start()
    yield server
    await server.stop()


async def fetch(
    storage: StorageServer, event_stream: bool = True, **query: str
) -> tuple[int, dict[str, str], bytes]:
    """Ask the storage as the integration does; return status, headers and body."""
    headers = {"Authorization": f"Bearer {storage.api_key}"}
    if event_stream:
        headers["Accept"] = "text/event-stream"
    url = storage.url + PATH.format(app_id=storage.app_id)
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, params=query, headers=headers) as response,
    ):
        return response.status, dict(response.headers), await response.read()


def device_ids(body: bytes, delimiter: bytes = b"\n\n") -> list[str]:
    """Return the device ids of the records in a body, checking the delimiter."""
    assert body.endswith(delimiter)
    records = body[: -len(delimiter)].split(delimiter)
    return [orjson.loads(r)["result"]["end_device_ids"]["device_id"] for r in records]


async def test_storage_separates_event_stream_records_by_a_blank_line(
    storage: StorageServer,
):
    status, headers, body = await fetch(storage)
    assert status == 200
    assert headers["Content-Type"] == "text/event-stream"
    assert device_ids(body) == ["dev-3", "dev-1", "dev-4", "dev-0", "dev-2"]

    _, headers, body = await fetch(storage, event_stream=False)
    assert headers["Content-Type"] == "application/json"
    assert device_ids(body, b"\n") == ["dev-3", "dev-1", "dev-4", "dev-0", "dev-2"]
    assert storage.answered == 2


async def test_storage_pages_with_limit_after_and_order(storage: StorageServer):
    _, _, first = await fetch(storage, order="received_at", limit="2")
    assert device_ids(first) == ["dev-0", "dev-1"]
    _, _, second = await fetch(
        storage, order="received_at", limit="2", after="2024-07-06T09:01:00Z"
    )
    assert device_ids(second) == ["dev-2", "dev-3"]
    _, _, newest = await fetch(storage, order="-received_at", limit="1")
    assert device_ids(newest) == ["dev-4"]
    assert storage.requests[1] == {
        "order": "received_at",
        "limit": "2",
        "after": "2024-07-06T09:01:00Z",
    }


async def test_storage_stream_can_break_after_some_records(storage: StorageServer):
    storage.error_after = 2

    status, _, body = await fetch(storage, order="received_at")

    assert status == 200
    *records, error = body.removesuffix(b"\n\n").split(b"\n\n")
    assert [orjson.loads(r)["result"]["received_at"][14:16] for r in records] == [
        "00",
        "01",
    ]
    assert orjson.loads(error) == {
        "error": {"code": 14, "message": "storage unavailable", "details": []}
    }
    assert storage.answered == 0


async def test_storage_rate_limits_some_requests(storage: StorageServer):
    storage.rate_limited = 2
    storage.rate_limit_retry = 7

    for _ in range(2):
        status, headers, body = await fetch(storage)
        assert status == 429
        assert headers["X-Rate-Limit-Retry"] == "7"
        assert "Retry-After" not in headers
        assert orjson.loads(body) == {
            "code": 8,
            "message": "rate limit exceeded",
            "details": [],
        }
    status, _, _ = await fetch(storage)
    assert status == 200
    assert len(storage.requests) == 3


# The command


def test_command_runs_and_stops_cleanly_on_sigint(socket_enabled: None, tmp_path: Path):
    state_file = tmp_path / "state.json"
    api_key = generate_api_key()
    command = [
        sys.executable,
        "-m",
        "ttn_sim",
        "--app-id",
        "cli-app",
        "--api-key",
        api_key,
    ]
    command += ["--interval", "0.05", "--state-file", str(state_file)]
    # Output goes to files: a pipe that nobody reads while the command runs could
    # fill up and stall it.
    with (tmp_path / "out").open("w") as out, (tmp_path / "err").open("w") as err:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=out, stderr=err)
    broker_pid = None
    try:
        wait_for(lambda: state_file.exists() or process.poll() is not None, timeout=15)
        info = json.loads(state_file.read_text())
        broker_pid = info["broker_pid"]
        assert info["api_key"] == api_key
        assert info["username"] == "cli-app@ttn"
        assert Path(info["ca_file"]).exists()

        uplink = _first_uplink(info)
        assert uplink["end_device_ids"]["application_ids"] == {
            "application_id": "cli-app"
        }

        process.send_signal(signal.SIGINT)
        wait_for(lambda: process.poll() is not None, timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if broker_pid is not None and _alive(broker_pid):
            os.kill(broker_pid, signal.SIGKILL)
            pytest.fail("mosquitto outlived the command")

    stdout = (tmp_path / "out").read_text()
    assert process.returncode == 0, (tmp_path / "err").read_text()
    assert f"api_key: {api_key}" in stdout
    assert f"port: {info['port']}" in stdout
    assert f"tls_port: {info['tls_port']}" in stdout
    assert "Stopped." in stdout
    assert not state_file.exists()
    assert not Path(info["ca_file"]).exists()


def _first_uplink(info: dict[str, Any]) -> dict[str, Any]:
    """Connect as the command's application and return the first uplink seen."""
    received: list[dict[str, Any]] = []
    arrived = threading.Event()

    def on_message(message: mqtt.MQTTMessage) -> None:
        received.append(json.loads(message.payload))
        arrived.set()

    application = Subscriber(
        info["host"],
        info["port"],
        info["username"],
        info["api_key"],
        topics=[f"v3/{info['username']}/devices/+/up"],
        on_message=on_message,
    )
    try:
        assert application.start(), "could not subscribe to the command's uplinks"
        assert arrived.wait(5), "no uplink from the command"
    finally:
        application.stop()
    return received[0]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_port_taken_before_mosquitto_binds_it_is_chosen_again(
    socket_enabled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel's free port is free only when asked: another process may take it.

    The rare "1 error" of the suite: a broker fixture failed with "Address already in
    use" (two ports chosen alike, or one taken meanwhile). Here a port is held by
    someone else when mosquitto starts; the broker chooses again and starts.
    """
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        choices = iter([[port, port + 1 if port < 65535 else port - 1]])
        real = broker_module._free_ports
        monkeypatch.setattr(
            broker_module,
            "_free_ports",
            lambda count: next(choices, None) or real(count),
        )
        with Broker([Application("port-app")]) as broker:
            assert broker.is_running
            assert broker.port != port


def test_free_ports_are_all_different(socket_enabled: None) -> None:
    for _ in range(50):
        ports = broker_module._free_ports(2)
        assert len(set(ports)) == 2
