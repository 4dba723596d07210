"""Helpers for entity and action tests: send uplinks and downlinks, read what a user sees."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from homeassistant.const import ATTR_DEVICE_CLASS, ATTR_UNIT_OF_MEASUREMENT
from homeassistant.core import HomeAssistant

from custom_components.ttn_mqtt.const import DOMAIN

from .common import async_wait_for

DECODERS = Path(__file__).parent / "fixtures" / "decoders"


def shows(
    hass: HomeAssistant, entity_id: str
) -> tuple[str, str | None, str | None, str | None]:
    """Return what a user sees of an entity: state, unit, device class, state class."""
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return (
        state.state,
        state.attributes.get(ATTR_UNIT_OF_MEASUREMENT),
        state.attributes.get(ATTR_DEVICE_CLASS),
        state.attributes.get("state_class"),
    )


def as_written(state: str, expected: str) -> str:
    """Return a state as the expectation writes it: a number to its decimals.

    Home Assistant 2026.x no longer rounds a converted value (6.48 km/h where
    2025.4 showed 6.5): numbers are compared as numbers, to the precision expected.
    """
    try:
        number = float(state)
        float(expected)
    except ValueError:
        return state
    decimals = len(expected.partition(".")[2])
    return f"{number:.{decimals}f}"


async def uplink_and_wait(
    hass: HomeAssistant,
    network,
    device_id: str,
    entity_id: str | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Send an uplink and wait until an entity has been written for it; return it.

    The entity is the device's last-seen sensor, written on every uplink, unless named.
    """
    entity_id = entity_id or last_seen_entity(device_id)
    before = hass.states.get(entity_id)
    # Home Assistant updates last_reported of an unchanged state in place.
    reported = before.last_reported if before else None
    sent = network.uplink(device_id, **kwargs)
    await async_wait_for(
        lambda: (
            (state := hass.states.get(entity_id)) is not None
            and state.last_reported != reported
        )
    )
    await hass.async_block_till_done()
    return sent


def last_seen_entity(device_id: str) -> str:
    """Return the entity id of a device's last-seen sensor, written on every uplink."""
    return f"sensor.{device_id.replace('-', '_')}_last_seen"


def load_decoder(name: str) -> dict[str, Any]:
    """Return a recorded decoder output; `_source` says where it was found."""
    fixture = json.loads((DECODERS / f"{name}.json").read_text())
    assert fixture["_source"]
    return fixture


async def send_decoder_output(
    hass: HomeAssistant, network, device_id: str, name: str
) -> None:
    """Send each decoded payload of a recorded decoder output as an uplink."""
    fixture = load_decoder(name)
    for decoded in fixture["decoded_payloads"]:
        await uplink_and_wait(
            hass, network, device_id, decoded_payload=decoded, f_port=fixture["f_port"]
        )


async def end_device(hass: HomeAssistant, network, ttn_id: str) -> str:
    """Let the device send an uplink; return its Home Assistant device id."""
    coordinator = hass.config_entries.async_entries(DOMAIN)[0].runtime_data
    network.uplink(ttn_id)
    await async_wait_for(
        lambda: (
            ttn_id in coordinator.devices
            and coordinator.devices[ttn_id].ha_device_id is not None
        )
    )
    return coordinator.devices[ttn_id].ha_device_id


async def send_downlink(hass: HomeAssistant, **data: Any) -> dict[str, Any]:
    """Call the send_downlink action as an automation does, with its response."""
    return await hass.services.async_call(
        DOMAIN, "send_downlink", data, blocking=True, return_response=True
    )
