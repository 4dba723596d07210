"""Base entities: one for an end device's entities, one for the application's."""

from __future__ import annotations

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity

from .coordinator import TtnCoordinator, TtnDevice


class TtnApplicationEntity(Entity):
    """An entity of the TTN application itself, such as its connection."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, coordinator: TtnCoordinator, key: str) -> None:
        """Attach the entity to the application's device."""
        self.coordinator = coordinator
        self._attr_unique_id = f"{coordinator.uid}/{key}"
        self._attr_device_info = DeviceInfo(
            identifiers={coordinator.application_identifier}
        )

    async def async_added_to_hass(self) -> None:
        """Follow the link to the server."""
        self.async_on_remove(
            self.coordinator.async_add_link_listener(self.async_write_ha_state)
        )


class TtnDeviceEntity(Entity):
    """An entity of one end device, updated by that device's uplinks only."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, coordinator: TtnCoordinator, device_id: str, key: str) -> None:
        """Attach the entity to its end device."""
        self.coordinator = coordinator
        self.device_id = device_id
        self.key = key
        self._attr_unique_id = f"{coordinator.uid}/{device_id}/{key}"
        self._attr_device_info = DeviceInfo(
            identifiers={coordinator.device_identifier(device_id)}
        )

    @property
    def device(self) -> TtnDevice:
        """Return what the coordinator knows of the device."""
        return self.coordinator.devices[self.device_id]

    @property
    def available(self) -> bool:
        """Return False when the link has been down beyond its grace period."""
        return (
            self.coordinator.link_available
            and self.device_id in self.coordinator.devices
        )

    async def async_added_to_hass(self) -> None:
        """Follow the device's uplinks and the link to the server."""
        self.async_on_remove(
            self.coordinator.async_add_device_listener(
                self.device_id, self._handle_device_update
            )
        )
        self.async_on_remove(
            self.coordinator.async_add_link_listener(self.async_write_ha_state)
        )

    @callback
    def _handle_device_update(self) -> None:
        """Write the state; subclasses skip writes that would change nothing."""
        self.async_write_ha_state()
