"""Restore: after a restart every entity shows its last value before any new uplink."""

from __future__ import annotations

import json
from typing import Any

from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ttn_mqtt.const import DOMAIN

from .common import async_wait_for, registry_device
from .uplinks import send_decoder_output, uplink_and_wait

pytestmark = pytest.mark.usefixtures("socket_enabled")

RESTORED_DOMAINS = ("sensor", "binary_sensor", "device_tracker")


def shown(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, tuple]:
    """Return state and attributes of the entry's device entities, by entity id."""
    registry = er.async_get(hass)
    result = {}
    for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
        if entity.domain not in RESTORED_DOMAINS or entity.disabled:
            continue
        if entity.unique_id.count("/") < 2:
            continue
        state = hass.states.get(entity.entity_id)
        result[entity.entity_id] = (state.state, dict(state.attributes))
    return result


async def test_restart_restores_every_state(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """Unload and set up again with a silent broker: every value is back at once."""
    entry = init_integration
    for device_id in ("th-sensor-01", "door-01", "gps-tracker-01", "multi-01"):
        await uplink_and_wait(hass, network, device_id)
    await send_decoder_output(hass, network, "raw-01", "dragino_lht65")
    await uplink_and_wait(
        hass,
        network,
        "raw-01",
        decoded_payload={
            "water_level": 132,
            "_sensor_attr": {
                "water_level": {"unit_of_measurement": "cm", "device_class": "distance"}
            },
        },
    )
    network.solve_location("th-sensor-01", {"latitude": 52.37, "longitude": 4.89})
    await async_wait_for(
        lambda: hass.states.get("device_tracker.th_sensor_01_location") is not None
    )
    before = shown(hass, entry)
    assert before["sensor.raw_01_water_level"][1]["unit_of_measurement"] == "cm"
    assert "device_tracker.th_sensor_01_location" in before
    assert "device_tracker.gps_tracker_01_location" in before
    assert "binary_sensor.door_01_door_open" in before
    assert "sensor.raw_01_temperature_sht" in before
    assert len(before) > 25

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert all(
        hass.states.get(entity_id).state == STATE_UNAVAILABLE for entity_id in before
    )

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.runtime_data.counters.uplinks == 0
    assert shown(hass, entry) == before


async def test_a_field_that_changed_type_keeps_its_one_entity(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """A number that later turns boolean stays one sensor, also after a restart."""
    entry = init_integration
    await uplink_and_wait(hass, network, "raw-01", decoded_payload={"mode": 2})
    await uplink_and_wait(hass, network, "raw-01", decoded_payload={"mode": True})
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    registry = er.async_get(hass)
    mode = [
        entity.entity_id
        for entity in er.async_entries_for_config_entry(registry, entry.entry_id)
        if entity.unique_id.endswith("/field_mode")
    ]
    assert mode == ["sensor.raw_01_mode"]


async def test_a_device_first_seen_by_its_join_is_registered(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """A new device's first message is usually its join: it gets a named device."""
    await hass.async_add_executor_job(network.join, "door-01")
    await async_wait_for(lambda: hass.states.get("event.door_01_downlink") is not None)
    device = dr.async_get(hass).async_get(
        init_integration.runtime_data.devices["door-01"].ha_device_id
    )
    assert device.name == "door-01"
    assert device.serial_number is not None


async def test_a_damaged_store_loses_only_what_is_damaged(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    config_entry: MockConfigEntry,
    network,
) -> None:
    """A stored uplink, location or ledger that cannot be read is left out; the rest is back."""
    hass_storage[f"{DOMAIN}.{config_entry.entry_id}"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"{DOMAIN}.{config_entry.entry_id}",
        "data": {
            "devices": {
                "th-sensor-01": {
                    "uplink": {"uplink_message": "not an uplink"},
                    "fields": {"temperature": 21.5},
                    "sensor_attr": {},
                    "field_platforms": {"temperature": "sensor"},
                    "solved_location": "not a location",
                    "last_seen": "2026-11-26T01:00:00+00:00",
                }
            },
            "ledger": {"processed_until": "not a time", "keys": []},
        },
    }
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()

    coordinator = config_entry.runtime_data
    device = coordinator.devices["th-sensor-01"]
    assert device.uplink is None
    assert device.solved_location is None
    assert coordinator.fleet.ledger.processed_until is None
    assert hass.states.get("sensor.th_sensor_01_temperature").state == "21.5"
    assert hass.states.get("sensor.th_sensor_01_last_seen").state == (
        "2026-11-26T01:00:00+00:00"
    )
    assert hass.states.async_entity_ids("device_tracker") == []

    await uplink_and_wait(
        hass, network, "th-sensor-01", decoded_payload={"temperature": 22.0}
    )
    assert hass.states.get("sensor.th_sensor_01_temperature").state == "22.0"
    assert await hass.config_entries.async_unload(config_entry.entry_id)


async def test_a_store_of_an_older_release_is_read(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    init_integration: MockConfigEntry,
    network,
) -> None:
    """Before 0.3.1 the store held each uplink as a JSON object, now as its text."""
    entry = init_integration
    await uplink_and_wait(hass, network, "gps-tracker-01")
    before = shown(hass, entry)
    uplink = entry.runtime_data.devices["gps-tracker-01"].uplink
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    stored = hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"]["devices"]
    assert isinstance(stored["gps-tracker-01"]["uplink"], str)
    stored["gps-tracker-01"]["uplink"] = json.loads(stored["gps-tracker-01"]["uplink"])

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.runtime_data.devices["gps-tracker-01"].uplink == uplink
    assert shown(hass, entry) == before


async def test_a_restart_finds_devices_in_the_registry_and_uplinks_update_them(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """A start only looks stored devices up; the next uplink brings an entry up to date.

    A device whose registry entry is gone is registered again at the start.
    """
    entry = init_integration
    await uplink_and_wait(hass, network, "th-sensor-01")
    await uplink_and_wait(hass, network, "door-01")
    uid = entry.runtime_data.uid
    registry = dr.async_get(hass)
    sensor = registry_device(hass, (DOMAIN, f"{uid}/th-sensor-01"))
    model = sensor.model
    assert model
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    # As an older release may have left it; and a device removed meanwhile.
    registry.async_update_device(sensor.id, model="older name")
    door = registry_device(hass, (DOMAIN, f"{uid}/door-01"))
    registry.async_remove_device(door.id)

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert registry_device(hass, (DOMAIN, f"{uid}/th-sensor-01")).model == "older name"
    assert registry_device(hass, (DOMAIN, f"{uid}/door-01")).name == "door-01"
    assert hass.states.get("binary_sensor.door_01_door_open") is not None

    await uplink_and_wait(hass, network, "th-sensor-01")
    assert registry_device(hass, (DOMAIN, f"{uid}/th-sensor-01")).model == model
