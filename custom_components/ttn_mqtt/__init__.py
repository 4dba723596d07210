"""The Things Network (MQTT): live uplinks, downlinks and their fate, pushed over MQTT."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import config_validation as cv, issue_registry as ir
from homeassistant.helpers.device_registry import DeviceEntry
from homeassistant.helpers.typing import ConfigType

from .backfill import storage_issue_id
from .const import DOMAIN
from .coordinator import TtnCoordinator, TtnMqttConfigEntry
from .device_store import async_remove_store
from .inventory import DeviceInventory
from .lorawan_share import async_share_devices
from .services import async_setup_services

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.DEVICE_TRACKER,
    Platform.EVENT,
    Platform.SENSOR,
]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions, which serve every entry."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: TtnMqttConfigEntry) -> bool:
    """Connect to the application and set up its entities."""
    coordinator = TtnCoordinator(hass, entry)
    await coordinator.async_start()
    entry.runtime_data = coordinator
    entry.async_on_unload(coordinator.async_stop)
    entry.async_on_unload(entry.add_update_listener(async_reload_entry))
    # Before the platforms: they leave out the fields of devices shared and taken.
    await async_share_devices(hass, entry)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    DeviceInventory(coordinator).async_start()
    return True


async def async_reload_entry(hass: HomeAssistant, entry: TtnMqttConfigEntry) -> None:
    """Apply new data (reauth, reconfigure) or options by setting the entry up again."""
    hass.config_entries.async_schedule_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: TtnMqttConfigEntry) -> bool:
    """Unload the entities; the coordinator's stop runs as an unload callback."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: TtnMqttConfigEntry) -> None:
    """Delete what the entry kept: its devices' latest uplinks and its repair issue."""
    await async_remove_store(hass, entry)
    ir.async_delete_issue(hass, DOMAIN, storage_issue_id(entry))


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: TtnMqttConfigEntry, device: DeviceEntry
) -> bool:
    """Let the user delete an end device; it comes back if it reports again."""
    if entry.state is not ConfigEntryState.LOADED:
        # Its stored devices come back at the next setup, the deleted one included.
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"application": entry.title},
        )
    coordinator = entry.runtime_data
    if coordinator.application_identifier in device.identifiers:
        return False
    if (device_id := coordinator.end_device_id(device)) is not None:
        coordinator.async_forget_device(device_id)
    return True
