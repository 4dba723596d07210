"""The link to The Things Stack: the MQTT session, its inbox, and what its state means.

Messages are read on the session's thread and handed to the event loop in batches; the
link decides what a lost or refused connection means for the user: a grace period
before entities turn unavailable, a re-authentication for a refused key, a repair
issue for a server that keeps refusing a key it knows.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
import logging
from time import monotonic
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later

from .const import (
    CONF_API_KEY,
    CONF_APP_ID,
    CONF_CA_PEM,
    CONF_HOST,
    CONF_PORT,
    CONF_TENANT,
    CONF_USE_TLS,
    CONNECT_TIMEOUT,
    DOMAIN,
    LINK_GRACE,
)
from .key_check import KeyInfo, KeyStatus, async_check_key, refuses_key
from .protocol.session import ConnectResult, Session, SessionSettings, SessionState
from .translation_keys import CONNECT_ERRORS

_LOGGER = logging.getLogger(__name__)

# How many queued messages one event-loop callback handles at most before yielding,
# and for how long (seconds): a burst of new devices, each registered with its
# entities, must not hold the loop.
DRAIN_BATCH = 200
DRAIN_BUDGET = 0.02
# How long the server may refuse a connection with a key it knows before a repair
# issue says so (seconds).
REFUSAL_ISSUE_AFTER = 600.0


def settings_from_data(data: Mapping[str, Any]) -> SessionSettings:
    """Return the session settings of config entry data, or of a flow's input."""
    return SessionSettings(
        host=data[CONF_HOST],
        port=data[CONF_PORT],
        use_tls=data[CONF_USE_TLS],
        app_id=data[CONF_APP_ID],
        tenant=data[CONF_TENANT],
        api_key=data[CONF_API_KEY],
        ca_pem=data.get(CONF_CA_PEM),
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


class Link:
    """One entry's MQTT session, and what its state means for the user."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        settings: SessionSettings,
        *,
        on_message: Callable[[str, bytes], None],
        on_connected: Callable[[], None],
    ) -> None:
        """Prepare the session; nothing connects until async_start().

        on_message(topic, payload) gets each message on the event loop; on_connected()
        is called after every connection, the first included, unless stopping.
        """
        self.hass = hass
        self.entry = entry
        self.settings = settings
        self.connected = False
        # False once the link has been down for longer than LINK_GRACE.
        self.available = True
        self.session = Session(
            self.settings, on_message=self._receive, on_state=self._receive_state
        )
        self._on_message = on_message
        self._on_connected = on_connected
        self._listeners: list[CALLBACK_TYPE] = []
        self._inbox: deque[tuple[str, bytes] | SessionState] = deque()
        self._drain_scheduled = False
        self._cancel_grace: CALLBACK_TYPE | None = None
        # True from the first refusal (CONNACK 5) of a streak until connected again.
        self._refused = False
        self._cancel_refusal_issue: CALLBACK_TYPE | None = None
        self._lost = False
        # True once the first connection succeeded and setup went on.
        self._running = False
        # True from the start of async_stop: nothing new is started.
        self._stopping = False

    @callback
    def async_add_listener(self, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call update when the connection or the entities' availability changes."""
        self._listeners.append(update)
        return partial(self._listeners.remove, update)

    def publish(self, topic: str, payload: bytes) -> bool:
        """Publish a message; False, sending nothing, when not connected."""
        return self.session.publish(topic, payload)

    async def async_start(self) -> None:
        """Connect, and raise for setup when the first connection fails."""
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
                    translation_domain=DOMAIN, translation_key=CONNECT_ERRORS[result]
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

    async def async_stop(self) -> None:
        """Disconnect, leaving no thread or timer behind, and apply what was handed over."""
        # A reconnect that races the stop starts nothing: the entry's tasks are
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
        self._end_refusal()

    async def _async_handle_hass_stop(self, event: Event) -> None:
        self._stopping = True
        await self.hass.async_add_executor_job(self.session.stop)

    # Messages: read on the session's thread, handed over to the event loop.

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
            else:
                self._on_message(*item)
        if inbox and not self._drain_scheduled:
            self._drain_scheduled = True
            self.hass.loop.call_soon(self._drain)

    # The session's state.

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
            self.available = True
            if self._lost:
                self._lost = False
                _LOGGER.info("Reconnected to %s", self.settings.host)
            try:
                if not self._stopping:
                    self._on_connected()
            except Exception:
                # A defect of ours (or of what a message left in the ledger) must
                # not keep the link state from being told.
                _LOGGER.exception("Could not start the backfill")
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
        self._tell()

    def _tell(self) -> None:
        for update in list(self._listeners):
            update()

    async def _async_check_key(self) -> KeyInfo:
        settings = self.settings
        return await async_check_key(
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
                self.hass, REFUSAL_ISSUE_AFTER, self._async_refusal_lasts
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
        self.available = False
        _LOGGER.info(
            "Entities of %s are unavailable until the connection returns",
            self.settings.app_id,
        )
        self._tell()
