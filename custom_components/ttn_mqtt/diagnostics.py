"""Diagnostics: enough to answer a support question, and nothing that should stay private.

Redacted: the API key (it reads the application's traffic and sends downlinks), a
self-hosted stack's CA certificate (it names private infrastructure), and every
position: coordinates under any name a payload formatter or The Things Stack gives
them (`latitude`, `gps_lat`, `gpsLatitude`, ...), and the frm_payload of an uplink
whose decoded payload holds a position, as those bytes encode the same position.

Kept: device ids, DevEUIs, JoinEUIs and device addresses. They are what a user looks
up in the TTN console, they travel over the air in the clear, and they grant nothing:
an end device's keys never reach an application.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.core import HomeAssistant
from homeassistant.helpers.device_registry import DeviceEntry

from .const import CONF_API_KEY, CONF_CA_PEM
from .coordinator import TtnCoordinator, TtnMqttConfigEntry
from .fields import is_coordinate_name
from .models import TtnDevice

TO_REDACT = {CONF_API_KEY, CONF_CA_PEM}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: TtnMqttConfigEntry
) -> dict[str, Any]:
    """Return the entry's settings, its connection, its counters and every device."""
    coordinator = entry.runtime_data
    return {
        "entry": {
            "title": entry.title,
            "data": async_redact_data(entry.data, TO_REDACT),
            "options": async_redact_data(entry.options, TO_REDACT),
        },
        "connection": _connection(coordinator),
        "counters": _counters(coordinator),
        "devices": {
            device_id: _device(device)
            for device_id, device in coordinator.devices.items()
        },
    }


async def async_get_device_diagnostics(
    hass: HomeAssistant, entry: TtnMqttConfigEntry, device: DeviceEntry
) -> dict[str, Any]:
    """Return one end device's data, or the application's connection and counters."""
    coordinator = entry.runtime_data
    data: dict[str, Any] = {"connection": _connection(coordinator)}
    if coordinator.application_identifier in device.identifiers:
        data["counters"] = _counters(coordinator)
        return data
    device_id = coordinator.end_device_id(device)
    known = coordinator.devices.get(device_id) if device_id else None
    data["device_id"] = device_id
    # None for a device in the registry whose stored data was lost.
    data["device"] = _device(known) if known else None
    return data


def _connection(coordinator: TtnCoordinator) -> dict[str, Any]:
    """Return the link's state and the session's counters: connects, reconnects, ..."""
    return {
        "host": coordinator.settings.host,
        "application": coordinator.uid,
        "connected": coordinator.connected,
        "link_available": coordinator.link_available,
        "session_state": coordinator.session.state.value,
        **asdict(coordinator.session.stats),
    }


def _counters(coordinator: TtnCoordinator) -> dict[str, Any]:
    """Return the message counters: uplinks, malformed messages, downlinks by status."""
    counters = asdict(coordinator.counters)
    counters["downlinks"] = {
        str(status): count for status, count in coordinator.counters.downlinks.items()
    }
    return counters


def _device(device: TtnDevice) -> dict[str, Any]:
    """Return what is known of an end device, its latest uplink included."""
    uplink = device.uplink.raw if device.uplink else None
    downlink = device.last_downlink.raw if device.last_downlink else None
    return {
        "last_seen": device.last_seen.isoformat() if device.last_seen else None,
        "stale": device.stale,
        "fields": _redact_coordinates(device.fields),
        "sensor_attr": device.sensor_attr,
        "field_platforms": device.field_platforms,
        "latest_uplink": _redact_uplink(uplink) if uplink else None,
        "latest_downlink_event": _redact_coordinates(downlink) if downlink else None,
        "solved_location": _redact_coordinates(device.solved_location._asdict())
        if device.solved_location
        else None,
    }


def _redact_uplink(raw: dict[str, Any]) -> dict[str, Any]:
    """Redact an uplink's coordinates, and its bytes when they encode a position."""
    redacted: dict[str, Any] = _redact_coordinates(raw)
    message = redacted.get("uplink_message")
    if (
        isinstance(message, dict)
        and message.get("frm_payload")
        and _has_coordinates(raw["uplink_message"].get("decoded_payload"))
    ):
        message["frm_payload"] = REDACTED
    return redacted


def _is_coordinate(key: Any, value: Any) -> bool:
    """Return whether a value is a latitude or longitude, named as the tracker reads it.

    Text counts too: redacting a position the tracker would not show costs nothing.
    """
    return (
        isinstance(key, str)
        and isinstance(value, int | float | str)
        and is_coordinate_name(key)
    )


def _redact_coordinates(data: Any) -> Any:
    """Return a copy of data with every coordinate replaced, however deep."""
    if isinstance(data, Mapping):
        return {
            key: REDACTED if _is_coordinate(key, value) else _redact_coordinates(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [_redact_coordinates(item) for item in data]
    return data


def _has_coordinates(data: Any) -> bool:
    if isinstance(data, Mapping):
        return any(
            _is_coordinate(key, value) or _has_coordinates(value)
            for key, value in data.items()
        )
    if isinstance(data, list):
        return any(_has_coordinates(item) for item in data)
    return False
