"""Catching up: the uplinks missed while disconnected, fetched back from storage.

The Things Stack keeps no MQTT session, so an uplink sent while Home Assistant was
restarting or offline never arrives over MQTT. After every connection (the first one
included) the coordinator starts a catch-up that asks the application's Storage
Integration for the uplinks received since the last one processed, and applies them
as backfilled. It runs as a background task of the config entry: setup never waits
on it, and unloading cancels it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from contextlib import suppress
from datetime import datetime
from enum import StrEnum
from http import HTTPStatus
import logging
import ssl
from typing import TYPE_CHECKING, Any, ClassVar
import zlib

from aiohttp import ClientError, ClientResponseError, ClientTimeout, hdrs
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.util import dt as dt_util
from yarl import URL

from .const import CONF_BACKFILL_HOURS, DEFAULT_BACKFILL_HOURS, DOMAIN
from .protocol.messages import Uplink
from .protocol.session import client_ssl_context
from .protocol.storage import (
    StoredStreamError,
    StoredUplinkReader,
    storage_query,
    storage_uplinks_path,
)

if TYPE_CHECKING:
    from .coordinator import TtnCoordinator

_LOGGER = logging.getLogger(__name__)

LEARN_MORE_URL = "https://www.thethingsindustries.com/docs/integrations/storage/enable/"


def storage_issue_id(entry: ConfigEntry) -> str:
    """Return the id of the entry's repair issue about its Storage Integration."""
    return f"storage_{entry.entry_id}"


class CatchUpProblem(StrEnum):
    """Why a catch-up failed; the first two are also repair issues' translation keys."""

    NOT_ENABLED = "storage_not_enabled"
    FORBIDDEN = "storage_forbidden"
    TIMEOUT = "storage_timeout"
    FAILED = "storage_failed"


_LOG_MESSAGES = {
    CatchUpProblem.NOT_ENABLED: (
        "The Storage Integration of application %s is not enabled, so uplinks sent "
        "while Home Assistant is disconnected cannot be fetched back"
    ),
    CatchUpProblem.FORBIDDEN: (
        "The API key of application %s may not read its Storage Integration, so "
        "uplinks sent while Home Assistant is disconnected cannot be fetched back"
    ),
    CatchUpProblem.TIMEOUT: (
        "The Storage Integration of application %s did not answer in time; "
        "trying again in a while"
    ),
    CatchUpProblem.FAILED: (
        "Could not fetch the uplinks application %s missed from its Storage "
        "Integration, trying again in a while: %s"
    ),
}

# Problems the user can fix in the console, or by turning the catch-up off.
_REPAIRABLE = (CatchUpProblem.NOT_ENABLED, CatchUpProblem.FORBIDDEN)


class _CatchUpError(Exception):
    def __init__(
        self,
        problem: CatchUpProblem,
        detail: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(problem, detail)
        self.problem = problem
        self.detail = detail
        # What a rate-limited answer asks to wait before the next try.
        self.retry_after = retry_after


class StorageCatchUp:
    """Fetch back, after each connection, what a coordinator missed while disconnected."""

    # The test seam: tests serve the Storage Integration over plain HTTP on 127.0.0.1
    # and point this at it. Users always reach their application's host over HTTPS.
    base_url: ClassVar[str | None] = None
    # A hanging server must not hold a catch-up for ever, while a day of uplinks may
    # take a while to stream: silence is bounded apart from the whole.
    timeout: ClassVar[ClientTimeout] = ClientTimeout(
        total=300, sock_connect=15, sock_read=30
    )
    # The Storage Integration writes what it receives in batches: an uplink received
    # just before the reconnect may take a moment to be readable.
    settle: ClassVar[float] = 5.0
    # A Storage Integration that timed out or failed is asked again after these
    # delays (seconds) while the gap stays open; live uplinks are applied meanwhile.
    retry_delays: ClassVar[tuple[float, ...]] = (60.0, 300.0, 900.0)
    # What one answer may inflate to: a compressed body is inflated here, in steps,
    # so that a small body that inflates to gigabytes neither blocks the event loop
    # nor fills the memory.
    max_body_bytes: ClassVar[int] = 256 * 1024 * 1024
    # Uplinks per request: a long gap is read in pages, each after the last.
    page_size: ClassVar[int] = 1000
    # The Storage Integration writes what it receives in batches: an uplink received
    # just before a reconnect may be readable only later. The gap is asked for once
    # more after this long (seconds); what came already is dropped by the ledger.
    recheck_after: ClassVar[float | None] = 60.0
    # The longest wait a rate-limited answer may ask for (seconds).
    max_retry_after: ClassVar[float] = 900.0

    def __init__(self, coordinator: TtnCoordinator) -> None:
        """Prepare catching up for one coordinator; nothing runs until async_start."""
        self._coordinator = coordinator
        self.issue_id = storage_issue_id(coordinator.entry)
        self._task: asyncio.Task[None] | None = None
        # The problem last told to the user: told once, until a catch-up works again.
        self._reported: CatchUpProblem | None = None
        self._ssl_context: ssl.SSLContext | None = None

    @property
    def hours(self) -> int:
        """Return how many hours back a first catch-up goes; 0 turns it off."""
        options = self._coordinator.entry.options
        return int(options.get(CONF_BACKFILL_HOURS, DEFAULT_BACKFILL_HOURS))

    @callback
    def async_start(self) -> None:
        """Start catching up in the background, replacing a catch-up still running."""
        coordinator = self._coordinator
        hours = self.hours
        if not hours:
            # Turned off: the advice to enable the Storage Integration is moot.
            ir.async_delete_issue(coordinator.hass, DOMAIN, self.issue_id)
            return
        if self._task is not None:
            # What it applied is in the ledger; the new one goes on from there.
            self._task.cancel("a newer catch-up takes over")
        after = coordinator.ledger.start_catch_up()
        self._task = coordinator.entry.async_create_background_task(
            coordinator.hass,
            self._async_catch_up(after, hours),
            f"{DOMAIN} catch-up of {coordinator.settings.app_id}",
            eager_start=False,
        )

    async def _async_catch_up(self, after: datetime | None, hours: int) -> None:
        """Fetch and apply; cancelled (unloading, or a newer catch-up), the ledger holds."""
        coordinator = self._coordinator
        try:
            fetched = await self._async_fetch_until_done(after, hours)
            if fetched and self.recheck_after is not None:
                # The ledger holds the gap meanwhile, so that what comes twice is
                # told apart.
                await asyncio.sleep(self.recheck_after)
                await self._async_recheck(after, hours)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A defect of ours: the gap is given up, live uplinks must count again.
            _LOGGER.exception("Catching up with %s failed", coordinator.settings.app_id)
        # The gap is filled, or given up rather than hold live uplinks back until
        # the next reconnect.
        coordinator.ledger.finish_catch_up()

    async def _async_recheck(self, after: datetime | None, hours: int) -> None:
        """Ask for the gap once more, for what was stored late; a failure is no news."""
        try:
            fetched = await self._async_fetch(after, hours)
        except _CatchUpError as err:
            _LOGGER.debug("Asking the Storage Integration again failed: %s", err)
        else:
            _LOGGER.debug("Asked again: %s uplinks, the new ones applied", fetched)

    async def _async_fetch_until_done(self, after: datetime | None, hours: int) -> bool:
        """Fetch; a timeout or failure is tried again a few times while the gap holds.

        Return whether the gap was fetched.
        """
        coordinator = self._coordinator
        delays = [self.settle, *self.retry_delays]
        while delays:
            await asyncio.sleep(delays.pop(0))
            try:
                fetched = await self._async_fetch(after, hours)
            except _CatchUpError as err:
                self._report(err.problem, err.detail)
                if err.problem in _REPAIRABLE:
                    return False
                if err.retry_after is not None and delays:
                    delays[0] = min(err.retry_after, self.max_retry_after)
                continue
            _LOGGER.debug(
                "Fetched %s uplinks of %s from storage",
                fetched,
                coordinator.settings.app_id,
            )
            ir.async_delete_issue(coordinator.hass, DOMAIN, self.issue_id)
            if self._reported is not None:
                self._reported = None
                _LOGGER.info(
                    "Fetched missed uplinks of %s from its Storage Integration again",
                    coordinator.settings.app_id,
                )
            return True
        _LOGGER.warning(
            "Gave up fetching the uplinks %s missed from its Storage Integration; "
            "the next reconnect tries from now on",
            coordinator.settings.app_id,
        )
        return False

    async def _async_fetch(self, after: datetime | None, hours: int) -> int:
        """Fetch the gap page by page, applying each uplink; return how many were read."""
        total = 0
        while True:
            read, last = await self._async_fetch_page(after, hours)
            total += read
            if read < self.page_size or last is None or (after and last <= after):
                return total
            # The next page starts after the last uplink. Its time, cut to microseconds
            # here, may bring it once more (the server keeps nanoseconds): the ledger
            # drops it then.
            after = last

    async def _async_fetch_page(
        self, after: datetime | None, hours: int
    ) -> tuple[int, datetime | None]:
        """Stream one page in and apply it; return how many were read and the last time."""
        coordinator = self._coordinator
        settings = coordinator.settings
        path = storage_uplinks_path(settings.app_id)
        if self.base_url is None:
            url = URL.build(scheme="https", host=settings.host, path=path)
        else:
            url = URL(self.base_url).with_path(path)
        options: dict[str, Any] = {}
        if self.base_url is None:
            try:
                # Trusting what the MQTT session trusts; Home Assistant's shared
                # session trusts certifi's authorities only.
                options["ssl"] = await self._async_ssl_context(settings.ca_pem)
            # TypeError: a CA that is not ASCII.
            except (ssl.SSLError, ValueError, TypeError) as err:
                raise _CatchUpError(
                    CatchUpProblem.FAILED, f"TLS set-up failed: {err}"
                ) from None
        reader = StoredUplinkReader()
        fetched = 0
        last: datetime | None = None
        try:
            async with async_get_clientsession(coordinator.hass).get(
                url,
                params=storage_query(after, hours, dt_util.utcnow(), self.page_size),
                headers={
                    hdrs.AUTHORIZATION: f"Bearer {settings.api_key}",
                    hdrs.ACCEPT: "text/event-stream",
                    hdrs.ACCEPT_ENCODING: "gzip, deflate",
                },
                timeout=self.timeout,
                # The Storage API does not redirect: a redirect, to another host
                # above all, is not followed with the key.
                allow_redirects=False,
                # A compressed body is left to _Inflater.
                auto_decompress=False,
                **options,
            ) as response:
                if response.status == HTTPStatus.NOT_FOUND:
                    raise _CatchUpError(CatchUpProblem.NOT_ENABLED)
                if response.status == HTTPStatus.FORBIDDEN:
                    raise _CatchUpError(CatchUpProblem.FORBIDDEN)
                if response.status == HTTPStatus.TOO_MANY_REQUESTS:
                    raise _CatchUpError(
                        CatchUpProblem.FAILED,
                        "HTTP 429: rate limited",
                        retry_after=_retry_after(response.headers),
                    )
                if 300 <= response.status < 400:
                    location = response.headers.get(hdrs.LOCATION, "")
                    raise _CatchUpError(
                        CatchUpProblem.FAILED,
                        f"HTTP {response.status}: a redirect to {location!r}, "
                        "not followed",
                    )
                response.raise_for_status()
                inflater = _Inflater(
                    response.headers.get(hdrs.CONTENT_ENCODING), self.max_body_bytes
                )
                async for chunk in response.content.iter_any():
                    for piece in inflater.inflate(chunk):
                        fetched, last = self._apply(reader.feed(piece), fetched, last)
                        # A buffered body, or one inflating to much, would
                        # otherwise be handled in one go.
                        await asyncio.sleep(0)
            fetched, last = self._apply(reader.close(), fetched, last)
        except StoredStreamError as err:
            raise _CatchUpError(
                CatchUpProblem.FAILED, f"the stream ended with an error: {err}"
            ) from None
        except TimeoutError:
            raise _CatchUpError(CatchUpProblem.TIMEOUT) from None
        except ClientResponseError as err:
            raise _CatchUpError(
                CatchUpProblem.FAILED, f"HTTP {err.status} {err.message}"
            ) from None
        except ClientError as err:
            raise _CatchUpError(CatchUpProblem.FAILED, str(err) or repr(err)) from None
        finally:
            if reader.skipped:
                _LOGGER.debug("Skipped %s bad lines from storage", reader.skipped)
                coordinator.counters.malformed += reader.skipped
        return fetched, last

    def _apply(
        self, uplinks: list[Uplink], fetched: int, last: datetime | None
    ) -> tuple[int, datetime | None]:
        for uplink in uplinks:
            self._coordinator.apply_message(uplink, backfilled=True)
            last = uplink.received_at or last
        return fetched + len(uplinks), last

    async def _async_ssl_context(self, ca_pem: str | None) -> ssl.SSLContext:
        """Return the MQTT session's trust (and a stack's CA), built off the event loop."""
        if self._ssl_context is None:
            self._ssl_context = await self._coordinator.hass.async_add_executor_job(
                client_ssl_context, ca_pem
            )
        return self._ssl_context

    def _report(self, problem: CatchUpProblem, detail: str) -> None:
        """Tell the user once; the same problem again (at every reconnect) stays quiet."""
        if problem is self._reported:
            return
        self._reported = problem
        settings = self._coordinator.settings
        details = (detail,) if detail else ()
        _LOGGER.warning(_LOG_MESSAGES[problem], settings.app_id, *details)
        if problem in _REPAIRABLE:
            ir.async_create_issue(
                self._coordinator.hass,
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


class _Inflater:
    """Inflate a gzip or deflate body in bounded steps, up to a limit in all."""

    # What one step may inflate to: a fraction of a millisecond of work.
    STEP = 256 * 1024

    def __init__(self, encoding: str | None, limit: int) -> None:
        encoding = (encoding or "identity").strip().lower()
        if encoding not in ("identity", "gzip", "deflate"):
            raise _CatchUpError(
                CatchUpProblem.FAILED, f"a body encoded as {encoding!r}, not asked for"
            )
        # 47: a gzip or a zlib header, told apart by zlib itself.
        self._inflater = None if encoding == "identity" else zlib.decompressobj(47)
        self._limit = limit
        self._total = 0

    def inflate(self, data: bytes) -> Iterator[bytes]:
        """Yield what data inflates to, STEP bytes at most at a time."""
        while True:
            if self._inflater is None:
                if not data:
                    return
                piece, data = data, b""
            else:
                try:
                    piece = self._inflater.decompress(data, self.STEP)
                except zlib.error as err:
                    raise _CatchUpError(
                        CatchUpProblem.FAILED, f"a damaged compressed body: {err}"
                    ) from None
                data = self._inflater.unconsumed_tail
                # Asked again with nothing new until it has nothing more to give.
                if not piece and not data:
                    return
            self._total += len(piece)
            if self._total > self._limit:
                raise _CatchUpError(
                    CatchUpProblem.FAILED,
                    f"the answer is larger than {self._limit} bytes; not read further",
                )
            yield piece


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Return the seconds a rate-limited answer asks to wait, if it says.

    The Things Stack says it in X-Rate-Limit-Retry (pkg/ratelimit); Retry-After is the
    standard header a proxy may send.
    """
    for name in ("X-Rate-Limit-Retry", hdrs.RETRY_AFTER):
        if (value := headers.get(name)) is not None:
            with suppress(ValueError):
                return max(float(value), 0.0)
    return None
