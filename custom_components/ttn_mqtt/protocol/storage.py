"""The Storage Integration: reading back the uplinks that MQTT could not deliver.

The Things Stack keeps no MQTT session, so what arrives while a client is away is gone
from MQTT. An application with the Storage Integration enabled can be asked for it:
`GET /api/v3/as/applications/<app id>/packages/storage/uplink_message`, answered with
newline-delimited JSON, one `{"result": <ApplicationUp>}` per line.

`StoredUplinkReader` turns that body into uplinks as it streams in; `UplinkLedger`
remembers which uplinks were applied, so that live and fetched ones are applied once,
and where the next catch-up has to start.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from .errors import TtnParseError
from .ids import is_valid_id
from .messages import (
    EARLIEST_TIME,
    LATEST_TIME,
    MAX_MESSAGE_BYTES,
    Uplink,
    parse_application_up,
)


def storage_uplinks_path(app_id: str) -> str:
    """Return the HTTP path of an application's stored uplinks."""
    if not is_valid_id(app_id):
        raise ValueError(f"invalid application id: {app_id!r}")
    return f"/api/v3/as/applications/{app_id}/packages/storage/uplink_message"


def storage_query(
    after: datetime | None, last_hours: int, now: datetime, limit: int
) -> dict[str, str]:
    """Return the query of one page of a catch-up: after a time, oldest first.

    Never further back than the last hours: a week of uplinks replayed at once is not
    what a user asked for with "the last 24 hours". `after`, not the deprecated `last`
    (api/ttn/lorawan/v3/applicationserver_integrations_storage.proto).
    """
    since = _utc(now) - timedelta(hours=last_hours)
    start = since if after is None or _utc(after) < since else _utc(after)
    return {
        "order": "received_at",
        # RFC 3339 with a "Z": a "+00:00" would need escaping in a query string.
        "after": start.isoformat().replace("+00:00", "Z"),
        "limit": str(limit),
    }


class StoredStreamError(Exception):
    """The server ended the stream with an error: what it sent so far is not all."""


def parse_stored_line(line: bytes) -> Uplink:
    """Parse one `{"result": <ApplicationUp>}` line; raise TtnParseError if not an uplink."""
    # As over MQTT; and a long line is refused whether it came in one chunk or many.
    if len(line) > MAX_MESSAGE_BYTES:
        raise TtnParseError(f"line of {len(line)} bytes is too large")
    try:
        body = orjson.loads(line)
    except orjson.JSONDecodeError as err:
        raise TtnParseError(f"not JSON: {err}") from None
    if isinstance(body, dict) and "error" in body:
        # A stream that fails midway ends with {"error": <google.rpc.Status>}: the
        # fetch failed (grpc-gateway's errorChunk), it is no bad line to skip.
        error = body["error"]
        message = error.get("message") if isinstance(error, dict) else None
        raise StoredStreamError(str(message or error))
    if not isinstance(body, dict) or "result" not in body:
        raise TtnParseError("line carries no result")
    message = parse_application_up(body["result"])
    if not isinstance(message, Uplink):
        raise TtnParseError("result is not an uplink")
    return message


class StoredUplinkReader:
    """Split a streamed body into lines and parse each; bad lines are skipped and counted.

    Records are separated by a blank line with `Accept: text/event-stream` (jsonpb
    TTNEventStream), by a newline otherwise: empty lines are no records. An error
    line raises StoredStreamError.
    """

    def __init__(self) -> None:
        """Start with nothing read."""
        self.skipped = 0
        self._buffer = bytearray()
        # Set while dropping the rest of a line that grew too long.
        self._discarding = False

    def feed(self, chunk: bytes) -> list[Uplink]:
        """Take the next chunk of the body; return the uplinks of the lines it completed."""
        self._buffer += chunk
        uplinks: list[Uplink] = []
        while (end := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if self._discarding:
                self._discarding = False
                continue
            self._parse(line, uplinks)
        if len(self._buffer) > MAX_MESSAGE_BYTES:
            # Counted now; its remainder is dropped up to the next newline.
            if not self._discarding:
                self.skipped += 1
                self._discarding = True
            self._buffer.clear()
        return uplinks

    def close(self) -> list[Uplink]:
        """End the body; return the uplink of a last line that had no newline."""
        uplinks: list[Uplink] = []
        if not self._discarding:
            self._parse(bytes(self._buffer), uplinks)
        return uplinks

    def _parse(self, line: bytes, uplinks: list[Uplink]) -> None:
        if not line.strip():
            return
        try:
            uplinks.append(parse_stored_line(line))
        except TtnParseError:
            self.skipped += 1


@dataclass(frozen=True, slots=True)
class UplinkKey:
    """What tells one uplink from another: its device, frame counter and arrival."""

    device_id: str
    f_cnt: int | None
    received_at: datetime

    @classmethod
    def of(cls, uplink: Uplink) -> UplinkKey | None:
        """Return an uplink's key, or None when it has no received_at to tell it by."""
        if uplink.received_at is None:
            return None
        return cls(uplink.device.device_id, uplink.f_cnt, _utc(uplink.received_at))


def is_older(uplink: Uplink, than: Uplink | None) -> bool:
    """Return whether uplink was received before another (False when either is undated)."""
    if than is None or uplink.received_at is None or than.received_at is None:
        return False
    return _utc(uplink.received_at) < _utc(than.received_at)


class UplinkLedger:
    """Which uplinks were applied, and up to when everything has been processed.

    `processed_until` is where the next catch-up starts. Live uplinks move it forward,
    except while a catch-up fills the gap left by a disconnection: until it is done,
    the live uplinks after the gap say nothing of the uplinks inside it. Fetched
    uplinks come in the order they were received, so each moves it forward.
    """

    # The server stamps received_at before it publishes, and uplinks of different
    # devices can be published slightly out of that order: a catch-up starts this much
    # before processed_until, and the keys kept over that span drop what comes twice.
    OVERLAP = timedelta(seconds=10)
    # A guard against an unbounded key set; far more than a catch-up keeps at once.
    MAX_KEYS = 5000
    # A server or gateway clock ahead stamps uplinks in the future: processed_until
    # never goes further than this past now, or the next catch-up would skip ahead.
    CLOCK_TOLERANCE = timedelta(minutes=1)

    def __init__(
        self, processed_until: datetime | None = None, keys: Iterable[UplinkKey] = ()
    ) -> None:
        """Start from what was stored, or from nothing."""
        self.processed_until = _utc(processed_until) if processed_until else None
        self.catching_up = False
        self._keys: set[UplinkKey] = set()
        # The keys in the order they came, so that dropping the old ones costs only
        # what is dropped: every live uplink moves the horizon.
        self._order: deque[UplinkKey] = deque()
        for key in keys:
            self._remember(key)

    def add(self, uplink: Uplink, *, fetched: bool = False) -> bool:
        """Record an uplink about to be applied; return False if it was applied before."""
        key = UplinkKey.of(uplink)
        if key is None:
            return True
        if key in self._keys:
            return False
        self._remember(key)
        if fetched or not self.catching_up:
            self._advance(key.received_at)
        return True

    def start_catch_up(self) -> datetime | None:
        """Hold processed_until while a catch-up runs; return where it starts."""
        self.catching_up = True
        if self.processed_until is None:
            return None
        return self.processed_until - self.OVERLAP

    def finish_catch_up(self) -> None:
        """End a catch-up, its gap filled or given up: live uplinks count again."""
        self.catching_up = False
        if self._keys:
            self._advance(max(key.received_at for key in self._keys))

    def _advance(self, received_at: datetime) -> None:
        received_at = min(received_at, datetime.now(UTC) + self.CLOCK_TOLERANCE)
        if self.processed_until is not None and received_at <= self.processed_until:
            return
        self.processed_until = received_at
        horizon = received_at - self.OVERLAP
        # Keys mostly come in the order of their received_at; an older one that came
        # after newer ones (fetched in a catch-up) stays until those are dropped.
        order = self._order
        while order and order[0].received_at < horizon:
            self._keys.discard(order.popleft())

    def _remember(self, key: UplinkKey) -> None:
        if key in self._keys:
            return
        self._keys.add(key)
        self._order.append(key)
        if len(self._order) > self.MAX_KEYS:
            self._keys.discard(self._order.popleft())

    def as_dict(self) -> dict[str, Any]:
        """Return the ledger as JSON-ready data, for storage.

        Whether a catch-up was running is left out: one cut short by a stop holds
        processed_until where it got to, and the next start catches up from there.
        """
        return {
            "processed_until": self.processed_until.isoformat()
            if self.processed_until
            else None,
            "keys": [
                [key.device_id, key.f_cnt, key.received_at.isoformat()]
                # A copy: this may run on another thread while keys are added.
                for key in list(self._order)
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UplinkLedger:
        """Return the ledger stored by as_dict; raise ValueError if it is damaged."""
        try:
            processed_until = data.get("processed_until")
            keys = [
                UplinkKey(device_id, f_cnt, moment)
                for device_id, f_cnt, received_at in data.get("keys") or ()
                if EARLIEST_TIME
                <= (moment := _utc(datetime.fromisoformat(received_at)))
                <= LATEST_TIME
            ]
            until = datetime.fromisoformat(processed_until) if processed_until else None
            if until is not None and not EARLIEST_TIME <= _utc(until) <= LATEST_TIME:
                # Stored by a version that took Go's zero time for a time.
                until = None
            return cls(until, keys)
        except (TypeError, ValueError, AttributeError) as err:
            raise ValueError(f"damaged ledger: {err}") from None


def _utc(moment: datetime) -> datetime:
    """Return a timestamp in UTC; a naive one is taken to be UTC, as the server means."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
