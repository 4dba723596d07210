"""Binary sensors: the application's connection, and the boolean fields of devices."""

from __future__ import annotations

from collections.abc import Hashable

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
)
from homeassistant.const import EntityCategory, Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import TtnCoordinator, TtnMqttConfigEntry
from .entity import (
    NewKeys,
    TtnApplicationEntity,
    TtnDeviceEntity,
    async_add_device_entities,
)
from .fields import binary_sensor_description
from .models import TtnDevice

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TtnMqttConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the connectivity sensor, and boolean fields as devices report them."""
    coordinator = entry.runtime_data
    async_add_entities([TtnConnectivitySensor(coordinator, "connectivity")])
    new_keys = NewKeys()

    @callback
    def new_fields(device: TtnDevice) -> list[TtnFieldBinarySensor]:
        if device.ha_device_id is None:
            return []
        return [
            TtnFieldBinarySensor(coordinator, device, key)
            for key, _ in new_keys.new_fields(device, Platform.BINARY_SENSOR)
        ]

    async_add_device_entities(entry, async_add_entities, new_fields)


class TtnConnectivitySensor(TtnApplicationEntity, BinarySensorEntity):
    """Whether the MQTT session with The Things Stack is up."""

    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _attr_translation_key = "connectivity"

    @property
    def is_on(self) -> bool:
        """Return whether the session is connected."""
        return self.coordinator.connected


class TtnFieldBinarySensor(TtnDeviceEntity, BinarySensorEntity):
    """A boolean field of the decoded payload; anything but a boolean shows unknown."""

    def __init__(
        self, coordinator: TtnCoordinator, device: TtnDevice, key: str
    ) -> None:
        """Take the device class from the decoder's hint, else from the field's name."""
        self.entity_description = binary_sensor_description(
            key, device.sensor_attr.get(key)
        )
        super().__init__(coordinator, device.device_id, self.entity_description.key)
        self.field = key

    def _refresh(self, device: TtnDevice) -> Hashable:
        value = device.fields.get(self.field)
        self._attr_is_on = value if isinstance(value, bool) else None
        return self._attr_is_on
