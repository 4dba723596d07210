"""Base entities: one for an end device's entities, one for the application's."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from homeassistant.core import Context, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DATA_LORAWAN_TAKEN
from .coordinator import TtnCoordinator, TtnMqttConfigEntry
from .fields import FIELD_KEY_PREFIX
from .models import TtnDevice


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
    """An entity of one end device, updated by that device's uplinks and the link only.

    Subclasses set their state attributes in `_refresh` and return what they show;
    an uplink that changes none of it writes no state, which is most of them.
    """

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, coordinator: TtnCoordinator, device_id: str, key: str) -> None:
        """Attach the entity to its end device."""
        self.coordinator = coordinator
        self.device_id = device_id
        self.key = key
        self._attr_unique_id = f"{coordinator.uid}/{device_id}/{key}"
        self._shown: Hashable = None
        # What _attr_available was last set to.
        self._available = True

    @property
    def device_info(self) -> DeviceInfo:
        """Return the end device; made when asked, as it is asked once, when added."""
        return DeviceInfo(
            identifiers={self.coordinator.device_identifier(self.device_id)}
        )

    def _refresh(self, device: TtnDevice) -> Hashable:
        """Set the state attributes from the device; return what the entity shows.

        Entities whose state does not come from uplinks keep this: they are written
        when their availability changes only.
        """
        return None

    def _snapshot(self) -> Hashable:
        """Set availability and the state attributes; return what the entity shows.

        Unavailable when the link is down beyond its grace, or the device is stale.
        Set here, once per update, rather than a property Home Assistant asks again.
        """
        # On every uplink of every entity: plain attributes rather than the
        # coordinator's properties, and Home Assistant's setter only on a change.
        device = self.coordinator.fleet.devices.get(self.device_id)
        available = (
            device is not None and self.coordinator.link.available and not device.stale
        )
        if available is not self._available:
            self._available = self._attr_available = available
        if device is None:
            return None
        return (available, self._refresh(device))

    async def async_added_to_hass(self) -> None:
        """Follow the device's uplinks and the link to the server."""
        # Uplinks may have come between the entity's creation and now.
        self._shown = self._snapshot()
        # The fleet also calls it when the link changes: one listener per entity
        # rather than two, which a start with many devices feels.
        self.async_on_remove(
            self.coordinator.async_add_device_listener(
                self.device_id, self._handle_device_update
            )
        )

    @callback
    def _handle_device_update(self, context: Context | None) -> None:
        shown = self._snapshot()
        if shown != self._shown:
            self._shown = shown
            if context is not None:
                self.async_set_context(context)
            self.async_write_ha_state()


class NewKeys:
    """What a platform has made entities for, per device; forgotten with the device.

    A device the user deleted comes back as a new TtnDevice when it reports again,
    and then gets its entities again.
    """

    def __init__(self) -> None:
        """Start with nothing made."""
        self._made: dict[str, tuple[TtnDevice, set[str]]] = {}

    def made(self, device: TtnDevice) -> set[str]:
        """Return the keys made for this device (a set the caller adds to)."""
        made = self._made.get(device.device_id)
        if made is None or made[0] is not device:
            made = self._made[device.device_id] = (device, set())
        return made[1]

    def new_fields(self, device: TtnDevice, platform: str) -> list[tuple[str, Any]]:
        """Return the device's fields that platform shows and has no entity for yet.

        Every field the fleet gave a platform counts as made for this one, whichever
        platform shows it.
        """
        made = self.made(device)
        platforms = device.field_platforms
        new: list[tuple[str, Any]] = []
        for key, value in device.fields.items():
            if key in made or (owner := platforms.get(key)) is None:
                continue
            made.add(key)
            if owner == platform:
                new.append((key, value))
        return new


@callback
def async_add_device_entities(
    entry: TtnMqttConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    new_entities: Callable[[TtnDevice], Sequence[Entity]],
) -> None:
    """Add the new entities of every known device, then of each device that reports.

    At setup, all devices' entities go to Home Assistant in one call: one call per
    device costs a task each, which a start with many restored devices would feel.
    """
    coordinator = entry.runtime_data

    def shown(device: TtnDevice) -> Sequence[Entity]:
        entities = new_entities(device)
        if not _taken_by_lorawan(coordinator, device):
            return entities
        return [entity for entity in entities if not _is_field_entity(entity)]

    async_add_entities(
        [
            entity
            for device in list(coordinator.devices.values())
            for entity in shown(device)
        ]
    )

    @callback
    def add_new(device: TtnDevice) -> None:
        if entities := shown(device):
            async_add_entities(entities)

    entry.async_on_unload(coordinator.async_add_new_data_listener(add_new))


def _taken_by_lorawan(coordinator: TtnCoordinator, device: TtnDevice) -> bool:
    """Return whether a LoRaWAN device integration shows the device's readings."""
    taken = coordinator.hass.data.get(DATA_LORAWAN_TAKEN, {}).get(
        coordinator.entry.entry_id
    )
    if not taken or device.uplink is None:
        return False
    return (device.uplink.device.dev_eui or "").lower() in taken


def _is_field_entity(entity: Entity) -> bool:
    return isinstance(entity, TtnDeviceEntity) and entity.key.startswith(
        FIELD_KEY_PREFIX
    )
