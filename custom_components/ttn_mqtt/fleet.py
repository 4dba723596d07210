"""The fleet: every end device of one application, and the messages applied to them.

The model's only writer (a TtnDevice per end device, the ledger, the counters): the
link's messages and the backfill's uplinks come in here; the device registry, the bus,
the store, platforms and entities hear of each change from here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import partial
import logging

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, Context, HomeAssistant, callback
from homeassistant.util import dt as dt_util

from .bus_events import async_fire_downlink, async_fire_uplink
from .decoded_fields import take_decoded
from .device_store import DeviceStore
from .fields import assign_platforms
from .models import TtnCounters, TtnDevice, entity_sources
from .protocol.downlink import exhausted_report
from .protocol.errors import TtnParseError
from .protocol.messages import (
    ApplicationUp,
    DownlinkEvent,
    JoinAccept,
    LocationSolved,
    Uplink,
    VersionIds,
    parse_payload,
)
from .protocol.topics import HANDLED_KINDS, parse_topic
from .protocol.uplink_ledger import UplinkLedger, is_older
from .registry import (
    async_register_application,
    async_register_device,
    registered_id,
    registration,
)
from .skipped import SkippedMessages

_LOGGER = logging.getLogger(__name__)

type DeviceListener = Callable[[Context | None], None]
# Called with each uplink applied (once, live or fetched back: the bool) and each join.
type MessageListener = Callable[[Uplink | JoinAccept, bool], None]


class Fleet:
    """Every end device of one application: what is known of each, kept and told."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, uid: str, app_id: str
    ) -> None:
        """Start with no device; async_restore brings back the stored ones."""
        self.hass = hass
        self.entry = entry
        self.uid = uid
        self.app_id = app_id
        self.devices: dict[str, TtnDevice] = {}
        self.ledger = UplinkLedger()
        self.counters = TtnCounters()
        self.application_device_id: str | None = None
        # Devices silent for longer than this are stale; None: never.
        self.stale_after: timedelta | None = None
        self._skipped = SkippedMessages(app_id)
        self._store = DeviceStore(hass, entry, lambda: (self.devices, self.ledger))
        self._device_listeners: dict[str, list[DeviceListener]] = {}
        self._new_data_listeners: list[Callable[[TtnDevice], None]] = []
        self._downlink_listeners: list[Callable[[DownlinkEvent], None]] = []
        self._message_listeners: list[MessageListener] = []

    # Listeners: platforms and entities subscribe here.

    @callback
    def async_add_device_listener(
        self, device_id: str, update: DeviceListener
    ) -> CALLBACK_TYPE:
        """Call update(context of the uplink, or None) on each change of one device."""
        listeners = self._device_listeners.setdefault(device_id, [])
        listeners.append(update)
        return partial(listeners.remove, update)

    @callback
    def async_add_new_data_listener(
        self, listener: Callable[[TtnDevice], None]
    ) -> CALLBACK_TYPE:
        """Call listener for every device update, before entities; platforms add entities."""
        self._new_data_listeners.append(listener)
        return partial(self._new_data_listeners.remove, listener)

    @callback
    def async_add_downlink_listener(
        self, listener: Callable[[DownlinkEvent], None]
    ) -> CALLBACK_TYPE:
        """Call listener with each downlink report."""
        self._downlink_listeners.append(listener)
        return partial(self._downlink_listeners.remove, listener)

    @callback
    def async_add_message_listener(self, listener: MessageListener) -> CALLBACK_TYPE:
        """Call listener with each uplink applied and each join, after entities."""
        self._message_listeners.append(listener)
        return partial(self._message_listeners.remove, listener)

    # Storage: the latest uplink of each device survives a restart.

    async def async_restore(self) -> None:
        """Register the application, and bring back the stored devices."""
        self.application_device_id = async_register_application(
            self.hass, self.entry, self.uid
        )
        self.devices, self.ledger = await self._store.async_load()
        for device in self.devices.values():
            # Fields stored without their platform (by an older release) get one.
            assign_platforms(device.field_platforms, device.fields)
            # Found in the registry, not written to it at every start: the device's
            # next uplink naming its make and model brings the entry up to date
            # (registered_as is unknown until then).
            device.ha_device_id = registered_id(
                self.hass, self.entry, self.uid, device.device_id
            )
            if device.ha_device_id is None:
                self._register_device(device)

    async def async_save(self) -> None:
        """Save now, as when the entry unloads."""
        await self._store.async_save()

    @callback
    def async_add_listed_device(
        self, device_id: str, dev_eui: str | None, version: VersionIds | None
    ) -> None:
        """Register a device the application lists, until its first uplink says more."""
        device = self.devices.get(device_id)
        if device is not None and device.uplink is not None:
            return
        new = device is None
        device = self._device(device_id)
        self._register_device(device, dev_eui, version)
        if new:
            self._notify(device)

    @callback
    def async_forget_device(self, device_id: str) -> None:
        """Forget a device the user deleted; it returns with its next uplink."""
        self.devices.pop(device_id, None)
        self._store.async_schedule_save()

    # Messages from the server, and uplinks fetched back from its storage.

    @callback
    def async_apply_received(self, topic: str, payload: bytes) -> None:
        """Parse and apply a message as it came over MQTT; skip and count a bad one."""
        try:
            self._apply_received(topic, payload)
        except Exception:
            # A defect of ours, not of the message: skip it, keep the session.
            _LOGGER.exception("Error applying a message on %s", topic)
            self.counters.malformed += 1

    def _apply_received(self, topic: str, payload: bytes) -> None:
        try:
            device_topic = parse_topic(self.uid, topic)
            if device_topic.kind not in HANDLED_KINDS:
                # Not subscribed to; another client of the broker may be.
                return
            known = self.devices.get(device_topic.device_id)
            message = parse_payload(payload, known.uplink if known else None)
        except TtnParseError as err:
            self._skip(topic, str(err))
            return
        if message.device.device_id != device_topic.device_id:
            self._skip(topic, "the message is of another device")
            return
        self.async_apply_message(message)

    def _skip(self, topic: str, reason: str) -> None:
        self.counters.malformed += 1
        self._skipped.skip(topic, reason)

    @callback
    def async_apply_message(
        self, message: ApplicationUp, *, backfilled: bool = False
    ) -> None:
        """Apply one message from the server (or fetched back from storage)."""
        if isinstance(message, Uplink):
            self._apply_uplink(message, backfilled=backfilled)
        elif isinstance(message, DownlinkEvent):
            self.async_apply_downlink_event(message)
        elif isinstance(message, LocationSolved | JoinAccept):
            # On a new device the first message is usually its join.
            device = self._device(message.device.device_id)
            seen = _seen_at(message.received_at)
            # A late join or location must not take Last seen back.
            if device.last_seen is None or seen > device.last_seen:
                device.last_seen = seen
            if isinstance(message, LocationSolved):
                device.solved_location = message.location
                self._store.async_schedule_save()
            if device.ha_device_id is None:
                self._register_device(device, message.device.dev_eui)
            self._notify(device)
            if isinstance(message, JoinAccept):
                for listener in list(self._message_listeners):
                    listener(message, False)

    # The backfill's side: it fetches, the fleet decides what is new.

    def start_backfill(self) -> datetime | None:
        """Hold the ledger at the gap; return after when the uplinks are missing."""
        return self.ledger.start_backfill()

    @callback
    def async_apply_backfilled(self, uplinks: Iterable[Uplink], malformed: int) -> None:
        """Apply uplinks fetched back; count what could not be read."""
        for uplink in uplinks:
            self._apply_uplink(uplink, backfilled=True)
        self.counters.malformed += malformed

    def finish_backfill(self) -> None:
        """Let live uplinks move the ledger on again: the gap is filled or given up."""
        self.ledger.finish_backfill()

    @callback
    def _apply_uplink(self, uplink: Uplink, *, backfilled: bool = False) -> None:
        if not self.ledger.add(uplink, fetched=backfilled):
            # Received live and fetched back as well: applied once.
            self.counters.duplicates += 1
            return
        device = self._device(uplink.device.device_id)
        self.counters.uplinks += 1
        self.counters.backfilled += backfilled
        received_at = uplink.received_at or dt_util.utcnow()
        # Live uplinks are applied in the order they arrive, whatever their stamps
        # (a clock ahead must not freeze a device). A fetched uplink older than the
        # device's latest gets its event, but must not take newer values back.
        newest = not (backfilled and is_older(uplink, device.uplink))
        if newest:
            device.uplink = uplink
            device.last_seen = _seen_at(received_at)
            if uplink.decoded_payload is not None:
                take_decoded(
                    self.hass,
                    self.entry.entry_id,
                    self.app_id,
                    device,
                    uplink.decoded_payload,
                )
            if device.stale and not self.is_stale(received_at):
                device.stale = False
                _LOGGER.info("%s reports again", device.device_id)
        if device.ha_device_id is None or (
            newest
            and uplink.version_ids is not None
            and device.registered_as != registration(uplink)
        ):
            # New, or first seen by a join or a downlink report: now with its make
            # and model.
            self._register_device(device)
        # One context for the event and every state the uplink changes: they belong
        # together, and Home Assistant ties each new context to its first event in a
        # reference cycle, which only a full garbage collection frees.
        context = Context()
        async_fire_uplink(
            self.hass, device, uplink, received_at, context, backfilled=backfilled
        )
        if newest:
            self._notify(device, context)
        self._store.async_schedule_save()
        for listener in list(self._message_listeners):
            listener(uplink, backfilled)

    @callback
    def async_apply_downlink_event(self, event: DownlinkEvent) -> None:
        """Apply a report on a downlink: the server's, or one of ours."""
        device = self._device(event.device.device_id)
        device.last_downlink = event
        self.counters.downlinks[event.status] += 1
        if device.ha_device_id is None:
            self._register_device(device)
        async_fire_downlink(self.hass, device, event)
        # Copies: a listener may add an entity, and so another listener, on the way.
        for listener in list(self._downlink_listeners):
            listener(event)
        if (dropped := exhausted_report(event)) is not None:
            self.async_apply_downlink_event(dropped)

    @callback
    def _notify(self, device: TtnDevice, context: Context | None = None) -> None:
        # Platforms look for new entities only when what they make them from changed:
        # most uplinks bring the fields the device already has.
        sources = entity_sources(device)
        if sources != device.entity_sources:
            device.entity_sources = sources
            # Copies: platforms add entities, and entities their listeners, on the way.
            for listener in list(self._new_data_listeners):
                listener(device)
        for update in list(self._device_listeners.get(device.device_id, ())):
            try:
                update(context)
            except Exception:
                # One entity's defect must not keep the device's others from updating.
                _LOGGER.exception("Error updating an entity of %s", device.device_id)

    @callback
    def async_update_all(self) -> None:
        """Tell every device's entities that the link changed: their availability may."""
        # On every change of the session's state: most leave it as it was, unwritten.
        for listeners in list(self._device_listeners.values()):
            for update in list(listeners):
                update(None)

    # Devices.

    @callback
    def async_check_stale(self, now: datetime) -> None:
        """Turn the entities of devices silent for longer than stale_after unavailable."""
        for device in self.devices.values():
            stale = device.last_seen is not None and self.is_stale(
                device.last_seen, now
            )
            if stale == device.stale:
                continue
            device.stale = stale
            if stale:
                _LOGGER.info(
                    "%s has sent no uplink for %s; its entities are unavailable "
                    "until it reports again",
                    device.device_id,
                    self.stale_after,
                )
            for update in self._device_listeners.get(device.device_id, ()):
                update(None)

    def is_stale(self, last_seen: datetime, now: datetime | None = None) -> bool:
        """Return whether a device last seen then is silent for longer than stale_after."""
        if self.stale_after is None:
            return False
        return last_seen < (now or dt_util.utcnow()) - self.stale_after

    def _device(self, device_id: str) -> TtnDevice:
        device = self.devices.get(device_id)
        if device is None:
            device = self.devices[device_id] = TtnDevice(device_id)
        return device

    @callback
    def _register_device(
        self,
        device: TtnDevice,
        dev_eui: str | None = None,
        version: VersionIds | None = None,
    ) -> None:
        async_register_device(
            self.hass,
            self.entry,
            self.uid,
            device,
            application_device_id=self.application_device_id,
            dev_eui=dev_eui,
            version=version,
        )


def _seen_at(received_at: datetime | None) -> datetime:
    """Return when a device was seen: when the server says, but never in the future."""
    now = dt_util.utcnow()
    return now if received_at is None else min(received_at, now)
