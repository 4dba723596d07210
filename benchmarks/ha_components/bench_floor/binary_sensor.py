"""F's binary sensors: the application's connection, each device's door_open."""

from __future__ import annotations

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from . import DOMAIN, Decoded, Floor, FloorEntity


async def async_setup_entry(
    hass: HomeAssistant, entry: ConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    """Make the connection sensor and each device's door sensor."""
    floor: Floor = entry.runtime_data
    async_add_entities([Connectivity(floor)])
    floor.add_platform(
        lambda device_id, decoded: [DoorOpen(floor, device_id, decoded)],
        async_add_entities,
    )


class Connectivity(BinarySensorEntity):
    """Whether the connection is up."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    _attr_name = "Connection"
    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(self, floor: Floor) -> None:
        self.floor = floor
        self._attr_unique_id = f"{floor.uid}/connectivity"
        self._attr_device_info = dr.DeviceInfo(identifiers={(DOMAIN, floor.uid)})

    @property
    def is_on(self) -> bool:
        return self.floor.connected


class DoorOpen(FloorEntity, BinarySensorEntity, RestoreEntity):
    """The boolean field."""

    _attr_name = "Door open"
    _attr_device_class = BinarySensorDeviceClass.DOOR

    def __init__(self, floor: Floor, device_id: str, decoded: Decoded | None) -> None:
        super().__init__(floor, device_id, "field_door_open")
        if decoded is not None:
            self.take(decoded)

    def take(self, decoded: Decoded) -> bool:
        self._attr_is_on = decoded.get("door_open")
        return True

    async def async_added_to_hass(self) -> None:
        """Show the value from before a restart until the next uplink."""
        await super().async_added_to_hass()
        if self._attr_is_on is None and (last := await self.async_get_last_state()):
            self._attr_is_on = {"on": True, "off": False}.get(last.state)
