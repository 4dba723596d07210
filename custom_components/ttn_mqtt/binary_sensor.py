"""Binary sensors: the application's connection to the server."""

from __future__ import annotations

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import TtnMqttConfigEntry
from .entity import TtnApplicationEntity

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TtnMqttConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the connectivity sensor."""
    async_add_entities([TtnConnectivitySensor(entry.runtime_data, "connectivity")])


class TtnConnectivitySensor(TtnApplicationEntity, BinarySensorEntity):
    """Whether the MQTT session with The Things Stack is up."""

    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _attr_translation_key = "connectivity"

    @property
    def is_on(self) -> bool:
        """Return whether the session is connected."""
        return self.coordinator.connected
