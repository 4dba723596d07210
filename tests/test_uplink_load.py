"""Uplinks in a stream: what each changes shares its context; saves are not put off."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.ttn_mqtt.const import DOMAIN, EVENT_UPLINK

from .uplinks import uplink_and_wait

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def test_the_states_an_uplink_changes_share_its_context(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """An automation can tell which uplink changed a state, and group what it changed."""
    await uplink_and_wait(
        hass, network, "th-sensor-01", decoded_payload={"temperature": 21.0}
    )
    uplinks = async_capture_events(hass, EVENT_UPLINK)
    changes: list[Event] = []

    @callback
    def _changed(event: Event) -> None:
        if event.data["entity_id"].startswith("sensor.th_sensor_01_"):
            changes.append(event)

    hass.bus.async_listen(EVENT_STATE_CHANGED, _changed)

    await uplink_and_wait(
        hass, network, "th-sensor-01", decoded_payload={"temperature": 21.5}
    )
    await uplink_and_wait(
        hass, network, "th-sensor-01", decoded_payload={"temperature": 22.0}
    )

    first, second = uplinks
    assert first.context.id != second.context.id
    assert {event.context.id for event in changes} == {
        first.context.id,
        second.context.id,
    }
    assert [
        event.context.id
        for event in changes
        if event.data["entity_id"] == "sensor.th_sensor_01_temperature"
    ] == [first.context.id, second.context.id]
    state = hass.states.get("sensor.th_sensor_01_temperature")
    assert state.state == "22.0"
    assert state.context.id == second.context.id


async def test_uplinks_that_keep_coming_do_not_put_off_the_save(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, hass_storage
) -> None:
    """What an uplink brought is saved 30 s later, whatever came after it."""
    entry = init_integration
    key = f"{DOMAIN}.{entry.entry_id}"
    start = dt_util.utcnow()
    await uplink_and_wait(hass, network, "th-sensor-01")
    # Real time: the save's delay runs on the event loop's clock.
    await asyncio.sleep(0.5)
    await uplink_and_wait(hass, network, "door-01")

    async_fire_time_changed(hass, start + timedelta(seconds=30.25))
    await hass.async_block_till_done()
    assert "th-sensor-01" in hass_storage[key]["data"]["devices"]


async def test_an_uplink_keeps_the_parts_its_device_already_had(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """Ids, make and model equal to the previous uplink's are that uplink's objects.

    Fewer objects then live until the device's next uplink (what makes Python's full
    collections due).
    """
    devices = init_integration.runtime_data.devices
    await uplink_and_wait(hass, network, "th-sensor-01")
    first = devices["th-sensor-01"].uplink
    await uplink_and_wait(hass, network, "th-sensor-01")
    second = devices["th-sensor-01"].uplink
    assert first is not None
    assert second is not None
    assert second is not first
    assert second.device is first.device
    assert first.version_ids is not None
    assert second.version_ids is first.version_ids
