"""The application's end devices, as The Things Stack's Identity Server lists them.

`GET /api/v3/applications/{application_id}/devices` (EndDeviceRegistry.List, served by
the Identity Server) needs the key's right RIGHT_APPLICATION_DEVICES_READ
(identityserver/end_device_registry.go `listEndDevices`). It pages with `limit` and
`page` (from 1), and says how many devices there are in all in the `X-Total-Count`
header. Its field mask asks for the name and the make and model; the IDs always come.
The server leaves out what is empty: an application without devices answers `{}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from .errors import TtnParseError
from .ids import is_valid_id, normalize_eui
from .messages import VersionIds, parse_version_ids

PAGE_SIZE: Final = 100
FIELD_MASK: Final = "name,version_ids"
TOTAL_COUNT_HEADER: Final = "X-Total-Count"


@dataclass(frozen=True, slots=True)
class ListedDevice:
    """One end device of the list."""

    device_id: str
    dev_eui: str | None
    name: str | None
    version_ids: VersionIds | None


def end_devices_path(app_id: str) -> str:
    """Return the path of an application's device list."""
    if not is_valid_id(app_id):
        raise ValueError(f"invalid application id: {app_id!r}")
    return f"/api/v3/applications/{app_id}/devices"


def end_devices_query(page: int) -> dict[str, str]:
    """Return the query of one page (from 1) of the list."""
    return {"field_mask": FIELD_MASK, "limit": str(PAGE_SIZE), "page": str(page)}


@dataclass(frozen=True, slots=True)
class DevicePage:
    """One page of the list: its devices, and how many entries it had in all."""

    devices: list[ListedDevice]
    entries: int


def parse_end_devices(body: Any) -> DevicePage:
    """Return one page of the list; TtnParseError if it is not a device list.

    An entry without a valid device ID is left out; a DevEUI that is not one is None.
    """
    if not isinstance(body, dict):
        raise TtnParseError("the device list is not an object")
    entries = body.get("end_devices", [])
    if not isinstance(entries, list):
        raise TtnParseError("end_devices is not a list")
    devices = []
    for entry in entries:
        ids = entry.get("ids") if isinstance(entry, dict) else None
        if not isinstance(ids, dict):
            continue
        device_id = ids.get("device_id")
        if not isinstance(device_id, str) or not is_valid_id(device_id):
            continue
        try:
            version = parse_version_ids(entry.get("version_ids"))
        except TtnParseError:
            version = None
        name = entry.get("name")
        devices.append(
            ListedDevice(
                device_id=device_id,
                dev_eui=_eui(ids.get("dev_eui")),
                name=name if isinstance(name, str) and name else None,
                version_ids=version,
            )
        )
    return DevicePage(devices, len(entries))


def _eui(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return normalize_eui(value)
    except ValueError:
        return None
