"""Every entity we create, in one file a reviewer reads: snapshots of the demo's devices.

Each of the simulated application's devices sends one uplink (a fixed seed: the same
readings every run) and th-sensor-01 gets a confirmed downlink. The snapshots hold each
entity's registry entry (disabled ones too) and state, and the entry's diagnostics.
What changes from run to run (times, the broker's port, correlation ids) is replaced by
a placeholder; the rest must stay as it is unless a change means to change it.
"""

from __future__ import annotations

from datetime import datetime
import re
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion

from .common import async_wait_for
from .uplinks import send_downlink

pytestmark = pytest.mark.usefixtures("socket_enabled")

DEVICES = ("th-sensor-01", "door-01", "gps-tracker-01", "multi-01", "raw-01")
# Registry fields that say what an entity is; the rest are Home Assistant's bookkeeping
# (ids, times), which differ between its releases.
ENTITY_FIELDS = (
    "unique_id",
    "original_name",
    "translation_key",
    "original_device_class",
    "unit_of_measurement",
    "entity_category",
    "disabled_by",
)
DEVICE_FIELDS = (
    "name",
    "manufacturer",
    "model",
    "hw_version",
    "sw_version",
    "serial_number",
    "entry_type",
)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# The server's correlation ids end in a ULID (its first characters are a time), ours in
# a random hex id.
_ULID = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b")
_OUR_ID = re.compile(r"ttn_mqtt:[0-9a-f]{32}")
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
_DEVICE_ID = re.compile(r"^[0-9a-f]{32}$")
# State attributes that only newer Home Assistant releases write: one snapshot serves all.
NEWER_ATTRIBUTES = frozenset(("in_zones", "tracking_type"))


def _steady(value: Any, port: int) -> Any:
    """Return value with what differs from run to run replaced by placeholders."""
    if isinstance(value, dict):
        # str(): Home Assistant 2026.x writes attribute names as StrEnum members.
        return {str(key): _steady(item, port) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_steady(item, port) for item in value]
    if isinstance(value, datetime):
        return "<time>"
    if isinstance(value, str):
        if _TIME.match(value):
            return "<time>"
        if _DEVICE_ID.match(value):
            return "<device id>"
        value = _OUR_ID.sub("ttn_mqtt:<id>", _ULID.sub("<ulid>", value))
        return _UUID.sub("<uuid>", value)
    if value == port and not isinstance(value, bool):
        return "<port>"
    return value


@pytest.fixture
async def reported(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> MockConfigEntry:
    """The entry once every device reported once and a downlink was acknowledged."""
    coordinator = init_integration.runtime_data
    for device_id in DEVICES:
        network.uplink(device_id)
    await async_wait_for(lambda: coordinator.counters.uplinks == len(DEVICES))
    await hass.async_block_till_done()
    await send_downlink(
        hass,
        device_id=coordinator.devices["th-sensor-01"].ha_device_id,
        f_port=5,
        payload="01 ff",
        confirmed=True,
    )
    await async_wait_for(lambda: coordinator.counters.downlinks["ack"] == 1)
    await hass.async_block_till_done()
    return init_integration


async def test_entities(
    hass: HomeAssistant,
    reported: MockConfigEntry,
    broker,
    snapshot: SnapshotAssertion,
) -> None:
    """Every device and entity of the entry: what the registries and states hold."""
    devices = {
        device.name: {field: getattr(device, field) for field in DEVICE_FIELDS}
        for device in dr.async_entries_for_config_entry(
            dr.async_get(hass), reported.entry_id
        )
    }
    entities: dict[str, Any] = {}
    for entry in er.async_entries_for_config_entry(
        er.async_get(hass), reported.entry_id
    ):
        state = hass.states.get(entry.entity_id)
        entities[entry.entity_id] = {
            "entry": {field: getattr(entry, field) for field in ENTITY_FIELDS},
            "state": None
            if state is None
            else {
                "state": state.state,
                "attributes": {
                    key: value
                    for key, value in state.attributes.items()
                    if key not in NEWER_ATTRIBUTES
                },
            },
        }
    steady = _steady(
        {
            "devices": dict(sorted(devices.items())),
            "entities": dict(sorted(entities.items())),
        },
        broker.port,
    )
    assert steady == snapshot


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    reported: MockConfigEntry,
    broker,
    snapshot: SnapshotAssertion,
) -> None:
    """The entry's diagnostics, as a user downloads them."""
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, reported)
    assert _steady(diagnostics, broker.port) == snapshot
