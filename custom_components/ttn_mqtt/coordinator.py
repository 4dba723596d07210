"""The coordinator: one per config entry, wiring the link, the fleet and the backfill.

- the link (link.py) keeps the MQTT session and hands each message to the fleet;
- the fleet (fleet.py) applies it to the device it is about, and tells the device
  registry, the bus, the store and the entities;
- the backfill (backfill.py) fetches what was missed after every connection and hands
  it to the fleet too;
- the downlink sender (downlink_sender.py) publishes over the link and makes sure each
  downlink gets a report.
Platforms, actions and diagnostics reach all of them through this object only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from .backfill import Backfill
from .compat import RegistryDevice
from .const import CONF_STALE_HOURS, DEFAULT_STALE_HOURS
from .downlink_sender import DownlinkSender
from .fleet import DeviceListener, Fleet, MessageListener
from .link import Link, settings_from_data
from .models import TtnCounters, TtnDevice
from .protocol.downlink import Downlink
from .protocol.messages import DownlinkEvent, VersionIds
from .protocol.topics import DownlinkMode
from .registry import application_identifier, device_identifier, end_device_id

# How often devices are checked for the stale_hours option.
STALE_CHECK_INTERVAL = timedelta(minutes=1)

type TtnMqttConfigEntry = ConfigEntry[TtnCoordinator]


class TtnCoordinator:
    """One entry's link, fleet, backfill and downlink sender; entities read from it."""

    def __init__(self, hass: HomeAssistant, entry: TtnMqttConfigEntry) -> None:
        """Wire the entry's parts; nothing connects until async_start()."""
        self.hass = hass
        self.entry = entry
        self.settings = settings_from_data(entry.data)
        self.uid = self.settings.uid
        self.fleet = Fleet(hass, entry, self.uid, self.settings.app_id)
        self.backfill = Backfill(hass, entry, self.settings, self.fleet)
        self.link = Link(
            hass,
            entry,
            self.settings,
            on_message=self.fleet.async_apply_received,
            on_connected=self.backfill.async_start,
        )
        self.session = self.link.session
        self.link.async_add_listener(self.fleet.async_update_all)
        self.downlinks = DownlinkSender(hass, self.link, self.fleet)

    # What platforms, actions and diagnostics read.

    @property
    def devices(self) -> dict[str, TtnDevice]:
        """Return every known end device, by device ID."""
        return self.fleet.devices

    @property
    def counters(self) -> TtnCounters:
        """Return what was counted, for diagnostics."""
        return self.fleet.counters

    @property
    def connected(self) -> bool:
        """Return whether the MQTT session is connected."""
        return self.link.connected

    @property
    def link_available(self) -> bool:
        """Return False once the link has been down for longer than its grace."""
        return self.link.available

    @property
    def application_identifier(self) -> tuple[str, str]:
        """Return the device-registry identifier of the TTN application itself."""
        return application_identifier(self.uid)

    def device_identifier(self, device_id: str) -> tuple[str, str]:
        """Return the device-registry identifier of an end device."""
        return device_identifier(self.uid, device_id)

    def end_device_id(self, device: RegistryDevice) -> str | None:
        """Return the TTN device ID of a registry device; None for the application's."""
        return end_device_id(self.uid, device)

    # Listeners: entities and platforms subscribe here.

    @callback
    def async_add_device_listener(
        self, device_id: str, update: DeviceListener
    ) -> CALLBACK_TYPE:
        """Call update on each new uplink of one device; return the unsubscriber."""
        return self.fleet.async_add_device_listener(device_id, update)

    @callback
    def async_add_new_data_listener(
        self, listener: Callable[[TtnDevice], None]
    ) -> CALLBACK_TYPE:
        """Call listener for every device update, before entities; platforms add entities."""
        return self.fleet.async_add_new_data_listener(listener)

    @callback
    def async_add_link_listener(self, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call update when the connection or the entities' availability changes."""
        return self.link.async_add_listener(update)

    @callback
    def async_add_downlink_listener(
        self, listener: Callable[[DownlinkEvent], None]
    ) -> CALLBACK_TYPE:
        """Call listener with each downlink report."""
        return self.fleet.async_add_downlink_listener(listener)

    @callback
    def async_add_message_listener(self, listener: MessageListener) -> CALLBACK_TYPE:
        """Call listener with each uplink applied and each join, after entities."""
        return self.fleet.async_add_message_listener(listener)

    # What actions and the device inventory do.

    def publish_downlinks(
        self, device_id: str, mode: DownlinkMode, downlinks: Sequence[Downlink]
    ) -> bool:
        """Publish downlinks (none clears the queue); False, sending nothing, if offline."""
        return self.downlinks.publish(device_id, mode, downlinks)

    @callback
    def async_add_listed_device(
        self, device_id: str, dev_eui: str | None, version: VersionIds | None
    ) -> None:
        """Register a device the application lists, until its first uplink says more."""
        self.fleet.async_add_listed_device(device_id, dev_eui, version)

    @callback
    def async_forget_device(self, device_id: str) -> None:
        """Forget a device the user deleted; it returns with its next uplink."""
        self.fleet.async_forget_device(device_id)

    # Start and stop.

    async def async_start(self) -> None:
        """Restore devices, connect, and raise for setup when the first connection fails."""
        await self.fleet.async_restore()
        await self.link.async_start()
        stale_hours = self.entry.options.get(CONF_STALE_HOURS, DEFAULT_STALE_HOURS)
        if stale_hours > 0:
            self.fleet.stale_after = timedelta(hours=stale_hours)
            self.fleet.async_check_stale(dt_util.utcnow())
            # One timer for every device: a check a minute costs less than a timer each.
            self.entry.async_on_unload(
                async_track_time_interval(
                    self.hass,
                    self.fleet.async_check_stale,
                    STALE_CHECK_INTERVAL,
                    cancel_on_shutdown=True,
                )
            )

    async def async_stop(self) -> None:
        """Disconnect, leaving no thread, task or timer behind, and save what is known."""
        await self.link.async_stop()
        self.downlinks.async_stop()
        await self.fleet.async_save()
