"""The application's device list: devices come before their first uplink, and go.

With a key that may read the application's devices (RIGHT_APPLICATION_DEVICES_READ,
"View devices in application" in the console), the entry lists them from the Identity
Server when it starts and every INVENTORY_INTERVAL: each device gets its Home Assistant
device (DevEUI, make and model) before it reports, and a device deleted in the console
is removed. Without that right (the server answers 403), devices come with their first
message and stay until deleted by hand, as without the list.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
import logging

from homeassistant.core import callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .coordinator import TtnCoordinator
from .key_check import async_list_devices

_LOGGER = logging.getLogger(__name__)

INVENTORY_INTERVAL = timedelta(minutes=5)


class DeviceInventory:
    """Keeps the coordinator's devices in step with the application's device list."""

    def __init__(self, coordinator: TtnCoordinator) -> None:
        """List nothing until async_start()."""
        self._coordinator = coordinator
        self._task: asyncio.Task[None] | None = None

    @callback
    def async_start(self) -> None:
        """List the devices now, then every INVENTORY_INTERVAL, until the entry unloads."""
        coordinator = self._coordinator
        coordinator.entry.async_on_unload(
            async_track_time_interval(
                coordinator.hass,
                self._async_tick,
                INVENTORY_INTERVAL,
                cancel_on_shutdown=True,
            )
        )
        self._async_tick(dt_util.utcnow())

    @callback
    def _async_tick(self, _now: datetime) -> None:
        if self._task is not None and not self._task.done():
            return
        coordinator = self._coordinator
        self._task = coordinator.entry.async_create_background_task(
            coordinator.hass,
            self.async_refresh(),
            f"{DOMAIN} device list of {coordinator.settings.app_id}",
            # Not inside the timer's callback: its request's timers are its own.
            eager_start=False,
        )

    async def async_refresh(self) -> None:
        """Add the devices listed, and remove those no longer listed."""
        coordinator = self._coordinator
        settings = coordinator.settings
        started = dt_util.utcnow()
        listed = await async_list_devices(
            coordinator.hass,
            settings.host,
            settings.api_key,
            settings.ca_pem,
            settings.app_id,
        )
        if listed is None:
            return
        for entry in listed:
            coordinator.async_add_listed_device(
                entry.device_id, entry.dev_eui, entry.version_ids
            )
        names = {entry.device_id for entry in listed}
        registry = dr.async_get(coordinator.hass)
        for device_id, device in list(coordinator.devices.items()):
            # One that reported while the list was read was added meanwhile.
            if device_id in names or (
                device.last_seen is not None and device.last_seen >= started
            ):
                continue
            _LOGGER.info(
                "%s is no longer a device of %s: removed", device_id, settings.app_id
            )
            coordinator.async_forget_device(device_id)
            if device.ha_device_id is not None:
                registry.async_remove_device(device.ha_device_id)
