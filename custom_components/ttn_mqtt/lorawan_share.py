"""Sharing an entry's devices with Home Assistant's LoRaWAN device integrations.

Home Assistant 2026.11 has a `lorawan` integration: connections (such as core's The
Things Network) register with it, device integrations (such as SenseCAP) make entities
of the devices of their brand, and its panel lists every device. With the
share_lorawan option on, an entry registers itself as such a connection
(lorawan_adapter.py). A device that a device integration then takes keeps this
integration's diagnostic entities, but not its field entities: one entity per reading.

Nothing here imports `lorawan` or its library, lorawan-connection, unless the option
is on and the running Home Assistant has them: older releases have neither.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import logging
from typing import TYPE_CHECKING, Any, Protocol

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.loader import (
    Integration,
    IntegrationNotFound,
    async_get_integration,
)
from homeassistant.setup import async_setup_component

from .compat import registry_devices
from .const import (
    CONF_SHARE_LORAWAN,
    DATA_LORAWAN_TAKEN,
    DEFAULT_SHARE_LORAWAN,
    DOMAIN,
)
from .coordinator import TtnCoordinator, TtnMqttConfigEntry
from .fields import FIELD_KEY_PREFIX

if TYPE_CHECKING:
    from lorawan_connection import Connection

_LOGGER = logging.getLogger(__name__)

LORAWAN_DOMAIN = "lorawan"


class _RegisterConnection(Protocol):
    """`lorawan.async_register_connection`, as Home Assistant 2026.11 has it."""

    def __call__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        *,
        connection: Connection,
        configuration_url: str | None = None,
    ) -> Awaitable[Callable[[], None]]:
        """Register a connected backend; return what unregisters it."""


async def async_lorawan_available(hass: HomeAssistant) -> bool:
    """Return whether the running Home Assistant has its own `lorawan` integration."""
    return await _async_lorawan(hass) is not None


async def _async_lorawan(hass: HomeAssistant) -> Integration | None:
    try:
        integration = await async_get_integration(hass, LORAWAN_DOMAIN)
    except IntegrationNotFound:
        return None
    return integration if integration.is_built_in else None


async def async_share_devices(hass: HomeAssistant, entry: TtnMqttConfigEntry) -> None:
    """Register the entry as a LoRaWAN connection, when its option asks for it.

    The entry works as well without: a failure is logged, not raised.
    """
    if not entry.options.get(CONF_SHARE_LORAWAN, DEFAULT_SHARE_LORAWAN):
        return
    app_id = entry.runtime_data.settings.app_id
    # The option stays in an entry that a downgraded Home Assistant loads.
    if (integration := await _async_lorawan(hass)) is None:
        _LOGGER.warning(
            "This Home Assistant has no LoRaWAN integration: the devices of %s "
            "are not shared",
            app_id,
        )
        return
    # It brings lorawan-connection, which the adapter imports.
    if not await async_setup_component(hass, LORAWAN_DOMAIN, {}):
        _LOGGER.warning(
            "Home Assistant's LoRaWAN integration could not be set up: the devices "
            "of %s are not shared",
            app_id,
        )
        return
    from .lorawan_adapter import TtnMqttConnection  # noqa: PLC0415

    lorawan: Any = await integration.async_get_component()
    register: _RegisterConnection = lorawan.async_register_connection
    coordinator = entry.runtime_data
    connection = TtnMqttConnection(coordinator)
    connection.start()
    try:
        unregister = await register(
            hass,
            entry,
            connection=connection,
            configuration_url=_console_url(coordinator),
        )
    except Exception:
        connection.close()
        _LOGGER.exception("Could not share the devices of %s", app_id)
        return
    # Unload callbacks run last first: unregistered, then closed.
    entry.async_on_unload(connection.close)
    entry.async_on_unload(unregister)
    _async_follow_takeovers(hass, entry)


def _console_url(coordinator: TtnCoordinator) -> str:
    """Return the application's page in The Things Stack console."""
    settings = coordinator.settings
    return f"https://{settings.host}/console/applications/{settings.app_id}"


@callback
def _async_follow_takeovers(hass: HomeAssistant, entry: TtnMqttConfigEntry) -> None:
    """Keep the entry's taken DevEUIs up to date, and its field entities in step.

    A device integration names its devices `<connection's entry ID>:<DevEUI>` in the
    device registry (lorawan.device_identifier): the entry's own ID marks them.
    """
    taken = _taken_now(hass, entry)
    hass.data.setdefault(DATA_LORAWAN_TAKEN, {})[entry.entry_id] = taken
    _remove_field_entities(hass, entry, taken)

    @callback
    def registry_updated(_event: Event[dr.EventDeviceRegistryUpdatedData]) -> None:
        now = _taken_now(hass, entry)
        if now == taken:
            return
        released = bool(taken - now)
        gained = now - taken
        taken.clear()
        taken.update(now)
        if released:
            # Their field entities come back with the entry.
            hass.config_entries.async_schedule_reload(entry.entry_id)
        else:
            _remove_field_entities(hass, entry, gained)

    @callback
    def forget() -> None:
        hass.data[DATA_LORAWAN_TAKEN].pop(entry.entry_id, None)

    entry.async_on_unload(
        hass.bus.async_listen(dr.EVENT_DEVICE_REGISTRY_UPDATED, registry_updated)
    )
    entry.async_on_unload(forget)


def _taken_now(hass: HomeAssistant, entry: ConfigEntry) -> set[str]:
    prefix = f"{entry.entry_id}:"
    return {
        value.removeprefix(prefix).lower()
        for device in registry_devices(dr.async_get(hass))
        for domain, value in device.identifiers
        if domain != DOMAIN and value.startswith(prefix)
    }


def _remove_field_entities(
    hass: HomeAssistant, entry: TtnMqttConfigEntry, dev_euis: set[str]
) -> None:
    """Remove the field entities of the devices with these DevEUIs."""
    coordinator = entry.runtime_data
    prefixes = tuple(
        f"{coordinator.uid}/{device.device_id}/{FIELD_KEY_PREFIX}"
        for device in coordinator.devices.values()
        if device.uplink is not None
        and (device.uplink.device.dev_eui or "").lower() in dev_euis
    )
    if not prefixes:
        return
    registry = er.async_get(hass)
    for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
        if entity.unique_id.startswith(prefixes):
            registry.async_remove(entity.entity_id)
