"""What differs between the Home Assistant releases we support, 2025.4 to today.

Each name here is the current API where the running release has it, and its older
form otherwise, so that the rest of the integration is written once. Remove an entry
when the oldest supported release has the new API.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.util import find_spec
import inspect
import sys
from typing import TYPE_CHECKING, Any, Protocol

from homeassistant.helpers import device_registry as dr

__all__ = [
    "MICROGRAMS_PER_CUBIC_METER",
    "PARTS_PER_BILLION",
    "PARTS_PER_MILLION",
    "RegistryDevice",
    "device_config_entry_ids",
    "registered_device",
    "registry_devices",
    "via_device",
    "vol",
]

# Home Assistant 2026.x validates with probatio, voluptuous's successor, and no longer
# requires voluptuous itself: use what the running release uses.
# mypy checks each release with its own Python (scripts/test): 3.13 runs the oldest.
if TYPE_CHECKING:
    if sys.version_info >= (3, 14):
        import probatio as vol
    else:
        import voluptuous as vol
elif find_spec("probatio"):
    import probatio as vol
else:  # pragma: no cover - the oldest release's branch
    import voluptuous as vol

try:  # Home Assistant 2026.8: concentrations became densities and ratios.
    from homeassistant.const import UnitOfDensity, UnitOfRatio

    MICROGRAMS_PER_CUBIC_METER: str = UnitOfDensity.MICROGRAMS_PER_CUBIC_METER
    PARTS_PER_MILLION: str = UnitOfRatio.PARTS_PER_MILLION
    PARTS_PER_BILLION: str = UnitOfRatio.PARTS_PER_BILLION
except ImportError:  # pragma: no cover - the oldest release's branch
    from homeassistant import const

    MICROGRAMS_PER_CUBIC_METER = const.CONCENTRATION_MICROGRAMS_PER_CUBIC_METER
    PARTS_PER_MILLION = const.CONCENTRATION_PARTS_PER_MILLION
    PARTS_PER_BILLION = const.CONCENTRATION_PARTS_PER_BILLION

# Home Assistant 2026.8: a device names its hub by the hub's registry id.
_HAS_VIA_DEVICE_ID = (
    "via_device_id"
    in inspect.signature(dr.DeviceRegistry.async_get_or_create).parameters
)


def via_device(identifier: tuple[str, str], device_id: str | None) -> dict[str, Any]:
    """Return the async_get_or_create argument that places a device under its hub.

    identifier is the hub's registry identifier, device_id its registry id.
    """
    if _HAS_VIA_DEVICE_ID:
        return {"via_device_id": device_id}
    return {"via_device": identifier}  # pragma: no cover - the oldest release's branch


class RegistryDevice(Protocol):
    """A device registry entry: DeviceEntry, or from 2026.x also ChildDeviceEntry."""

    @property
    def id(self) -> str:
        """Return the device's registry id."""

    @property
    def identifiers(self) -> set[tuple[str, str]]:
        """Return the device's (domain, identifier) pairs."""

    @property
    def config_entries(self) -> set[str]:
        """Return the config entries of the device (before 2026.8)."""


def device_config_entry_ids(device: RegistryDevice) -> set[str]:
    """Return the config entries a registry device belongs to.

    From Home Assistant 2026.8 a device belongs to one entry (config_entry_id).
    """
    if (entry_id := getattr(device, "config_entry_id", None)) is not None:
        return {entry_id}
    return set(device.config_entries)


def registry_devices(registry: dr.DeviceRegistry) -> list[RegistryDevice]:
    """Return every device of the device registry.

    Before Home Assistant 2026.8, `devices` maps registry ids to devices; from 2026.8
    it is a collection of devices, and devices under a hub are in `child_devices`.
    """
    devices: Any = registry.devices
    if isinstance(devices, Mapping):  # pragma: no cover - the oldest release's branch
        return list(devices.values())
    return [*devices, *getattr(registry, "child_devices", ())]


def registered_device(
    registry: dr.DeviceRegistry, identifier: tuple[str, str], config_entry_id: str
) -> RegistryDevice | None:
    """Return the config entry's device with this identifier, one under a hub included.

    From Home Assistant 2026.8 a device under a hub is a child device, found by a
    lookup of its own, and `async_get_device` is deprecated.
    """
    find_child = getattr(registry, "async_get_child_device_by_identifier", None)
    if find_child is None:  # pragma: no cover - the oldest release's branch
        return registry.async_get_device(identifiers={identifier})
    # The lookups of 2026.8 and later, which the oldest release's types lack.
    current: Any = registry
    device: RegistryDevice | None = find_child(
        identifier, config_entry_id
    ) or current.async_get_device_by_identifier(identifier, config_entry_id)
    return device
