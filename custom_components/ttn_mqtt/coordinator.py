"""The coordinator: one per config entry, owning the MQTT session and every device's data."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
import logging
from time import monotonic
from types import MappingProxyType
from typing import Any, ClassVar

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Context, Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.event import async_call_later, async_track_time_interval
from homeassistant.util import dt as dt_util

from .backfill import StorageCatchUp
from .compat import RegistryDevice, via_device
from .const import (
    CONF_API_KEY,
    CONF_APP_EUI,
    CONF_APP_ID,
    CONF_CA_PEM,
    CONF_HOST,
    CONF_PORT,
    CONF_STALE_HOURS,
    CONF_TENANT,
    CONF_USE_TLS,
    CONNECT_TIMEOUT,
    DEFAULT_STALE_HOURS,
    DOMAIN,
    EVENT_DOWNLINK,
    EVENT_UPLINK,
    LINK_GRACE,
    MANUFACTURER,
)
from .device_repository import known_version, model_name, vendor_name
from .key_check import IdentityServer, KeyInfo, KeyStatus, refuses_key
from .payload import MAX_FIELDS, SENSOR_ATTR_KEY, flatten_payload, sensor_hints
from .protocol.downlink import (
    Downlink,
    build_downlink_message,
    exhausted_report,
    own_correlation_id,
    report_details,
    unanswered_report,
)
from .protocol.errors import TtnParseError
from .protocol.messages import (
    ApplicationUp,
    DownlinkEvent,
    DownlinkStatus,
    EndDeviceIds,
    JoinAccept,
    LocationSolved,
    Uplink,
    VersionIds,
    parse_payload,
)
from .protocol.session import (
    ConnectResult,
    Session,
    SessionSettings,
    SessionState,
)
from .protocol.storage import UplinkLedger, is_older
from .protocol.topics import (
    HANDLED_KINDS,
    DownlinkMode,
    downlink_topic,
    parse_topic,
)
from .skipped import SkippedMessages
from .store import DeviceStore, TtnDevice

_LOGGER = logging.getLogger(__name__)

# How often devices are checked for the stale_hours option.
STALE_CHECK_INTERVAL = timedelta(minutes=1)
# How many queued messages one event-loop callback handles at most before yielding,
# and for how long (seconds): a burst of new devices, each registered with its
# entities, must not hold the loop.
DRAIN_BATCH = 200
DRAIN_BUDGET = 0.02

type TtnMqttConfigEntry = ConfigEntry[TtnCoordinator]
type DeviceListener = Callable[[Context | None], None]
# Called with each uplink applied (once, live or fetched back: the bool) and each join.
type MessageListener = Callable[[Uplink | JoinAccept, bool], None]


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


def settings_from_entry(entry: ConfigEntry, **overrides: Any) -> SessionSettings:
    """Return the session settings of a config entry's data."""
    return settings_from_data(entry.data, **overrides)


def settings_from_data(data: Mapping[str, Any], **overrides: Any) -> SessionSettings:
    """Return the session settings of config entry data, or of a flow's input."""
    return SessionSettings(
        host=data[CONF_HOST],
        port=data[CONF_PORT],
        use_tls=data[CONF_USE_TLS],
        app_id=data[CONF_APP_ID],
        tenant=data[CONF_TENANT],
        api_key=data[CONF_API_KEY],
        ca_pem=data.get(CONF_CA_PEM),
        **overrides,
    )


async def async_connect_once(
    hass: HomeAssistant, settings: SessionSettings
) -> ConnectResult:
    """Try one connection with the session code, as the config flow checks its input."""
    session = Session(settings, on_message=lambda topic, payload: None)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            return await asyncio.wrap_future(session.start())
    except TimeoutError:
        return ConnectResult.CANNOT_CONNECT
    finally:
        await hass.async_add_executor_job(session.stop)


class TtnCoordinator:
    """Owns the session and the latest uplink of every device; entities read from it."""

    # Tests shorten the reconnect delays; users keep the defaults.
    session_overrides: ClassVar[Mapping[str, Any]] = MappingProxyType({})
    # How long the server may take to say it queued (or refused) a downlink; it
    # answers within a second when all is well.
    downlink_answer_timeout: ClassVar[float] = 30.0
    # How long the server may refuse a connection with a key it knows before a repair
    # issue says so (seconds).
    refusal_issue_after: ClassVar[float] = 600.0

    def __init__(self, hass: HomeAssistant, entry: TtnMqttConfigEntry) -> None:
        """Set up the coordinator; nothing connects until async_start()."""
        self.hass = hass
        self.entry = entry
        self.settings = settings_from_entry(entry, **self.session_overrides)
        self.uid = self.settings.uid
        self.devices: dict[str, TtnDevice] = {}
        self.counters = TtnCounters()
        self._skipped = SkippedMessages(self.settings.app_id)
        self.connected = False
        # False once the link has been down for longer than LINK_GRACE.
        self.link_available = True
        self.session = Session(
            self.settings, on_message=self._receive, on_state=self._receive_state
        )
        self._store = DeviceStore(hass, entry, self._snapshot)
        self._inbox: deque[tuple[str, bytes] | SessionState] = deque()
        self._drain_scheduled = False
        self._device_listeners: dict[str, list[DeviceListener]] = {}
        self._new_data_listeners: list[Callable[[TtnDevice], None]] = []
        self._link_listeners: list[CALLBACK_TYPE] = []
        self._downlink_listeners: list[Callable[[DownlinkEvent], None]] = []
        self._message_listeners: list[MessageListener] = []
        self._cancel_grace: CALLBACK_TYPE | None = None
        # Our correlation id -> the cancel of its no_answer timer.
        self._unanswered: dict[str, CALLBACK_TYPE] = {}
        # True from the first refusal (CONNACK 5) of a streak until connected again.
        self._refused = False
        self._cancel_refusal_issue: CALLBACK_TYPE | None = None
        self._lost = False
        # True once the first connection succeeded and setup went on.
        self._running = False
        # True from the start of async_stop: nothing new is started.
        self._stopping = False
        self._stale_after: timedelta | None = None
        self.application_device_id: str | None = None
        self.ledger = UplinkLedger()
        self.catch_up = StorageCatchUp(self)

    @property
    def application_identifier(self) -> tuple[str, str]:
        """Return the device-registry identifier of the TTN application itself."""
        return (DOMAIN, self.uid)

    def device_identifier(self, device_id: str) -> tuple[str, str]:
        """Return the device-registry identifier of an end device."""
        return (DOMAIN, f"{self.uid}/{device_id}")

    def end_device_id(self, device: RegistryDevice) -> str | None:
        """Return the TTN device ID of a registry device: device_identifier reversed.

        None for the application's own device, which has no device ID.
        """
        prefix = f"{self.uid}/"
        return next(
            (
                identifier.removeprefix(prefix)
                for domain, identifier in device.identifiers
                if domain == DOMAIN and identifier.startswith(prefix)
            ),
            None,
        )

    # Start and stop.

    async def async_start(self) -> None:
        """Restore devices, connect, and raise for setup when the first connection fails."""
        self._register_application()
        await self._async_restore()
        result = ConnectResult.CANNOT_CONNECT
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                result = await asyncio.wrap_future(self.session.start())
        except TimeoutError:
            pass
        if result is not ConnectResult.CONNECTED:
            await self.hass.async_add_executor_job(self.session.stop)
            if result is ConnectResult.INVALID_AUTH and not refuses_key(
                await self._async_check_key(), self.settings.app_id
            ):
                # CONNACK 5 for a key the Identity Server knows, or could not tell
                # about: the server failed otherwise; setup is tried again.
                raise ConfigEntryNotReady(
                    translation_domain=DOMAIN,
                    translation_key="refused_by_server",
                    translation_placeholders={"host": self.settings.host},
                )
            if result in (ConnectResult.INVALID_AUTH, ConnectResult.MISSING_RIGHTS):
                raise ConfigEntryAuthFailed(
                    translation_domain=DOMAIN, translation_key=result.value
                )
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN,
                translation_key="cannot_connect",
                translation_placeholders={"host": self.settings.host},
            )
        self._running = True
        self.entry.async_on_unload(
            # Not async_listen_once: that removes itself when it fires, and the
            # unload would remove it a second time.
            self.hass.bus.async_listen(
                EVENT_HOMEASSISTANT_STOP, self._async_handle_hass_stop
            )
        )
        stale_hours = self.entry.options.get(CONF_STALE_HOURS, DEFAULT_STALE_HOURS)
        if stale_hours > 0:
            self._stale_after = timedelta(hours=stale_hours)
            self._async_check_stale(dt_util.utcnow())
            # One timer for every device: a check a minute costs less than a timer each.
            self.entry.async_on_unload(
                async_track_time_interval(
                    self.hass,
                    self._async_check_stale,
                    STALE_CHECK_INTERVAL,
                    cancel_on_shutdown=True,
                )
            )

    async def async_stop(self) -> None:
        """Disconnect, leaving no thread, task or timer behind, and save what is known."""
        # A reconnect that races the stop starts no catch-up: the entry's tasks are
        # being cancelled, once.
        self._stopping = True
        await self.hass.async_add_executor_job(self.session.stop)
        # What the session handed over before it stopped is applied now, not by a
        # later callback after the final save.
        while self._inbox:
            self._drain()
        if self._cancel_grace:
            self._cancel_grace()
            self._cancel_grace = None
        for cancel in self._unanswered.values():
            cancel()
        self._unanswered.clear()
        self._end_refusal()
        await self._store.async_save()

    async def _async_handle_hass_stop(self, event: Event) -> None:
        self._stopping = True
        await self.hass.async_add_executor_job(self.session.stop)

    # Listeners: entities and platforms subscribe here.

    @callback
    def async_add_device_listener(
        self, device_id: str, update: DeviceListener
    ) -> CALLBACK_TYPE:
        """Call update on each new uplink of one device; return the unsubscriber.

        update gets the context of the uplink's event, or None when what changed
        came from no uplink.
        """
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
    def async_add_link_listener(self, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call update when the connection or the entities' availability changes."""
        self._link_listeners.append(update)
        return partial(self._link_listeners.remove, update)

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

    # Downlinks.

    def publish_downlinks(
        self, device_id: str, mode: DownlinkMode, downlinks: Sequence[Downlink]
    ) -> bool:
        """Publish downlinks (none clears the queue); False, sending nothing, if offline.

        Each downlink gets a report: the server's, or `no_answer` when it says nothing
        within downlink_answer_timeout.
        """
        body = build_downlink_message(downlinks)
        if not self.session.publish(downlink_topic(self.uid, device_id, mode), body):
            return False
        for downlink in downlinks:
            self._await_answer(device_id, downlink)
        return True

    def _await_answer(self, device_id: str, downlink: Downlink) -> None:
        timeout = self.downlink_answer_timeout

        @callback
        def no_answer(_now: datetime) -> None:
            del self._unanswered[downlink.correlation_id]
            _LOGGER.warning(
                "The Things Stack did not answer downlink %s to %s within %s s",
                downlink.correlation_id,
                device_id,
                timeout,
            )
            device = EndDeviceIds(device_id, self.settings.app_id)
            self._apply_downlink_event(
                unanswered_report(downlink, device, timeout, dt_util.utcnow())
            )

        self._unanswered[downlink.correlation_id] = async_call_later(
            self.hass, timeout, no_answer
        )

    # Messages: read on the session's thread, parsed and applied on the event loop.

    def _receive(self, topic: str, payload: bytes) -> None:
        """Hand a message over as it came: the session's thread only reads.

        Parsing here would not spare the event loop (the two threads share the GIL),
        and would slow the reading of the socket in a burst, when the server drops what
        it cannot write. Waiting as bytes, messages cost the garbage collector nothing.
        """
        self._hand_over((topic, payload))

    def _receive_state(self, state: SessionState) -> None:
        self._hand_over(state)

    def _hand_over(self, item: tuple[str, bytes] | SessionState) -> None:
        self._inbox.append(item)
        if not self._drain_scheduled:
            self._drain_scheduled = True
            self.hass.loop.call_soon_threadsafe(self._drain)

    @callback
    def _drain(self) -> None:
        self._drain_scheduled = False
        inbox = self._inbox
        deadline = monotonic() + DRAIN_BUDGET
        for _ in range(DRAIN_BATCH):
            if not inbox:
                return
            if monotonic() > deadline:
                break
            item = inbox.popleft()
            if isinstance(item, SessionState):
                self._apply_state(item)
                continue
            try:
                self._apply_received(*item)
            except Exception:
                # A defect of ours, not of the message: skip it, keep the session.
                _LOGGER.exception("Error applying a message on %s", item[0])
                self.counters.malformed += 1
        if inbox and not self._drain_scheduled:
            self._drain_scheduled = True
            self.hass.loop.call_soon(self._drain)

    @callback
    def _apply_received(self, topic: str, payload: bytes) -> None:
        try:
            device_topic = parse_topic(self.uid, topic)
            if device_topic.kind not in HANDLED_KINDS:
                # Not subscribed to; another client of the broker may be.
                return
            message = parse_payload(payload)
        except TtnParseError as err:
            self._skip(topic, str(err))
            return
        if message.device.device_id != device_topic.device_id:
            self._skip(topic, "the message is of another device")
            return
        self.apply_message(message)

    def _skip(self, topic: str, reason: str) -> None:
        self.counters.malformed += 1
        self._skipped.skip(topic, reason)

    @callback
    def apply_message(
        self, message: ApplicationUp, *, backfilled: bool = False
    ) -> None:
        """Apply one message from the server (or fetched back from storage)."""
        if isinstance(message, Uplink):
            self._apply_uplink(message, backfilled=backfilled)
        elif isinstance(message, DownlinkEvent):
            self._apply_downlink_event(message)
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
                self._merge_fields(device, flatten_payload(uplink.decoded_payload))
                hints = sensor_hints(uplink.decoded_payload.get(SENSOR_ATTR_KEY))
                device.sensor_attr.update(
                    (key, hint)
                    for key, hint in hints.items()
                    if key in device.sensor_attr or len(device.sensor_attr) < MAX_FIELDS
                )
            if device.stale and not self._is_stale(received_at):
                device.stale = False
                _LOGGER.info("%s reports again", device.device_id)
        if device.ha_device_id is None or (
            newest
            and uplink.version_ids is not None
            and device.registered_as != _registration(uplink)
        ):
            # New, or first seen by a join or a downlink report: now with its make
            # and model.
            self._register_device(device)
        best = uplink.best_gateway
        # One context for the event and every state the uplink changes: they belong
        # together, and Home Assistant ties each new context to its first event in a
        # reference cycle, which only a full garbage collection frees.
        context = Context()
        self.hass.bus.async_fire(
            EVENT_UPLINK,
            {
                "device_id": device.ha_device_id,
                "ttn_device_id": device.device_id,
                "application_id": uplink.device.application_id,
                "f_port": uplink.f_port,
                "f_cnt": uplink.f_cnt,
                "frm_payload": uplink.frm_payload,
                "decoded_payload": uplink.decoded_payload,
                "received_at": received_at.isoformat(),
                "rssi": best.rssi if best else None,
                "snr": best.snr if best else None,
                "simulated": uplink.simulated,
                "backfilled": backfilled,
            },
            context=context,
        )
        if newest:
            self._notify(device, context)
        self._store.async_schedule_save()
        for listener in list(self._message_listeners):
            listener(uplink, backfilled)

    def _merge_fields(self, device: TtnDevice, fields: dict[str, Any]) -> None:
        """Take an uplink's fields; past MAX_FIELDS, new ones are left out and said once."""
        # On the uplink path: the keys are only compared when the cap could be near.
        if len(device.fields) + len(fields) > MAX_FIELDS:
            room = MAX_FIELDS - len(device.fields)
            new = [key for key in fields if key not in device.fields]
            if len(new) > room:
                for key in new[max(room, 0) :]:
                    del fields[key]
                self._report_too_many_fields(device)
        device.fields.update(fields)

    def _report_too_many_fields(self, device: TtnDevice) -> None:
        issue_id = f"too_many_fields_{self.entry.entry_id}_{device.device_id}"
        if ir.async_get(self.hass).async_get_issue(DOMAIN, issue_id) is not None:
            return
        _LOGGER.warning(
            "%s sends more than %s fields; only the first %s become entities",
            device.device_id,
            MAX_FIELDS,
            MAX_FIELDS,
        )
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="too_many_fields",
            translation_placeholders={
                "device_id": device.device_id,
                "app_id": self.settings.app_id,
                "max_fields": str(MAX_FIELDS),
            },
        )

    @callback
    def _apply_downlink_event(self, event: DownlinkEvent) -> None:
        # Any report says the server has the downlink: it will report its fate.
        correlation_id = own_correlation_id(event.downlink_correlation_ids)
        if (cancel := self._unanswered.pop(correlation_id or "", None)) is not None:
            cancel()
        device = self._device(event.device.device_id)
        device.last_downlink = event
        self.counters.downlinks[event.status] += 1
        if device.ha_device_id is None:
            self._register_device(device)
        self.hass.bus.async_fire(
            EVENT_DOWNLINK,
            {
                "device_id": device.ha_device_id,
                "ttn_device_id": device.device_id,
                "status": event.status.value,
                **report_details(event),
            },
        )
        # Copies: a listener may add an entity, and so another listener, on the way.
        for listener in list(self._downlink_listeners):
            listener(event)
        if (dropped := exhausted_report(event)) is not None:
            self._apply_downlink_event(dropped)

    @callback
    def _notify(self, device: TtnDevice, context: Context | None = None) -> None:
        # Copies: platforms add entities, and entities their listeners, on the way.
        for listener in list(self._new_data_listeners):
            listener(device)
        for update in list(self._device_listeners.get(device.device_id, ())):
            try:
                update(context)
            except Exception:
                # One entity's defect must not keep the device's others from updating.
                _LOGGER.exception("Error updating an entity of %s", device.device_id)

    # The link to the server.

    @callback
    def _apply_state(self, state: SessionState) -> None:
        was_connected = self.connected
        self.connected = state is SessionState.CONNECTED
        if state is SessionState.STOPPED:
            # Unloading or shutting down: no warning, no grace timer.
            return
        if (
            state is SessionState.REFUSED
            and self._running
            and not self._stopping
            and not self._refused
        ):
            self._refused = True
            self.entry.async_create_background_task(
                self.hass,
                self._async_check_refusal(),
                f"{DOMAIN} check of a refused connection of {self.settings.app_id}",
            )
        if self.connected and not was_connected:
            self._end_refusal()
            if self._cancel_grace:
                self._cancel_grace()
                self._cancel_grace = None
            self.link_available = True
            if self._lost:
                self._lost = False
                _LOGGER.info("Reconnected to %s", self.settings.host)
            # The first connection too: uplinks sent while Home Assistant was stopped.
            try:
                if not self._stopping:
                    self.catch_up.async_start()
            except Exception:
                # A defect of ours (or of what a message left in the ledger) must
                # not keep the link state from being told.
                _LOGGER.exception("Could not start catching up")
        elif was_connected and not self.connected:
            self._lost = True
            _LOGGER.warning(
                "Lost the connection to %s; reconnecting", self.settings.host
            )
            self._cancel_grace = async_call_later(
                self.hass, LINK_GRACE, self._async_grace_over
            )
        if state is SessionState.AUTH_FAILED and self._running:
            # At setup, ConfigEntryAuthFailed already asks for a new key.
            _LOGGER.error(
                "The Things Stack refused the API key of %s; re-authentication needed",
                self.settings.app_id,
            )
            self.entry.async_start_reauth(self.hass)
        for update in list(self._link_listeners):
            update()

    async def _async_check_key(self) -> KeyInfo:
        settings = self.settings
        return await IdentityServer.async_check_key(
            self.hass, settings.host, settings.api_key, settings.ca_pem
        )

    async def _async_check_refusal(self) -> None:
        """Ask the Identity Server whether a refused connection is a refused key.

        CONNACK 5 is also the server's answer when it cannot fetch a key's rights,
        its Identity Server down for a moment: a new key would not help, reconnecting
        does.
        """
        key = await self._async_check_key()
        app_id = self.settings.app_id
        if refuses_key(key, app_id):
            _LOGGER.error(
                "The Things Stack refused the API key of %s; re-authentication needed",
                app_id,
            )
            await self.hass.async_add_executor_job(self.session.stop)
            self.entry.async_start_reauth(self.hass)
            return
        _LOGGER.warning(
            "The Things Stack at %s refuses the connection of %s although its "
            "Identity Server %s the key: a problem on the server's side. Reconnecting",
            self.settings.host,
            app_id,
            "knows" if key.status is KeyStatus.KNOWN else "could not be asked about",
        )
        if self._refused and self._cancel_refusal_issue is None:
            self._cancel_refusal_issue = async_call_later(
                self.hass, self.refusal_issue_after, self._async_refusal_lasts
            )

    @callback
    def _async_refusal_lasts(self, _now: datetime) -> None:
        self._cancel_refusal_issue = None
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self._refusal_issue_id,
            is_fixable=False,
            is_persistent=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key="refused_by_server",
            translation_placeholders={
                "app_id": self.settings.app_id,
                "host": self.settings.host,
            },
        )

    @property
    def _refusal_issue_id(self) -> str:
        return f"refused_by_server_{self.entry.entry_id}"

    @callback
    def _end_refusal(self) -> None:
        """End a refusal streak, its timer and issue: connected again, or stopping."""
        self._refused = False
        if self._cancel_refusal_issue is not None:
            self._cancel_refusal_issue()
            self._cancel_refusal_issue = None
        ir.async_delete_issue(self.hass, DOMAIN, self._refusal_issue_id)

    @callback
    def _async_grace_over(self, _now: datetime) -> None:
        self._cancel_grace = None
        self.link_available = False
        _LOGGER.info(
            "Entities of %s are unavailable until the connection returns",
            self.settings.app_id,
        )
        for update in list(self._link_listeners):
            update()

    # Devices.

    @callback
    def _async_check_stale(self, now: datetime) -> None:
        """Turn the entities of devices silent for longer than stale_hours unavailable."""
        if self._stale_after is None:
            return
        for device in self.devices.values():
            stale = device.last_seen is not None and self._is_stale(
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
                    self._stale_after,
                )
            for update in self._device_listeners.get(device.device_id, ()):
                update(None)

    def _is_stale(self, last_seen: datetime, now: datetime | None = None) -> bool:
        """Return whether a device last seen then is silent for longer than stale_hours."""
        if self._stale_after is None:
            return False
        return last_seen < (now or dt_util.utcnow()) - self._stale_after

    def _device(self, device_id: str) -> TtnDevice:
        device = self.devices.get(device_id)
        if device is None:
            device = self.devices[device_id] = TtnDevice(device_id)
        return device

    @callback
    def _register_application(self) -> None:
        data = self.entry.data
        entry = dr.async_get(self.hass).async_get_or_create(
            config_entry_id=self.entry.entry_id,
            identifiers={self.application_identifier},
            name=data[CONF_APP_ID],
            manufacturer=MANUFACTURER,
            model="Application",
            serial_number=data.get(CONF_APP_EUI) or None,
            entry_type=dr.DeviceEntryType.SERVICE,
        )
        self.application_device_id = entry.id

    @callback
    def _register_device(
        self,
        device: TtnDevice,
        dev_eui: str | None = None,
        version: VersionIds | None = None,
    ) -> None:
        if device.uplink is not None:
            version = device.uplink.version_ids
            dev_eui = device.uplink.device.dev_eui
        entry = dr.async_get(self.hass).async_get_or_create(
            config_entry_id=self.entry.entry_id,
            identifiers={self.device_identifier(device.device_id)},
            name=device.device_id,
            serial_number=dev_eui,
            manufacturer=vendor_name(version.brand_id) if version else None,
            model=model_name(version.model_id) if version else None,
            hw_version=known_version(version.hardware_version) if version else None,
            sw_version=known_version(version.firmware_version) if version else None,
            **via_device(self.application_identifier, self.application_device_id),
        )
        device.ha_device_id = entry.id
        if device.uplink is not None:
            device.registered_as = _registration(device.uplink)

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

    # Storage: the latest uplink of each device survives a restart.

    def _snapshot(self) -> tuple[dict[str, TtnDevice], UplinkLedger]:
        return self.devices, self.ledger

    async def _async_restore(self) -> None:
        self.devices, self.ledger = await self._store.async_load()
        for device in self.devices.values():
            self._register_device(device)


def _seen_at(received_at: datetime | None) -> datetime:
    """Return when a device was seen: when the server says, but never in the future."""
    now = dt_util.utcnow()
    return now if received_at is None else min(received_at, now)


def _registration(uplink: Uplink) -> tuple[str | None, VersionIds | None]:
    """Return what the device registry shows of a device from its uplink."""
    return uplink.device.dev_eui, uplink.version_ids
