"""Which uplinks were applied: live and fetched back, each is applied once."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from .json_values import EARLIEST_TIME, LATEST_TIME, as_utc
from .messages import Uplink

# What tells one uplink from another: its device, frame counter and arrival.
# A plain tuple of text, numbers and a time, not a named tuple: one is kept per
# uplink for OVERLAP, and the garbage collector stops tracking a plain tuple of
# such values (never an instance of a tuple's subclass), so that it does not feed
# the full collections.
type UplinkKey = tuple[str, int | None, datetime]
# Where a key holds its arrival.
RECEIVED_AT: Final = 2


def uplink_key(uplink: Uplink) -> UplinkKey | None:
    """Return an uplink's key, or None when it has no received_at to tell it by."""
    if uplink.received_at is None:
        return None
    return (uplink.device.device_id, uplink.f_cnt, as_utc(uplink.received_at))


def is_older(uplink: Uplink, than: Uplink | None) -> bool:
    """Return whether uplink was received before another (False when either is undated)."""
    if than is None or uplink.received_at is None or than.received_at is None:
        return False
    return as_utc(uplink.received_at) < as_utc(than.received_at)


class UplinkLedger:
    """Which uplinks were applied, and up to when everything has been processed.

    `processed_until` is where the next backfill starts. Live uplinks move it forward,
    except while a backfill fills the gap left by a disconnection: until it is done,
    the live uplinks after the gap say nothing of the uplinks inside it. Fetched
    uplinks come in the order they were received, so each moves it forward.
    """

    # The server stamps received_at before it publishes, and uplinks of different
    # devices can be published slightly out of that order: a backfill starts this much
    # before processed_until, and the keys kept over that span drop what comes twice.
    OVERLAP = timedelta(seconds=10)
    # A guard against an unbounded key set; far more than a backfill keeps at once.
    MAX_KEYS = 5000
    # A server or gateway clock ahead stamps uplinks in the future: processed_until
    # never goes further than this past now, or the next backfill would skip ahead.
    CLOCK_TOLERANCE = timedelta(minutes=1)

    def __init__(
        self, processed_until: datetime | None = None, keys: Iterable[UplinkKey] = ()
    ) -> None:
        """Start from what was stored, or from nothing."""
        self.processed_until = as_utc(processed_until) if processed_until else None
        self.backfilling = False
        self._keys: set[UplinkKey] = set()
        # The keys in the order they came, so that dropping the old ones costs only
        # what is dropped: every live uplink moves the horizon.
        self._order: deque[UplinkKey] = deque()
        for key in keys:
            self._remember(key)

    def add(self, uplink: Uplink, *, fetched: bool = False) -> bool:
        """Record an uplink about to be applied; return False if it was applied before."""
        key = uplink_key(uplink)
        if key is None:
            return True
        if key in self._keys:
            return False
        self._remember(key)
        if fetched or not self.backfilling:
            self._advance(key[RECEIVED_AT])
        return True

    def start_backfill(self) -> datetime | None:
        """Hold processed_until while a backfill runs; return where it starts."""
        self.backfilling = True
        if self.processed_until is None:
            return None
        return self.processed_until - self.OVERLAP

    def finish_backfill(self) -> None:
        """End a backfill, its gap filled or given up: live uplinks count again."""
        self.backfilling = False
        if self._keys:
            self._advance(max(key[RECEIVED_AT] for key in self._keys))

    def _advance(self, received_at: datetime) -> None:
        received_at = min(received_at, datetime.now(UTC) + self.CLOCK_TOLERANCE)
        if self.processed_until is not None and received_at <= self.processed_until:
            return
        self.processed_until = received_at
        horizon = received_at - self.OVERLAP
        # Keys mostly come in the order of their received_at; an older one that came
        # after newer ones (fetched in a backfill) stays until those are dropped.
        order = self._order
        while order and order[0][RECEIVED_AT] < horizon:
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

        Whether a backfill was running is left out: one cut short by a stop holds
        processed_until where it got to, and the next start backfills from there.
        """
        return {
            "processed_until": self.processed_until.isoformat()
            if self.processed_until
            else None,
            "keys": [
                [device_id, f_cnt, received_at.isoformat()]
                # A copy: this may run on another thread while keys are added.
                for device_id, f_cnt, received_at in list(self._order)
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UplinkLedger:
        """Return the ledger stored by as_dict; raise ValueError if it is damaged."""
        try:
            processed_until = data.get("processed_until")
            keys = [
                (device_id, f_cnt, moment)
                for device_id, f_cnt, received_at in data.get("keys") or ()
                if EARLIEST_TIME
                <= (moment := as_utc(datetime.fromisoformat(received_at)))
                <= LATEST_TIME
            ]
            until = datetime.fromisoformat(processed_until) if processed_until else None
            if until is not None and not EARLIEST_TIME <= as_utc(until) <= LATEST_TIME:
                # Stored by a version that took Go's zero time for a time.
                until = None
            return cls(until, keys)
        except (TypeError, ValueError, AttributeError) as err:
            raise ValueError(f"damaged ledger: {err}") from None
