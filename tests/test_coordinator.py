"""The live connection: setup, uplinks, reconnecting, bad input, stalls and restarts."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
import json
import logging
import time
from typing import Any

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import orjson
import paho.mqtt.client as mqtt
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator
from yarl import URL

from custom_components.ttn_mqtt import backfill, link
from custom_components.ttn_mqtt.const import (
    CONF_API_KEY,
    CONF_CA_PEM,
    CONF_PORT,
    CONF_USE_TLS,
    DOMAIN,
    EVENT_UPLINK,
    LINK_GRACE,
)
from custom_components.ttn_mqtt.protocol.session import (
    READ_CHUNK,
    SessionState,
    _BufferedClient,
)
from custom_components.ttn_mqtt.protocol.topics import subscription_topics
from custom_components.ttn_mqtt.sensor import TtnFieldSensor
from ttn_sim.broker import generate_api_key

from .common import async_wait_for, registry_device
from .uplinks import end_device, send_downlink, uplink_and_wait

pytestmark = pytest.mark.usefixtures("socket_enabled")

CONNECTIVITY = "binary_sensor.test_app_connection"


async def test_uplink_arrives_within_a_second(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """An uplink on the broker is in the coordinator, and on the bus, within 1 s."""
    coordinator = init_integration.runtime_data
    events = async_capture_events(hass, EVENT_UPLINK)

    sent = network.uplink("th-sensor-01", decoded_payload={"temperature": 21.5})
    await async_wait_for(lambda: events, timeout=1.0)

    device = coordinator.devices["th-sensor-01"]
    assert device.uplink.f_cnt == sent["uplink_message"].get("f_cnt")
    assert device.fields["temperature"] == 21.5
    data = events[0].data
    assert data["ttn_device_id"] == "th-sensor-01"
    assert data["application_id"] == "test-app"
    assert data["decoded_payload"] == {"temperature": 21.5}
    assert data["f_port"] == sent["uplink_message"]["f_port"]
    assert data["frm_payload"] == sent["uplink_message"]["frm_payload"]
    assert data["rssi"] is not None
    assert data["simulated"] is False
    assert data["backfilled"] is False

    registry = dr.async_get(hass)
    ha_device = registry.async_get(data["device_id"])
    assert ha_device.name == "th-sensor-01"
    assert ha_device.serial_number == sent["end_device_ids"]["dev_eui"]
    application = registry.async_get(ha_device.via_device_id)
    assert application.name == "test-app"
    assert application.serial_number == "70B3D57ED0000000"


async def test_the_session_reads_the_socket_in_large_pieces(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    network,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The session's override of paho's private _sock_recv still takes effect.

    paho has no public hook for its reads: should a paho release rename the method or
    stop reading through it, the override would be silently skipped (and bursts lost).
    """
    reads: list[int] = []
    paho_read = mqtt.Client._sock_recv

    def counting_read(client: mqtt.Client, bufsize: int) -> bytes:
        # The simulator's clients are paho's too.
        if isinstance(client, _BufferedClient):
            reads.append(bufsize)
        return paho_read(client, bufsize)

    monkeypatch.setattr(mqtt.Client, "_sock_recv", counting_read)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await uplink_and_wait(hass, network, "door-01")

    # Every read of paho's own goes through the override, which asks for a chunk.
    assert reads
    assert set(reads) == {READ_CHUNK}
    await hass.config_entries.async_unload(config_entry.entry_id)


async def test_version_ids_name_manufacturer_and_model(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """A device's make and model come from its uplink's version_ids, as people write them."""
    sent = network.uplink(
        "th-sensor-01",
        version_ids={
            "brand_id": "dragino",
            "model_id": "lht65",
            # What the console writes when the hardware version was not chosen.
            "hardware_version": "_unknown_hw_version_",
            "firmware_version": "1.8",
        },
    )
    coordinator = init_integration.runtime_data
    await async_wait_for(lambda: "th-sensor-01" in coordinator.devices)
    ha_device = registry_device(hass, coordinator.device_identifier("th-sensor-01"))
    assert sent["uplink_message"]["version_ids"]["brand_id"] == "dragino"
    assert (
        ha_device.manufacturer,
        ha_device.model,
        ha_device.hw_version,
        ha_device.sw_version,
    ) == ("Dragino", "LHT65", None, "1.8")


async def test_make_and_model_follow_a_join(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """A device first seen by its join gets its make and model with its first uplink."""
    coordinator = init_integration.runtime_data
    network.join("th-sensor-01")
    await async_wait_for(lambda: "th-sensor-01" in coordinator.devices)
    await uplink_and_wait(
        hass,
        network,
        "th-sensor-01",
        version_ids={"brand_id": "dragino", "model_id": "lht65"},
    )
    ha_device = registry_device(hass, coordinator.device_identifier("th-sensor-01"))
    assert (ha_device.manufacturer, ha_device.model) == ("Dragino", "LHT65")


async def test_a_time_without_its_zone_is_utc(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """received_at without a zone is taken as UTC, as the server means it."""
    message = network.build_uplink("door-01")
    message["received_at"] = "2026-07-06T09:19:21.123"
    network.publish_raw(f"v3/{network.uid}/devices/door-01/up", json.dumps(message))
    await async_wait_for(
        lambda: hass.states.get("sensor.door_01_last_seen") is not None
    )
    assert hass.states.get("sensor.door_01_last_seen").state == (
        "2026-07-06T09:19:21+00:00"
    )


async def test_an_uplink_without_received_at_is_applied(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """Each one: with no time to tell it by, it is no duplicate of another."""
    coordinator = init_integration.runtime_data
    events = async_capture_events(hass, EVENT_UPLINK)
    for temperature in (20.5, 21.5, 21.5):
        message = network.build_uplink("th-sensor-01", {"temperature": temperature})
        del message["received_at"]
        network.publish_raw(
            f"v3/{network.uid}/devices/th-sensor-01/up", json.dumps(message)
        )
    await async_wait_for(lambda: len(events) == 3)
    assert coordinator.counters.uplinks == 3
    assert coordinator.counters.duplicates == 0
    assert hass.states.get("sensor.th_sensor_01_temperature").state == "21.5"
    # Stamped when it arrived.
    received_at = datetime.fromisoformat(events[-1].data["received_at"])
    assert abs(received_at - dt_util.utcnow()) < timedelta(seconds=5)


async def test_a_device_id_of_36_characters_works_37_is_refused(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """The Things Stack's longest device ID gets its device, entities and downlinks."""
    coordinator = init_integration.runtime_data
    longest, too_long = "long-" + "d" * 31, "long-" + "d" * 32
    for device_id in (too_long, longest):
        message = network.build_uplink("th-sensor-01", {"temperature": 19.5})
        message["end_device_ids"]["device_id"] = device_id
        network.publish_raw(
            f"v3/{network.uid}/devices/{device_id}/up", json.dumps(message)
        )
    await async_wait_for(lambda: coordinator.counters.uplinks == 1)
    assert list(coordinator.devices) == [longest]
    assert coordinator.counters.malformed == 1
    temperature = f"sensor.{longest.replace('-', '_')}_temperature"
    await async_wait_for(lambda: hass.states.get(temperature) is not None)
    assert hass.states.get(temperature).state == "19.5"

    ha_device = registry_device(hass, coordinator.device_identifier(longest))
    assert ha_device.name == longest
    await send_downlink(hass, device_id=ha_device.id, payload="01")
    await async_wait_for(lambda: network.downlinks)
    assert network.downlinks[0][:2] == (longest, "push")


async def test_an_entity_that_fails_leaves_the_others_and_the_session(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    network,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A defect in one entity is logged; the device's other entities still update."""
    original = TtnFieldSensor._refresh

    def refresh(self: TtnFieldSensor, device: Any) -> Any:
        if self.field == "humidity":
            raise RuntimeError("defect")
        return original(self, device)

    await uplink_and_wait(
        hass,
        network,
        "th-sensor-01",
        decoded_payload={"temperature": 20.0, "humidity": 49},
    )
    monkeypatch.setattr(TtnFieldSensor, "_refresh", refresh)
    await uplink_and_wait(
        hass,
        network,
        "th-sensor-01",
        decoded_payload={"temperature": 21.0, "humidity": 50},
    )
    assert hass.states.get("sensor.th_sensor_01_temperature").state == "21.0"
    assert "Error updating an entity of th-sensor-01" in caplog.text
    await uplink_and_wait(
        hass, network, "th-sensor-01", decoded_payload={"temperature": 22.0}
    )
    assert hass.states.get("sensor.th_sensor_01_temperature").state == "22.0"


async def test_broker_restart_reconnects_and_resubscribes(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    broker,
    network,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The session comes back after the broker dies, with one log line each way."""
    coordinator = init_integration.runtime_data
    assert hass.states.get(CONNECTIVITY).state == "on"
    caplog.set_level(logging.INFO, logger="custom_components.ttn_mqtt")

    broker.kill()
    await async_wait_for(lambda: hass.states.get(CONNECTIVITY).state == "off")
    # Let the session fail a few reconnects while the broker is down.
    await asyncio.sleep(1.5)
    broker.restart()
    await async_wait_for(
        lambda: hass.states.get(CONNECTIVITY).state == "on", timeout=10
    )

    await async_wait_for(lambda: _uplink_gets_through(network, coordinator), timeout=10)
    lost = [r for r in caplog.records if "Lost the connection" in r.getMessage()]
    back = [r for r in caplog.records if "Reconnected" in r.getMessage()]
    assert len(lost) == 1
    assert len(back) == 1
    assert coordinator.session.stats.reconnects >= 2


def _uplink_gets_through(network, coordinator) -> bool:
    """Publish an uplink and report whether an earlier one arrived."""
    device = coordinator.devices.get("door-01")
    if device is not None and device.uplink is not None:
        return True
    network.uplink("door-01")
    return False


async def test_entities_unavailable_only_after_grace(
    hass: HomeAssistant, init_integration: MockConfigEntry, broker, network
) -> None:
    """A quick reconnect does not flap entities; a long outage makes them unavailable."""
    coordinator = init_integration.runtime_data
    network.uplink("th-sensor-01")
    await async_wait_for(lambda: "th-sensor-01" in coordinator.devices)
    broker.kill()
    await async_wait_for(lambda: not coordinator.connected)
    assert coordinator.link_available
    async_fire_time_changed(hass, dt_util.utcnow() + LINK_GRACE)
    await hass.async_block_till_done()
    assert not coordinator.link_available
    broker.restart()
    await async_wait_for(lambda: coordinator.connected, timeout=10)
    assert coordinator.link_available


async def test_wrong_key_starts_reauth_without_retrying(
    hass: HomeAssistant, config_entry: MockConfigEntry, broker, ttn_app
) -> None:
    """A wrong API key at setup asks the user for a new one and does not hammer the server."""
    wrong_key = "NNSXS." + "A" * 39 + "." + "B" * 52
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, CONF_API_KEY: wrong_key}
    )
    assert not await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    await asyncio.sleep(1.0)
    assert broker.count_refused() == 1


async def test_key_revoked_while_running_starts_reauth(
    hass: HomeAssistant, init_integration: MockConfigEntry, broker, ttn_app
) -> None:
    """A key refused on a reconnect leads to re-authentication and no retry loop."""
    coordinator = init_integration.runtime_data
    broker.replace_application(replace(ttn_app, api_key=generate_api_key()))
    broker.restart()
    await async_wait_for(
        lambda: hass.config_entries.flow.async_progress_by_handler(DOMAIN), timeout=10
    )
    refused = broker.count_refused()
    await asyncio.sleep(1.0)
    # Confirmed by the Identity Server (401), the session stopped: no retry loop.
    assert broker.count_refused() == refused
    assert refused <= 3
    assert not coordinator.connected


async def test_a_refusal_of_a_known_key_is_no_reauth(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    broker,
    network,
    ttn_app,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CONNACK 5 while the Identity Server knows the key: reconnect, say it, no reauth.

    The Things Stack answers CONNACK 5 for any error while it sets a connection up
    (mystique connect.go), its Identity Server out of reach included.
    """
    monkeypatch.setattr(link, "REFUSAL_ISSUE_AFTER", 0.5)
    coordinator = init_integration.runtime_data
    await hass.async_add_executor_job(broker.refuse_connections, ttn_app, True)
    await async_wait_for(lambda: broker.count_refused() >= 3, timeout=10)
    issue_id = f"refused_by_server_{init_integration.entry_id}"
    await async_wait_for(
        lambda: ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    )
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    said = [r for r in caplog.records if "a problem on the server's side" in r.message]
    assert len(said) == 1
    assert ttn_app.api_key not in caplog.text

    await hass.async_add_executor_job(broker.refuse_connections, ttn_app, False)
    await async_wait_for(lambda: coordinator.connected, timeout=10)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    await uplink_and_wait(hass, network, "door-01")


async def test_a_refusal_with_the_identity_server_down_is_no_reauth(
    hass: HomeAssistant, init_integration: MockConfigEntry, broker, auth_info, ttn_app
) -> None:
    """Neither the MQTT server nor the Identity Server can tell: keep reconnecting."""
    coordinator = init_integration.runtime_data
    auth_info.unreachable = True
    await hass.async_add_executor_job(broker.refuse_connections, ttn_app, True)
    await async_wait_for(lambda: auth_info.requests >= 1, timeout=10)
    await async_wait_for(lambda: broker.count_refused() >= 3, timeout=10)
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    await hass.async_add_executor_job(broker.refuse_connections, ttn_app, False)
    await async_wait_for(lambda: coordinator.connected, timeout=10)


async def test_a_refusal_at_setup_with_a_known_key_is_not_ready(
    hass: HomeAssistant, config_entry: MockConfigEntry, broker, ttn_app
) -> None:
    """At setup too, a key the Identity Server knows is retried, not re-entered."""
    await hass.async_add_executor_job(broker.refuse_connections, ttn_app, True)
    assert not await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)


async def test_broker_down_at_setup_is_not_ready(
    hass: HomeAssistant, config_entry: MockConfigEntry, broker
) -> None:
    """A temporary failure at setup lets Home Assistant retry later."""
    broker.stop()
    assert not await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY
    await hass.config_entries.async_unload(config_entry.entry_id)


async def test_tls_with_own_ca(
    hass: HomeAssistant, config_entry, broker, network
) -> None:
    """A self-hosted stack's CA is used to verify the server over TLS."""
    hass.config_entries.async_update_entry(
        config_entry,
        data={
            **config_entry.data,
            CONF_PORT: broker.tls_port,
            CONF_USE_TLS: True,
            CONF_CA_PEM: broker.ca_file.read_text(),
        },
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    network.uplink("door-01")
    coordinator = config_entry.runtime_data
    await async_wait_for(lambda: "door-01" in coordinator.devices)
    assert await hass.config_entries.async_unload(config_entry.entry_id)


async def test_tls_refuses_an_untrusted_server(
    hass: HomeAssistant, config_entry, broker
) -> None:
    """Without the CA, the system trust store refuses the simulator's certificate."""
    hass.config_entries.async_update_entry(
        config_entry,
        data={**config_entry.data, CONF_PORT: broker.tls_port, CONF_USE_TLS: True},
    )
    assert not await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY
    await hass.config_entries.async_unload(config_entry.entry_id)


def _burst_of_large_uplinks(network, ttn_app, count: int = 300) -> None:
    """Publish one uplink from each of `count` devices, each heard by 64 gateways.

    64 gateways make an uplink about 25 KB, as in a dense city: large enough that the
    burst overflows the loopback socket buffers, so a client that stops reading loses
    uplinks to the server's 64-message limit (test_a_stalled_reader_loses_uplinks).
    """
    template = network.build_uplink("th-sensor-01")
    gateway = template["uplink_message"]["rx_metadata"][0]
    template["uplink_message"]["rx_metadata"] = [
        {**gateway, "gateway_ids": {"gateway_id": f"gw-{index}"}} for index in range(64)
    ]
    for index in range(count):
        device_id = f"stall-{index:03d}"
        template["end_device_ids"]["device_id"] = device_id
        network.publish_raw(
            f"v3/{ttn_app.uid}/devices/{device_id}/up", orjson.dumps(template)
        )


async def test_event_loop_stall_loses_no_uplink(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, ttn_app
) -> None:
    """300 uplinks from 300 devices while the event loop is blocked for 2 s all arrive."""
    coordinator = init_integration.runtime_data
    sender = hass.loop.run_in_executor(None, _burst_of_large_uplinks, network, ttn_app)
    # The point of the test: keep the event loop busy for 2 s.
    busy_until = time.monotonic() + 2
    while time.monotonic() < busy_until:
        pass
    await sender
    # 300 new devices, each registered with its entities, on a machine that may be
    # shared: a bound for a slow machine, not a speed target (the benchmark has those).
    await async_wait_for(lambda: len(coordinator.devices) >= 300, timeout=45)
    assert coordinator.counters.uplinks == 300
    assert coordinator.counters.malformed == 0


def test_a_stalled_reader_loses_uplinks(broker, network, ttn_app) -> None:
    """The simulated server drops what a client does not read, as The Things Stack does.

    This is what makes the stall test above able to fail: a client reading its socket
    from the event loop would stop reading while the loop is blocked.
    """
    received = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.username_pw_set(ttn_app.username, ttn_app.api_key)
    client.on_message = lambda client, userdata, message: received.append(message)
    client.connect("127.0.0.1", broker.port)
    client.subscribe([(topic, 0) for topic in subscription_topics(ttn_app.uid)])
    for _ in range(10):
        client.loop(0.05)

    _burst_of_large_uplinks(network, ttn_app)
    time.sleep(2)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        client.loop(0.05)
    client.disconnect()
    assert len(received) < 300


MALFORMED = {
    "not json": b"{not json",
    "not an object": b"[1, 2, 3]",
    "wrong field types": b'{"end_device_ids": {"device_id": "door-01"}, "uplink_message": {"f_port": "one"}}',
    "1 MB": b'{"pad": "' + b"x" * 1_000_000 + b'"}',
    "deeply nested": b'{"a": ' * 5000 + b"1" + b"}" * 5000,
}


@pytest.mark.parametrize("payload", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_messages_are_counted_and_skipped(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, ttn_app, payload
) -> None:
    """A bad message is counted and skipped; the session stays up and goes on."""
    coordinator = init_integration.runtime_data
    network.uplink("door-01", decoded_payload={"door_open": True})
    await async_wait_for(lambda: coordinator.counters.uplinks == 1)

    network.publish_raw(f"v3/{ttn_app.uid}/devices/door-01/up", payload)
    await async_wait_for(lambda: coordinator.counters.malformed == 1)
    assert coordinator.devices["door-01"].fields["door_open"] is True

    network.uplink("door-01", decoded_payload={"door_open": False})
    await async_wait_for(lambda: coordinator.counters.uplinks == 2)
    assert coordinator.devices["door-01"].fields["door_open"] is False
    assert coordinator.connected


async def test_unknown_topic_is_counted_and_skipped(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, ttn_app
) -> None:
    """A message naming another device than its topic is skipped; others never come.

    Topics of no kind we handle are not subscribed to.
    """
    coordinator = init_integration.runtime_data
    good = orjson.dumps(network.build_uplink("door-01"))
    network.publish_raw(f"v3/{ttn_app.uid}/devices/door-01/unknown", good)
    network.publish_raw(f"v3/{ttn_app.uid}/devices/other-01/up", good)
    await async_wait_for(lambda: coordinator.counters.malformed == 1)
    network.publish_raw(f"v3/{ttn_app.uid}/devices/door-01/up", good)
    await async_wait_for(lambda: coordinator.counters.uplinks == 1)
    assert list(coordinator.devices) == ["door-01"]


async def test_restart_restores_latest_uplinks(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """After a restart, with the broker silent, the latest uplinks are back from storage."""
    entry = init_integration
    network.uplink("th-sensor-01", decoded_payload={"temperature": 19.0})
    network.uplink("th-sensor-01", decoded_payload={"temperature": 20.0})
    await async_wait_for(lambda: entry.runtime_data.counters.uplinks == 2)
    sent = network.uplink("door-01", decoded_payload={"door_open": True})
    await async_wait_for(lambda: entry.runtime_data.counters.uplinks == 3)

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    coordinator = entry.runtime_data
    assert coordinator.counters.uplinks == 0
    assert coordinator.devices["th-sensor-01"].fields["temperature"] == 20.0
    door = coordinator.devices["door-01"]
    assert door.uplink.f_cnt == sent["uplink_message"].get("f_cnt")
    assert door.fields == {"door_open": True}
    assert door.last_seen is not None


async def test_unload_leaves_nothing_behind(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Unload stops the session; the harness checks for threads, tasks and timers."""
    coordinator = init_integration.runtime_data
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    assert not coordinator.session._thread.is_alive()
    assert init_integration.state is ConfigEntryState.NOT_LOADED


async def test_session_stops_with_home_assistant(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Stopping Home Assistant disconnects without unloading the entry."""
    coordinator = init_integration.runtime_data
    await hass.async_stop()
    assert not coordinator.session._thread.is_alive()


async def test_unload_after_the_stop_event_removes_each_listener_once(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The stop listener is not removed twice ("Unable to remove unknown job listener").

    no_complaints (conftest.py) fails the test on that error.
    """
    coordinator = init_integration.runtime_data
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert not coordinator.session._thread.is_alive()
    assert await hass.config_entries.async_unload(init_integration.entry_id)


async def test_deleting_the_entry_deletes_its_stored_uplinks(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, hass_storage
) -> None:
    """The devices' latest uplinks (positions among them) go with the entry."""
    entry = init_integration
    network.uplink("gps-tracker-01")
    await async_wait_for(lambda: entry.runtime_data.counters.uplinks == 1)
    assert await hass.config_entries.async_unload(entry.entry_id)
    key = f"{DOMAIN}.{entry.entry_id}"
    assert "gps-tracker-01" in hass_storage[key]["data"]["devices"]

    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage


async def test_a_device_of_an_unloaded_entry_is_not_deleted(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    network,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """Unloaded, the entry could not forget the device: deleting it says why."""
    assert await async_setup_component(hass, "config", {})
    device_id = await end_device(hass, network, "door-01")
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    client = await hass_ws_client(hass)

    await client.send_json_auto_id(
        {
            "type": "config/device_registry/remove_config_entry",
            "config_entry_id": init_integration.entry_id,
            "device_id": device_id,
        }
    )

    response = await client.receive_json()
    assert not response["success"]
    assert response["error"]["message"] == (
        "The Things Network application test-app is not loaded"
    )
    assert dr.async_get(hass).async_get(device_id) is not None


async def test_a_reconnect_racing_the_unload_starts_nothing(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    network,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A connection reported while the entry unloads starts no catch-up or timer.

    Home Assistant cancels an entry's tasks once, when it starts unloading: a catch-up
    started after that outlived its entry, a rare "lingering task" error of the suite.
    """
    hass.config_entries.async_update_entry(config_entry, options={})
    monkeypatch.setattr(
        backfill,
        "storage_url",
        lambda host, path: URL("http://127.0.0.1:9").with_path(path),
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    coordinator = config_entry.runtime_data
    stop = coordinator.session.stop

    def stop_then_reconnected(*args: Any) -> None:
        stop(*args)
        # What the session thread may have handed over just before it ended.
        coordinator.link._hand_over(SessionState.DISCONNECTED)
        coordinator.link._hand_over(SessionState.CONNECTED)
        coordinator.link._hand_over(
            (
                f"v3/{coordinator.uid}/devices/door-01/up",
                orjson.dumps(network.build_uplink("door-01")),
            )
        )

    monkeypatch.setattr(coordinator.session, "stop", stop_then_reconnected)
    first_catch_up = coordinator.backfill._task
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    # The uplink read before the stop was applied and saved, nothing started after.
    assert coordinator.counters.uplinks == 1
    assert coordinator.backfill._task is first_catch_up
    assert first_catch_up is None or first_catch_up.done()
