"""Hostile or broken input from the server side: nothing a sender controls freezes a device.

Each test here failed on the code before issue 15 ("Nothing freezes, nothing is lost").
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
import logging
import os
import time
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import orjson
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ttn_mqtt import link, skipped
from custom_components.ttn_mqtt.const import CONF_PORT, DOMAIN
from custom_components.ttn_mqtt.payload import MAX_FIELDS
from custom_components.ttn_mqtt.protocol import session
from custom_components.ttn_mqtt.protocol.session import KEEPALIVE
from custom_components.ttn_mqtt.protocol.uplink_ledger import UplinkLedger

from .common import async_wait_for
from .tcp_link import CuttableLink
from .uplinks import uplink_and_wait

pytestmark = pytest.mark.usefixtures("socket_enabled")

CONNECTIVITY = "binary_sensor.test_app_connection"
TEMPERATURE = "sensor.th_sensor_01_temperature"
GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def publish_stamped(
    network, ttn_app, device_id: str, received_at: str, **kwargs: Any
) -> dict[str, Any]:
    """Publish the device's next uplink stamped with received_at; return it."""
    message = network.build_uplink(device_id, **kwargs)
    message["received_at"] = received_at
    network.publish_raw(
        f"v3/{ttn_app.uid}/devices/{device_id}/up", orjson.dumps(message)
    )
    return message


async def test_an_uplink_from_the_future_does_not_freeze_the_device(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, ttn_app
) -> None:
    """A clock a day ahead: later uplinks still show, and the catch-up never skips ahead."""
    coordinator = init_integration.runtime_data
    tomorrow = dt_util.utcnow() + timedelta(days=1)
    publish_stamped(
        network,
        ttn_app,
        "th-sensor-01",
        rfc3339(tomorrow),
        decoded_payload={"temperature": 1.5},
    )
    await async_wait_for(lambda: coordinator.counters.uplinks == 1)
    assert hass.states.get(TEMPERATURE).state == "1.5"

    await uplink_and_wait(
        hass, network, "th-sensor-01", TEMPERATURE, decoded_payload={"temperature": 2.5}
    )
    assert hass.states.get(TEMPERATURE).state == "2.5"
    limit = dt_util.utcnow() + UplinkLedger.CLOCK_TOLERANCE
    assert coordinator.fleet.ledger.processed_until <= limit
    # Last seen is never in the future either.
    assert coordinator.devices["th-sensor-01"].last_seen <= dt_util.utcnow()


async def test_go_zero_time_is_no_time(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    broker,
    network,
    ttn_app,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """received_at 0001-01-01 is taken as absent: no error, the link state stays true."""
    coordinator = init_integration.runtime_data
    publish_stamped(
        network,
        ttn_app,
        "th-sensor-01",
        GO_ZERO_TIME,
        decoded_payload={"temperature": 3.5},
    )
    await async_wait_for(lambda: coordinator.counters.uplinks == 1)
    assert hass.states.get(TEMPERATURE).state == "3.5"

    # A reconnect starts a catch-up from the ledger, where the bad time would be.
    broker.kill()
    await async_wait_for(lambda: hass.states.get(CONNECTIVITY).state == "off")
    broker.restart()
    await async_wait_for(lambda: hass.states.get(CONNECTIVITY).state == "on", 10)
    assert coordinator.connected
    await uplink_and_wait(
        hass, network, "th-sensor-01", TEMPERATURE, decoded_payload={"temperature": 4.5}
    )
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_stored_ledger_with_go_zero_time_loads() -> None:
    """A ledger saved by 0.1.0 with Go's zero time loads without it, and works."""
    ledger = UplinkLedger.from_dict(
        {
            "processed_until": "0001-01-01T00:00:00+00:00",
            "keys": [["door-01", 1, "0001-01-01T00:00:00+00:00"]],
        }
    )
    assert ledger.processed_until is None
    assert ledger.start_backfill() is None
    ledger.finish_backfill()


async def test_a_late_join_does_not_take_last_seen_back(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, ttn_app
) -> None:
    """Joins and solved locations that arrive late keep the latest Last seen."""
    coordinator = init_integration.runtime_data
    topic = f"v3/{ttn_app.uid}/devices/th-sensor-01"
    join = network.join("th-sensor-01")
    located = network.solve_location("th-sensor-01", {"latitude": 1, "longitude": 2})
    await async_wait_for(lambda: "th-sensor-01" in coordinator.devices)
    device = coordinator.devices["th-sensor-01"]
    await async_wait_for(lambda: device.solved_location is not None)
    seen = device.last_seen

    # The same messages again, as if held back for an hour on the way.
    join["received_at"] = rfc3339(seen - timedelta(hours=1))
    network.publish_raw(f"{topic}/join", orjson.dumps(join))
    located["received_at"] = rfc3339(seen - timedelta(hours=2))
    located["location_solved"]["location"]["latitude"] = 3
    network.publish_raw(f"{topic}/location/solved", orjson.dumps(located))
    await async_wait_for(lambda: device.solved_location.latitude == 3)
    assert device.last_seen == seen


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"unit_of_measurement": "°C"}
    for _ in range(depth):
        value = {"deeper": value}
    return value


async def test_deep_sensor_hints_leave_the_store_saveable(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, hass_storage
) -> None:
    """A `_sensor_attr` nested 260 levels (orjson writes 254) is cut to the shape used."""
    coordinator = init_integration.runtime_data
    await uplink_and_wait(
        hass,
        network,
        "th-sensor-01",
        TEMPERATURE,
        decoded_payload={
            "temperature": 20.5,
            "_sensor_attr": {
                "temperature": {"unit_of_measurement": "°F", "junk": _nested(260)},
                "humidity": _nested(260),
            },
        },
    )
    await coordinator.fleet.async_save()
    saved = hass_storage[f"ttn_mqtt.{init_integration.entry_id}"]["data"]
    assert saved["devices"]["th-sensor-01"]["sensor_attr"] == {
        "temperature": {"unit_of_measurement": "°F"}
    }


async def test_a_store_with_deep_hints_from_an_older_version_loads_and_saves(
    hass: HomeAssistant, hass_storage, config_entry: MockConfigEntry, network
) -> None:
    """What 0.1.0 stored of such a payload is cut on load: the next save works."""
    key = f"ttn_mqtt.{config_entry.entry_id}"
    hass_storage[key] = {
        "version": 1,
        "minor_version": 1,
        "key": key,
        "data": {
            "devices": {
                "th-sensor-01": {
                    "uplink": None,
                    "fields": {"temperature": 21.5},
                    "sensor_attr": {"temperature": _nested(300)},
                    "field_platforms": {"temperature": "sensor"},
                    "solved_location": None,
                    "last_seen": "2026-11-26T01:00:00+00:00",
                }
            },
            "ledger": {"processed_until": None, "keys": []},
        },
    }
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    await config_entry.runtime_data.fleet.async_save()
    assert hass_storage[key]["data"]["devices"]["th-sensor-01"]["sensor_attr"] == {}
    assert await hass.config_entries.async_unload(config_entry.entry_id)


async def test_fields_per_device_are_capped_and_said_once(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    network,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """5,000 keys in one uplink make MAX_FIELDS entities, one warning and a repair issue."""
    coordinator = init_integration.runtime_data
    decoded = {f"value_{index}": index for index in range(5000)}
    await uplink_and_wait(hass, network, "raw-01", decoded_payload=decoded)
    await uplink_and_wait(hass, network, "raw-01", decoded_payload=decoded)
    device = coordinator.devices["raw-01"]
    assert len(device.fields) == MAX_FIELDS
    fields = [
        entity_id
        for entity_id in hass.states.async_entity_ids("sensor")
        if entity_id.startswith("sensor.raw_01_value_")
    ]
    assert len(fields) == MAX_FIELDS
    warnings = [r for r in caplog.records if "more than 200 fields" in r.getMessage()]
    assert len(warnings) == 1
    issues = [
        issue
        for (domain, issue_id), issue in ir.async_get(hass).issues.items()
        if domain == DOMAIN and issue_id.startswith("too_many_fields")
    ]
    assert len(issues) == 1
    # Known fields keep updating.
    await uplink_and_wait(
        hass,
        network,
        "raw-01",
        "sensor.raw_01_value_1",
        decoded_payload={"value_1": -1},
    )
    assert hass.states.get("sensor.raw_01_value_1").state == "-1"


async def test_skipped_messages_are_said_once_then_hourly(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    network,
    ttn_app,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first bad message of a kind is a warning with its topic; then a count an hour."""
    coordinator = init_integration.runtime_data
    topic = f"v3/{ttn_app.uid}/devices/door-01"
    clock = [1000.0]
    monkeypatch.setattr(skipped, "monotonic", lambda: clock[0])

    def said() -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.levelno == logging.WARNING and "Skipped" in r.getMessage()
        ]

    for _ in range(3):
        network.publish_raw(f"{topic}/up", b"not json")
    network.publish_raw(f"{topic}/join", b"[]")
    await async_wait_for(lambda: coordinator.counters.malformed == 4)
    assert len(said()) == 2
    assert f"on {topic}/up" in said()[0]
    assert "not json" not in said()[0].removeprefix("Skipped a message")

    clock[0] += skipped.REPEAT_AFTER
    network.publish_raw(f"{topic}/up", b"{")
    await async_wait_for(lambda: coordinator.counters.malformed == 5)
    assert len(said()) == 3
    assert "Skipped 3 more messages of kind up" in said()[2]


async def test_a_dead_link_is_noticed_within_two_keepalives(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    broker,
    network,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A blackhole (no error, no byte) is noticed by the keepalive, and recovered from.

    TTN_MQTT_BLACKHOLE_DEFAULTS=1 runs it with the users' keepalive and prints the time
    to notice (up to 40 s); the suite runs it scaled down.
    """
    # paho gives up two keepalives after the last byte at most: 45 s with the defaults.
    assert 2 * KEEPALIVE <= 45
    defaults = os.environ.get("TTN_MQTT_BLACKHOLE_DEFAULTS") == "1"
    keepalive = KEEPALIVE if defaults else 2
    monkeypatch.setattr(session, "KEEPALIVE", keepalive)
    link = CuttableLink(broker.host, broker.port)
    await link.start()
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, CONF_PORT: link.port}
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    coordinator = config_entry.runtime_data
    await uplink_and_wait(hass, network, "door-01")

    link.blackhole()
    started = time.monotonic()
    await async_wait_for(lambda: not coordinator.connected, timeout=3 * keepalive + 5)
    noticed = time.monotonic() - started
    print(
        f"\nA blackholed link was noticed after {noticed:.1f} s (keepalive {keepalive} s)"
    )

    link.restore()
    await async_wait_for(lambda: coordinator.connected, timeout=10)
    await uplink_and_wait(hass, network, "door-01")
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await link.stop()


async def test_a_burst_of_new_devices_yields_to_the_loop(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    network,
    ttn_app,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """400 new devices at once: all arrive, and the loop gets its turns meanwhile.

    A device first seen is registered with its entities, which takes a while each:
    the drain hands the loop back once its time budget is spent, not after a count.
    The clock here makes every message take 15 ms; the longest real stall is printed.
    """
    coordinator = init_integration.runtime_data
    clock = [0.0]

    def slow_clock() -> float:
        clock[0] += 0.015
        return clock[0]

    monkeypatch.setattr(link, "monotonic", slow_clock)
    drains: list[int] = []
    drain = coordinator.link._drain

    def counted_drain() -> None:
        before = len(coordinator.link._inbox)
        drain()
        drains.append(before - len(coordinator.link._inbox))

    monkeypatch.setattr(coordinator.link, "_drain", counted_drain)
    template = network.build_uplink("door-01", {"door_open": True})
    stalls = [0.0]

    async def watch() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            stalls[0] = max(stalls[0], now - last)
            last = now

    watcher = hass.async_create_background_task(watch(), "stall watcher")
    for index in range(400):
        device_id = f"burst-{index:04d}"
        template["end_device_ids"]["device_id"] = device_id
        network.publish_raw(
            f"v3/{ttn_app.uid}/devices/{device_id}/up", orjson.dumps(template)
        )
    await async_wait_for(lambda: coordinator.counters.uplinks == 400, timeout=60)
    watcher.cancel()
    print(
        f"\nLongest stall of the loop in a burst of 400 new devices: {stalls[0]:.3f} s"
    )
    assert len(coordinator.devices) == 400
    # Each callback stopped once its budget (20 ms, two messages here) was spent.
    assert max(drains) <= 2


async def test_kinds_not_handled_are_not_malformed(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, ttn_app
) -> None:
    """up/normalized and service/data are not subscribed to, and not counted."""
    coordinator = init_integration.runtime_data
    topic = f"v3/{ttn_app.uid}/devices/th-sensor-01"
    normalized = {
        "end_device_ids": {"device_id": "th-sensor-01"},
        "uplink_normalized": {"normalized_payload": {"air": {"temperature": 21.5}}},
    }
    network.publish_raw(f"{topic}/up/normalized", orjson.dumps(normalized))
    network.publish_raw(f"{topic}/service/data", b'{"service_data": {}}')
    await uplink_and_wait(hass, network, "th-sensor-01")
    assert coordinator.counters.malformed == 0
    assert coordinator.session.stats.messages == 1
