"""The Things Stack's `GET /api/v3/auth_info`, for tests: plain or TLS HTTP on 127.0.0.1.

It knows the keys of the broker's applications (a key replaced on the broker, as when
revoked in the console, is refused with 401, as the Identity Server refuses an unknown
key) and any key a test adds. `unreachable` answers 503, as a stack whose Identity
Server is down.

It also lists an application's end devices (`GET /api/v3/applications/{id}/devices`,
EndDeviceRegistry.List) from `devices`, to a key with RIGHT_APPLICATION_DEVICES_READ on
it (403 otherwise), a page at a time with the total in `X-Total-Count`.
"""

from __future__ import annotations

import ssl
from typing import Any

from aiohttp import web

from ttn_sim import Broker

BOTH_RIGHTS = ["RIGHT_APPLICATION_TRAFFIC_READ", "RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE"]
DEVICES_READ = "RIGHT_APPLICATION_DEVICES_READ"


class AuthInfoServer:
    """Whose key it is, and its rights, as the Identity Server answers."""

    def __init__(self, broker: Broker | None = None) -> None:
        """Know the broker's keys; tests add others to `keys` and `rights`."""
        self.broker = broker
        # API key -> the application it belongs to, and the key's rights.
        self.keys: dict[str, str] = {}
        self.rights: dict[str, list[str]] = {}
        # Application ID -> its end devices, as the Identity Server's JSON has them.
        self.devices: dict[str, list[dict[str, Any]]] = {}
        self.unreachable = False
        self.requests = 0
        self.device_list_requests = 0
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self, tls: ssl.SSLContext | None = None) -> None:
        """Serve on a free port of 127.0.0.1, over TLS with that context."""
        app = web.Application()
        app.router.add_get("/api/v3/auth_info", self._handle)
        app.router.add_get("/api/v3/applications/{app_id}/devices", self._list_devices)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"{'https' if tls else 'http'}://{host}:{port}"

    async def stop(self) -> None:
        """Stop serving."""
        assert self._runner is not None
        await self._runner.cleanup()

    def _lookup(self, key: str) -> tuple[str, list[str]] | None:
        if key in self.keys:
            return self.keys[key], self.rights.get(key, BOTH_RIGHTS)
        for application in self.broker.applications if self.broker else ():
            if application.api_key == key:
                return application.app_id, sorted(application.rights)
        return None

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.unreachable:
            return web.json_response({"code": 14, "message": "unavailable"}, status=503)
        key = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if (found := self._lookup(key)) is None:
            return web.json_response(
                {"code": 16, "message": "unauthenticated"}, status=401
            )
        app_id, rights = found
        return web.json_response(
            {
                "api_key": {
                    "api_key": {"rights": rights},
                    "entity_ids": {"application_ids": {"application_id": app_id}},
                },
                "universal_rights": {},
            }
        )

    async def _list_devices(self, request: web.Request) -> web.Response:
        self.device_list_requests += 1
        if self.unreachable:
            return web.json_response({"code": 14, "message": "unavailable"}, status=503)
        key = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if (found := self._lookup(key)) is None:
            return web.json_response(
                {"code": 16, "message": "unauthenticated"}, status=401
            )
        app_id, rights = found
        if app_id != request.match_info["app_id"] or DEVICES_READ not in rights:
            return web.json_response(
                {"code": 7, "message": "no application rights"}, status=403
            )
        assert request.query["field_mask"] == "name,version_ids"
        limit = int(request.query["limit"])
        page = int(request.query["page"])
        devices = self.devices.get(app_id, [])
        shown = devices[(page - 1) * limit : page * limit]
        response = web.json_response(
            {"end_devices": shown} if shown else {},
            headers={"X-Total-Count": str(len(devices))},
        )
        # Tests move time on to the next listing, which would fire this server's
        # keep-alive timer for a connection the client keeps for the next request.
        response.force_close()
        return response
