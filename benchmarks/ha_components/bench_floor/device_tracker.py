"""F's device trackers: the decoded payload's location."""

from __future__ import annotations

from homeassistant.components.device_tracker import SourceType, TrackerEntity
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import ATTR_LATITUDE, ATTR_LONGITUDE
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from . import Decoded, Floor, FloorEntity


async def async_setup_entry(
    hass: HomeAssistant, entry: ConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    """Make each device's tracker."""
    floor: Floor = entry.runtime_data
    floor.add_platform(
        lambda device_id, decoded: [Location(floor, device_id, decoded)],
        async_add_entities,
    )


class Location(FloorEntity, TrackerEntity, RestoreEntity):
    """The position in the decoded payload."""

    _attr_name = "Location"
    _attr_source_type = SourceType.GPS
    _attr_entity_category = None  # type: ignore[assignment]

    def __init__(self, floor: Floor, device_id: str, decoded: Decoded | None) -> None:
        super().__init__(floor, device_id, "location")
        if decoded is not None:
            self.take(decoded)

    def take(self, decoded: Decoded) -> bool:
        location = decoded.get("location")
        if location is None:
            return False
        self._attr_latitude = location["latitude"]
        self._attr_longitude = location["longitude"]
        return True

    async def async_added_to_hass(self) -> None:
        """Show the position from before a restart until the next uplink."""
        await super().async_added_to_hass()
        if self._attr_latitude is None and (last := await self.async_get_last_state()):
            self._attr_latitude = last.attributes.get(ATTR_LATITUDE)
            self._attr_longitude = last.attributes.get(ATTR_LONGITUDE)
