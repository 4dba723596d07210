"""The backfill: the uplinks missed while disconnected, fetched back from storage.

The Things Stack keeps no MQTT session, so an uplink sent while Home Assistant was
restarting or offline never arrives over MQTT. After every connection (the first one
included) a backfill asks the application's Storage Integration for the uplinks
received since the last one processed, and hands them to the fleet, which applies what
is new. It runs as a background task of the config entry: setup never waits on it,
and unloading cancels it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from http import HTTPStatus
import logging
import ssl
from typing import Protocol

from aiohttp import (
    ClientError,
    ClientResponse,
    ClientResponseError,
    ClientTimeout,
    hdrs,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.util import dt as dt_util
from yarl import URL

from .const import CONF_BACKFILL_HOURS, DEFAULT_BACKFILL_HOURS, DOMAIN
from .protocol.messages import Uplink
from .protocol.session import SessionSettings
from .protocol.storage_integration import (
    Inflater,
    StoredStreamError,
    StoredUplinkReader,
    retry_after,
    storage_query,
    storage_uplinks_path,
)
from .protocol.tls import client_ssl_context

_LOGGER = logging.getLogger(__name__)

LEARN_MORE_URL = "https://www.thethingsindustries.com/docs/integrations/storage/enable/"

# A hanging server must not hold a backfill for ever, while a day of uplinks may take
# a while to stream: silence is bounded apart from the whole.
TIMEOUT = ClientTimeout(total=300, sock_connect=15, sock_read=30)
# The Storage Integration writes what it receives in batches: an uplink received just
# before the reconnect may take a moment to be readable (seconds).
SETTLE = 5.0
# A Storage Integration that timed out or failed is asked again after these delays
# (seconds) while the gap stays open; live uplinks are applied meanwhile.
RETRY_DELAYS: tuple[float, ...] = (60.0, 300.0, 900.0)
# What one answer may inflate to: a small body that inflates to gigabytes must neither
# block the event loop nor fill the memory.
MAX_BODY_BYTES = 256 * 1024 * 1024
# Uplinks per request: a long gap is read in pages, each after the last.
PAGE_SIZE = 1000
# An uplink received just before a reconnect may be readable only later: the gap is
# asked for once more after this long (seconds); what came already is dropped then.
RECHECK_AFTER: float | None = 60.0
# The longest wait a rate-limited answer may ask for (seconds).
MAX_RETRY_AFTER = 900.0


def storage_url(host: str, path: str) -> URL:
    """Return the address of a path of a stack's Storage Integration: HTTPS, its host."""
    return URL.build(scheme="https", host=host, path=path)


def storage_issue_id(entry: ConfigEntry) -> str:
    """Return the id of the entry's repair issue about its Storage Integration."""
    return f"storage_{entry.entry_id}"


class BackfillProblem(StrEnum):
    """Why a backfill failed; the first two are also repair issues' translation keys."""

    NOT_ENABLED = "storage_not_enabled"
    FORBIDDEN = "storage_forbidden"
    TIMEOUT = "storage_timeout"
    FAILED = "storage_failed"


_LOG_MESSAGES = {
    BackfillProblem.NOT_ENABLED: (
        "The Storage Integration of application %s is not enabled, so uplinks sent "
        "while Home Assistant is disconnected cannot be fetched back"
    ),
    BackfillProblem.FORBIDDEN: (
        "The API key of application %s may not read its Storage Integration, so "
        "uplinks sent while Home Assistant is disconnected cannot be fetched back"
    ),
    BackfillProblem.TIMEOUT: (
        "The Storage Integration of application %s did not answer in time; "
        "trying again in a while"
    ),
    BackfillProblem.FAILED: (
        "Could not fetch the uplinks application %s missed from its Storage "
        "Integration, trying again in a while: %s"
    ),
}

# Problems the user can fix in the console, or by turning the backfill off.
_REPAIRABLE = (BackfillProblem.NOT_ENABLED, BackfillProblem.FORBIDDEN)


class _BackfillError(Exception):
    def __init__(
        self,
        problem: BackfillProblem,
        detail: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(problem, detail)
        self.problem = problem
        self.detail = detail
        # What a rate-limited answer asks to wait before the next try.
        self.retry_after = retry_after


class UplinkSink(Protocol):
    """Where fetched uplinks go: the owner of the ledger, which decides what is new."""

    def start_backfill(self) -> datetime | None:
        """Hold the gap open; return the time after which uplinks are missing."""

    def async_apply_backfilled(self, uplinks: Iterable[Uplink], malformed: int) -> None:
        """Apply fetched uplinks; count the records that could not be read."""

    def finish_backfill(self) -> None:
        """Close the gap: filled, or given up."""


class Backfill:
    """Fetch back, after each connection, what an entry missed while disconnected."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        settings: SessionSettings,
        sink: UplinkSink,
    ) -> None:
        """Prepare the backfill of one entry; nothing runs until async_start."""
        self.hass = hass
        self.entry = entry
        self.settings = settings
        self._sink = sink
        self.issue_id = storage_issue_id(entry)
        self._task: asyncio.Task[None] | None = None
        # The problem last told to the user: told once, until a backfill works again.
        self._reported: BackfillProblem | None = None
        self._ssl_context: ssl.SSLContext | None = None

    @property
    def hours(self) -> int:
        """Return how many hours back a first backfill goes; 0 turns it off."""
        options = self.entry.options
        return int(options.get(CONF_BACKFILL_HOURS, DEFAULT_BACKFILL_HOURS))

    @callback
    def async_start(self) -> None:
        """Start a backfill in the background, replacing one still running."""
        hours = self.hours
        if not hours:
            # Turned off: the advice to enable the Storage Integration is moot.
            ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)
            return
        if self._task is not None:
            # What it applied is in the ledger; the new one goes on from there.
            self._task.cancel("a newer backfill takes over")
        after = self._sink.start_backfill()
        self._task = self.entry.async_create_background_task(
            self.hass,
            self._async_backfill(after, hours),
            f"{DOMAIN} backfill of {self.settings.app_id}",
            eager_start=False,
        )

    async def _async_backfill(self, after: datetime | None, hours: int) -> None:
        """Fetch and hand over; cancelled (unloading, or a newer one), the gap holds."""
        try:
            fetched = await self._async_fetch_until_done(after, hours)
            if fetched and RECHECK_AFTER is not None:
                # The ledger holds the gap meanwhile, so that what comes twice is
                # told apart.
                await asyncio.sleep(RECHECK_AFTER)
                await self._async_recheck(after, hours)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A defect of ours: the gap is given up, live uplinks must count again.
            _LOGGER.exception("The backfill of %s failed", self.settings.app_id)
        # The gap is filled, or given up rather than hold live uplinks back until
        # the next reconnect.
        self._sink.finish_backfill()

    async def _async_recheck(self, after: datetime | None, hours: int) -> None:
        """Ask for the gap once more, for what was stored late; a failure is no news."""
        try:
            fetched = await self._async_fetch(after, hours)
        except _BackfillError as err:
            _LOGGER.debug("Asking the Storage Integration again failed: %s", err)
        else:
            _LOGGER.debug("Asked again: %s uplinks, the new ones applied", fetched)

    async def _async_fetch_until_done(self, after: datetime | None, hours: int) -> bool:
        """Fetch; a timeout or failure is tried again a few times while the gap holds.

        Return whether the gap was fetched.
        """
        app_id = self.settings.app_id
        delays = [SETTLE, *RETRY_DELAYS]
        while delays:
            await asyncio.sleep(delays.pop(0))
            try:
                fetched = await self._async_fetch(after, hours)
            except _BackfillError as err:
                self._report(err.problem, err.detail)
                if err.problem in _REPAIRABLE:
                    return False
                if err.retry_after is not None and delays:
                    delays[0] = min(err.retry_after, MAX_RETRY_AFTER)
                continue
            _LOGGER.debug("Fetched %s uplinks of %s from storage", fetched, app_id)
            ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)
            if self._reported is not None:
                self._reported = None
                _LOGGER.info(
                    "Fetched missed uplinks of %s from its Storage Integration again",
                    app_id,
                )
            return True
        _LOGGER.warning(
            "Gave up fetching the uplinks %s missed from its Storage Integration; "
            "the next reconnect tries from now on",
            app_id,
        )
        return False

    async def _async_fetch(self, after: datetime | None, hours: int) -> int:
        """Fetch the gap page by page, handing each over; return how many were read."""
        total = 0
        while True:
            read, last = await self._async_fetch_page(after, hours)
            total += read
            if read < PAGE_SIZE or last is None or (after and last <= after):
                return total
            # The next page starts after the last uplink. Its time, cut to microseconds
            # here, may bring it once more (the server keeps nanoseconds): the ledger
            # drops it then.
            after = last

    async def _async_fetch_page(
        self, after: datetime | None, hours: int
    ) -> tuple[int, datetime | None]:
        """Stream one page in, handing it over; return how many were read, the last time."""
        settings = self.settings
        url = storage_url(settings.host, storage_uplinks_path(settings.app_id))
        try:
            # Trusting what the MQTT session trusts; Home Assistant's shared session
            # trusts certifi's authorities only.
            ssl_context = await self._async_ssl_context(settings.ca_pem)
        # TypeError: a CA that is not ASCII.
        except (ssl.SSLError, ValueError, TypeError) as err:
            raise _BackfillError(
                BackfillProblem.FAILED, f"TLS set-up failed: {err}"
            ) from None
        reader = StoredUplinkReader()
        fetched = 0
        last: datetime | None = None
        try:
            async with async_get_clientsession(self.hass).get(
                url,
                params=storage_query(after, hours, dt_util.utcnow(), PAGE_SIZE),
                headers={
                    hdrs.AUTHORIZATION: f"Bearer {settings.api_key}",
                    hdrs.ACCEPT: "text/event-stream",
                    hdrs.ACCEPT_ENCODING: "gzip, deflate",
                },
                timeout=TIMEOUT,
                # The Storage API does not redirect: a redirect, to another host
                # above all, is not followed with the key.
                allow_redirects=False,
                # A compressed body is left to the Inflater.
                auto_decompress=False,
                ssl=ssl_context,
            ) as response:
                _check_status(response)
                inflater = Inflater(
                    response.headers.get(hdrs.CONTENT_ENCODING), MAX_BODY_BYTES
                )
                async for chunk in response.content.iter_any():
                    for piece in inflater.inflate(chunk):
                        fetched, last = self._hand_over(
                            reader.feed(piece), fetched, last
                        )
                        # A buffered body, or one inflating to much, would
                        # otherwise be handled in one go.
                        await asyncio.sleep(0)
            fetched, last = self._hand_over(reader.close(), fetched, last)
        except StoredStreamError as err:
            raise _BackfillError(
                BackfillProblem.FAILED, f"the stream ended with an error: {err}"
            ) from None
        except TimeoutError:
            raise _BackfillError(BackfillProblem.TIMEOUT) from None
        except ClientResponseError as err:
            raise _BackfillError(
                BackfillProblem.FAILED, f"HTTP {err.status} {err.message}"
            ) from None
        except ClientError as err:
            raise _BackfillError(
                BackfillProblem.FAILED, str(err) or repr(err)
            ) from None
        finally:
            if reader.skipped:
                _LOGGER.debug("Skipped %s bad lines from storage", reader.skipped)
                self._sink.async_apply_backfilled((), reader.skipped)
        return fetched, last

    def _hand_over(
        self, uplinks: list[Uplink], fetched: int, last: datetime | None
    ) -> tuple[int, datetime | None]:
        self._sink.async_apply_backfilled(uplinks, 0)
        for uplink in uplinks:
            last = uplink.received_at or last
        return fetched + len(uplinks), last

    async def _async_ssl_context(self, ca_pem: str | None) -> ssl.SSLContext:
        """Return the MQTT session's trust (and a stack's CA), built off the event loop."""
        if self._ssl_context is None:
            self._ssl_context = await self.hass.async_add_executor_job(
                client_ssl_context, ca_pem
            )
        return self._ssl_context

    def _report(self, problem: BackfillProblem, detail: str) -> None:
        """Tell the user once; the same problem again (at every reconnect) stays quiet."""
        if problem is self._reported:
            return
        self._reported = problem
        settings = self.settings
        details = (detail,) if detail else ()
        _LOGGER.warning(_LOG_MESSAGES[problem], settings.app_id, *details)
        if problem in _REPAIRABLE:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                self.issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                learn_more_url=LEARN_MORE_URL,
                translation_key=problem.value,
                translation_placeholders={
                    "app_id": settings.app_id,
                    "host": settings.host,
                },
            )


def _check_status(response: ClientResponse) -> None:
    """Raise for an answer that carries no uplinks."""
    if response.status == HTTPStatus.NOT_FOUND:
        raise _BackfillError(BackfillProblem.NOT_ENABLED)
    if response.status == HTTPStatus.FORBIDDEN:
        raise _BackfillError(BackfillProblem.FORBIDDEN)
    if response.status == HTTPStatus.TOO_MANY_REQUESTS:
        raise _BackfillError(
            BackfillProblem.FAILED,
            "HTTP 429: rate limited",
            retry_after=retry_after(response.headers),
        )
    if 300 <= response.status < 400:
        location = response.headers.get(hdrs.LOCATION, "")
        raise _BackfillError(
            BackfillProblem.FAILED,
            f"HTTP {response.status}: a redirect to {location!r}, not followed",
        )
    response.raise_for_status()
