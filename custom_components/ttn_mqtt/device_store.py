"""What an entry keeps over restarts, in Home Assistant's Store: its devices and ledger."""

from __future__ import annotations

from collections.abc import Callable, Mapping
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .models import TtnDevice
from .payload import sensor_hints
from .protocol.errors import TtnParseError
from .protocol.messages import (
    Uplink,
    parse_application_up,
    parse_location,
    parse_payload,
)
from .protocol.uplink_ledger import UplinkLedger

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION = 1
# Uplinks come in all the time; writing the store for each would wear SD cards.
STORAGE_SAVE_DELAY = 30


type Snapshot = Callable[[], tuple[Mapping[str, TtnDevice], UplinkLedger]]


def _store(hass: HomeAssistant, entry: ConfigEntry) -> Store[dict[str, Any]]:
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}")


async def async_remove_store(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Delete what an entry stored, when the entry is deleted."""
    await _store(hass, entry).async_remove()


class DeviceStore:
    """Loads an entry's devices and ledger, and saves them a while after they change."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, snapshot: Snapshot
    ) -> None:
        """Save what snapshot returns, when a save is due."""
        self._store = _store(hass, entry)
        self._snapshot = snapshot
        self._save_pending = False

    async def async_load(self) -> tuple[dict[str, TtnDevice], UplinkLedger]:
        """Return the stored devices and ledger; what cannot be read is left out."""
        stored = await self._store.async_load() or {}
        ledger = UplinkLedger()
        try:
            ledger = UplinkLedger.from_dict(stored.get("ledger") or {})
        except ValueError:
            _LOGGER.debug("Ignoring the stored ledger; backfilling from scratch")
        devices = {
            device_id: _decode_device(device_id, saved)
            for device_id, saved in stored.get("devices", {}).items()
        }
        return devices, ledger

    @callback
    def async_schedule_save(self) -> None:
        """Save at most STORAGE_SAVE_DELAY after the first change since the last save.

        Store.async_delay_save starts its delay again on every call: called for each
        uplink, it would not save for as long as uplinks keep coming.
        """
        if not self._save_pending:
            self._save_pending = True
            self._store.async_delay_save(self._data_to_store, STORAGE_SAVE_DELAY)

    async def async_save(self) -> None:
        """Save now, as when the entry unloads."""
        await self._store.async_save(self._data_to_store())

    def _data_to_store(self) -> dict[str, Any]:
        # Called in the executor while uplinks are applied on the event loop: the
        # loops here go over copies, made in one step. The values are encoded in one
        # step too, by orjson.
        self._save_pending = False
        devices, ledger = self._snapshot()
        return {
            "devices": {
                device.device_id: _encode_device(device)
                for device in list(devices.values())
            },
            "ledger": ledger.as_dict(),
        }


def _encode_device(device: TtnDevice) -> dict[str, Any]:
    return {
        # As received, as one string: loaded back, it is one object rather than the
        # hundred of the message's JSON, which at a start with many devices were
        # enough to make Python run a full garbage collection.
        "uplink": device.uplink.raw_json.decode() if device.uplink else None,
        "fields": device.fields,
        "sensor_attr": device.sensor_attr,
        "field_platforms": device.field_platforms,
        "solved_location": device.solved_location._asdict()
        if device.solved_location
        else None,
        "last_seen": device.last_seen.isoformat() if device.last_seen else None,
    }


def _decode_device(device_id: str, saved: dict[str, Any]) -> TtnDevice:
    device = TtnDevice(device_id)
    if (stored := saved.get("uplink")) is not None:
        try:
            # Releases before 0.3.1 stored the message as a JSON object.
            message = (
                parse_payload(stored.encode())
                if isinstance(stored, str)
                else parse_application_up(stored)
            )
        except TtnParseError:
            _LOGGER.debug("Ignoring the stored uplink of %s", device_id)
        else:
            if isinstance(message, Uplink):
                device.uplink = message
    device.fields = saved.get("fields") or {}
    # Kept to the shape used: a store of 0.1.0 may hold any nesting a decoder sent.
    device.sensor_attr = sensor_hints(saved.get("sensor_attr"))
    device.field_platforms = saved.get("field_platforms") or {}
    if saved.get("solved_location") is not None:
        try:
            device.solved_location = parse_location(saved["solved_location"])
        except TtnParseError:
            _LOGGER.debug("Ignoring the stored location of %s", device_id)
    if saved.get("last_seen"):
        last_seen = dt_util.parse_datetime(saved["last_seen"])
        device.last_seen = dt_util.as_utc(last_seen) if last_seen else None
    return device
