"""The device registry: the application as a service device, each end device under it."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr

from .compat import RegistryDevice, registered_device, via_device
from .const import CONF_APP_EUI, CONF_APP_ID, DOMAIN, MANUFACTURER
from .device_repository import known_version, model_name, vendor_name
from .models import TtnDevice
from .protocol.messages import Uplink, VersionIds


def application_identifier(uid: str) -> tuple[str, str]:
    """Return the registry identifier of a TTN application itself."""
    return (DOMAIN, uid)


def device_identifier(uid: str, device_id: str) -> tuple[str, str]:
    """Return the registry identifier of an end device of an application."""
    return (DOMAIN, f"{uid}/{device_id}")


def end_device_id(uid: str, device: RegistryDevice) -> str | None:
    """Return the TTN device ID of a registry device: device_identifier reversed.

    None for the application's own device, which has no device ID.
    """
    prefix = f"{uid}/"
    return next(
        (
            identifier.removeprefix(prefix)
            for domain, identifier in device.identifiers
            if domain == DOMAIN and identifier.startswith(prefix)
        ),
        None,
    )


def registered_id(
    hass: HomeAssistant, entry: ConfigEntry, uid: str, device_id: str
) -> str | None:
    """Return the registry id of an end device, None when the registry has none."""
    device = registered_device(
        dr.async_get(hass), device_identifier(uid, device_id), entry.entry_id
    )
    return device.id if device else None


def registration(uplink: Uplink) -> tuple[str | None, VersionIds | None]:
    """Return what the device registry shows of a device from its uplink."""
    return uplink.device.dev_eui, uplink.version_ids


@callback
def async_register_application(
    hass: HomeAssistant, entry: ConfigEntry, uid: str
) -> str:
    """Add or update the application's device; return its registry id."""
    data = entry.data
    return (
        dr.async_get(hass)
        .async_get_or_create(
            config_entry_id=entry.entry_id,
            identifiers={application_identifier(uid)},
            name=data[CONF_APP_ID],
            manufacturer=MANUFACTURER,
            model="Application",
            serial_number=data.get(CONF_APP_EUI) or None,
            entry_type=dr.DeviceEntryType.SERVICE,
        )
        .id
    )


@callback
def async_register_device(
    hass: HomeAssistant,
    entry: ConfigEntry,
    uid: str,
    device: TtnDevice,
    *,
    application_device_id: str | None,
    dev_eui: str | None = None,
    version: VersionIds | None = None,
) -> None:
    """Add or update an end device, with the make and model its uplink names.

    Without an uplink, what a join or the device list says: dev_eui and version.
    """
    if device.uplink is not None:
        version = device.uplink.version_ids
        dev_eui = device.uplink.device.dev_eui
    entry_device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={device_identifier(uid, device.device_id)},
        name=device.device_id,
        serial_number=dev_eui,
        manufacturer=vendor_name(version.brand_id) if version else None,
        model=model_name(version.model_id) if version else None,
        hw_version=known_version(version.hardware_version) if version else None,
        sw_version=known_version(version.firmware_version) if version else None,
        **via_device(application_identifier(uid), application_device_id),
    )
    device.ha_device_id = entry_device.id
    if device.uplink is not None:
        device.registered_as = registration(device.uplink)
