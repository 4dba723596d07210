"""The Storage Integration: reading back the uplinks that MQTT could not deliver.

The Things Stack keeps no MQTT session, so what arrives while a client is away is gone
from MQTT. An application with the Storage Integration enabled can be asked for it:
`GET /api/v3/as/applications/<app id>/packages/storage/uplink_message`, answered with
newline-delimited JSON, one `{"result": <ApplicationUp>}` per line.

`StoredUplinkReader` turns that body into uplinks as it streams in, after `Inflater`
has inflated a compressed one in bounded steps.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import suppress
from datetime import datetime, timedelta
import zlib

import orjson

from .errors import TtnParseError
from .ids import is_valid_id
from .json_values import as_utc
from .messages import MAX_MESSAGE_BYTES, Uplink, parse_application_up


def storage_uplinks_path(app_id: str) -> str:
    """Return the HTTP path of an application's stored uplinks."""
    if not is_valid_id(app_id):
        raise ValueError(f"invalid application id: {app_id!r}")
    return f"/api/v3/as/applications/{app_id}/packages/storage/uplink_message"


def storage_query(
    after: datetime | None, last_hours: int, now: datetime, limit: int
) -> dict[str, str]:
    """Return the query of one page of a backfill: after a time, oldest first.

    Never further back than the last hours: a week of uplinks replayed at once is not
    what a user asked for with "the last 24 hours". `after`, not the deprecated `last`
    (api/ttn/lorawan/v3/applicationserver_integrations_storage.proto).
    """
    since = as_utc(now) - timedelta(hours=last_hours)
    start = since if after is None or as_utc(after) < since else as_utc(after)
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


class Inflater:
    """Inflate a gzip or deflate body in bounded steps, up to a limit in all."""

    # What one step may inflate to: a fraction of a millisecond of work.
    STEP = 256 * 1024

    def __init__(self, encoding: str | None, limit: int) -> None:
        encoding = (encoding or "identity").strip().lower()
        if encoding not in ("identity", "gzip", "deflate"):
            raise StoredStreamError(f"a body encoded as {encoding!r}, not asked for")
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
                    raise StoredStreamError(
                        f"a damaged compressed body: {err}"
                    ) from None
                data = self._inflater.unconsumed_tail
                # Asked again with nothing new until it has nothing more to give.
                if not piece and not data:
                    return
            self._total += len(piece)
            if self._total > self._limit:
                raise StoredStreamError(
                    f"the answer is larger than {self._limit} bytes; not read further"
                )
            yield piece


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Return the seconds a rate-limited answer asks to wait, if it says.

    The Things Stack says it in X-Rate-Limit-Retry (pkg/ratelimit); Retry-After is the
    standard header a proxy may send.
    """
    for name in ("X-Rate-Limit-Retry", "Retry-After"):
        if (value := headers.get(name)) is not None:
            with suppress(ValueError):
                return max(float(value), 0.0)
    return None
