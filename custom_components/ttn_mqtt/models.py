"""What the integration knows of an application's end devices, and what it counted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .protocol.messages import (
    DownlinkEvent,
    DownlinkStatus,
    Location,
    Uplink,
    VersionIds,
)


@dataclass(slots=True)
class TtnDevice:
    """What is known of one end device: its latest uplink and decoded fields."""

    device_id: str
    ha_device_id: str | None = None
    uplink: Uplink | None = None
    # The flattened decoded payload, merged over uplinks: a field missing from one
    # uplink keeps its last value.
    fields: dict[str, Any] = field(default_factory=dict)
    last_seen: datetime | None = None
    last_downlink: DownlinkEvent | None = None
    # Where a location solver (e.g. LoRa Cloud) last placed the device.
    solved_location: Location | None = None
    # Unit and class hints from the decoder's `_sensor_attr`, by field, merged over uplinks.
    sensor_attr: dict[str, Any] = field(default_factory=dict)
    # Which platform shows each field, decided by its first known value, so that a
    # field changing type never gets a second entity.
    field_platforms: dict[str, str] = field(default_factory=dict)
    # True once the device has sent nothing for longer than the stale_hours option.
    stale: bool = False
    # The DevEUI and make and model the device registry has from an uplink, if any.
    registered_as: tuple[str | None, VersionIds | None] | None = None
    # What the platforms last made entities from (fleet.py's `_entity_sources`).
    entity_sources: tuple[Any, ...] | None = None


@dataclass(slots=True)
class TtnCounters:
    """Counters for diagnostics."""

    uplinks: int = 0
    # Uplinks fetched back from the Storage Integration, and those that came twice.
    backfilled: int = 0
    duplicates: int = 0
    malformed: int = 0
    downlinks: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(DownlinkStatus, 0)
    )


def entity_sources(device: TtnDevice) -> tuple[Any, ...]:
    """Return what the platforms make a device's entities from.

    Its registration, its fields and their platforms (fields are only ever added),
    and the positions a tracker can show besides the payload's.
    """
    return (
        device.ha_device_id,
        len(device.fields),
        len(device.field_platforms),
        device.solved_location,
        tuple(device.uplink.locations.values()) if device.uplink else (),
    )
