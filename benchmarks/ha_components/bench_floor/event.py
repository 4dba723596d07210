"""F's event entities: each device's Downlink, which no uplink changes."""

from __future__ import annotations

from homeassistant.components.event import EventEntity
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from . import Floor, FloorEntity


async def async_setup_entry(
    hass: HomeAssistant, entry: ConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    """Make each device's Downlink entity."""
    floor: Floor = entry.runtime_data
    floor.add_platform(
        lambda device_id, decoded: [Downlink(floor, device_id)], async_add_entities
    )


class Downlink(FloorEntity, EventEntity):
    """ttn_mqtt's Downlink event entity, with its event types."""

    _attr_name = "Downlink"

    def __init__(self, floor: Floor, device_id: str) -> None:
        super().__init__(floor, device_id, "downlink")
        self._attr_event_types = ["queued", "sent", "ack", "nack", "failed"]
