"""A local Storage Integration for tests: plain HTTP on 127.0.0.1.

It answers `GET /api/v3/as/applications/<app id>/packages/storage/uplink_message` the way
The Things Stack does: the bearer key checked, `after`, `before`, `order`, `limit` and the
deprecated `last` honoured, and a body of `{"result": <ApplicationUp>}` records. With
`Accept: text/event-stream` records are separated by a blank line, otherwise by a
newline (lorawan-stack rpcserver.go: jsonpb.TTNEventStream's delimiter is "\n\n").
Tests put uplinks in it (those The Things Stack would have stored while Home Assistant
was away), make it answer an error status or a rate limit, break its stream midway,
hang, or hold its stream open while live uplinks arrive.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
import re
from typing import Any

from aiohttp import web
import orjson

PATH = "/api/v3/as/applications/{app_id}/packages/storage/uplink_message"


class StorageServer:
    """The Storage Integration of one application."""

    def __init__(self, app_id: str, api_key: str) -> None:
        """Prepare an empty storage; start() serves it."""
        self.app_id = app_id
        self.api_key = api_key
        # (received_at, line) pairs, as stored.
        self._stored: list[tuple[datetime, bytes]] = []
        # Answer every request with this status instead of the uplinks.
        self.status: int | None = None
        # Never answer (until stopped).
        self.hang = False
        # Send nothing until release() once a request came; then send what matches,
        # including what was stored in the meantime.
        self.hold = False
        # Answer with a redirect to this URL.
        self.redirect_to: str | None = None
        # Answer with this body and these headers, as they are (say, a gzip bomb).
        self.raw_answer: tuple[bytes, dict[str, str]] | None = None
        # After at most this many records, end the stream with an error record
        # (Unavailable), as grpc-gateway does when a stream fails after its 200.
        self.error_after: int | None = None
        # Answer this many requests with 429 and a rate limit's headers; then serve.
        self.rate_limited = 0
        # Seconds the rate-limited answers tell to wait (X-Rate-Limit-Retry).
        self.rate_limit_retry = 1
        self.requests: list[dict[str, str]] = []
        # How many requests got the stored uplinks, in full.
        self.answered = 0
        self.held = asyncio.Event()
        self._release = asyncio.Event()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    def store(self, uplink: dict[str, Any]) -> dict[str, Any]:
        """Store an uplink, as The Things Stack stores every uplink it receives."""
        self.store_line(orjson.dumps({"result": uplink}), uplink["received_at"])
        return uplink

    def store_line(self, line: bytes, received_at: str) -> None:
        """Store a raw record, good or not, received at the given time."""
        self._stored.append((datetime.fromisoformat(received_at), line))

    def release(self) -> None:
        """Let a held stream go on."""
        self._release.set()

    async def start(self) -> None:
        """Serve on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_get(PATH, self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        """Stop serving; hanging and held requests end."""
        self._stopping.set()
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        self.requests.append(query)
        if self.rate_limited > 0:
            self.rate_limited -= 1
            return self._rate_limit_exceeded()
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(401, "unauthenticated")
        if request.match_info["app_id"] != self.app_id:
            return _error(404, "application not found")
        if self.status is not None:
            return _error(self.status, "storage integration error")
        if self.redirect_to is not None:
            raise web.HTTPFound(self.redirect_to)
        if self.raw_answer is not None:
            body, headers = self.raw_answer
            return web.Response(body=body, headers=headers)
        if self.hang:
            await self._stopping.wait()
            return _error(503, "stopping")
        event_stream = request.headers.get("Accept") == "text/event-stream"
        delimiter = b"\n\n" if event_stream else b"\n"
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream"
                if event_stream
                else "application/json"
            }
        )
        await response.prepare(request)
        if self.hold:
            self.held.set()
            await self._release.wait()
        for record in self._select(query)[: self.error_after]:
            await response.write(record + delimiter)
        if self.error_after is None:
            self.answered += 1
        else:
            await response.write(_STREAM_ERROR + delimiter)
        await response.write_eof()
        return response

    def _rate_limit_exceeded(self) -> web.Response:
        # lorawan-stack pkg/ratelimit result.go `SetHTTPHeaders`: these four headers,
        # no Retry-After; the body is the gRPC status of errRateLimitExceeded.
        retry = str(self.rate_limit_retry)
        return web.json_response(
            {"code": 8, "message": "rate limit exceeded", "details": []},
            status=429,
            headers={
                "X-Rate-Limit-Limit": "10",
                "X-Rate-Limit-Available": "0",
                "X-Rate-Limit-Reset": retry,
                "X-Rate-Limit-Retry": retry,
            },
        )

    def _select(self, query: dict[str, str]) -> list[bytes]:
        stored = list(self._stored)
        if query.get("order") == "received_at":
            stored.sort(key=lambda item: item[0])
        elif query.get("order") == "-received_at":
            stored.sort(key=lambda item: item[0], reverse=True)
        if "after" in query:
            after = datetime.fromisoformat(query["after"])
            stored = [item for item in stored if item[0] > after]
        if "before" in query:
            before = datetime.fromisoformat(query["before"])
            stored = [item for item in stored if item[0] < before]
        if "last" in query:
            match = re.fullmatch(r"(\d+)h", query["last"])
            assert match, f"unexpected last={query['last']}"
            since = datetime.now(UTC) - timedelta(hours=int(match[1]))
            stored = [item for item in stored if item[0] >= since]
        if "limit" in query:
            stored = stored[: int(query["limit"])]
        return [line for _, line in stored]


# What grpc-gateway writes when the stream fails after its 200: a google.rpc.Status.
_STREAM_ERROR = orjson.dumps(
    {"error": {"code": 14, "message": "storage unavailable", "details": []}}
)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"code": status, "message": message}, status=status)
