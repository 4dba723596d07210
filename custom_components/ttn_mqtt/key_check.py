"""Asking The Things Stack's Identity Server what an API key is, over HTTPS.

The config flow asks it to name the application of a refused key and to check a new
key's rights; the link asks it whether a refused connection is a refused key; the
device inventory asks it for the application's devices.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import StrEnum
from http import HTTPStatus
import logging
import ssl

from aiohttp import ClientError, hdrs
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from yarl import URL

from .protocol.auth_info import (
    AUTH_INFO_PATH,
    identity_server_host,
    key_application_id,
    key_rights,
)
from .protocol.end_devices import (
    PAGE_SIZE,
    TOTAL_COUNT_HEADER,
    ListedDevice,
    end_devices_path,
    end_devices_query,
    parse_end_devices,
)
from .protocol.errors import TtnParseError
from .protocol.tls import client_ssl_context

_LOGGER = logging.getLogger(__name__)


class KeyStatus(StrEnum):
    """What the Identity Server says of a key."""

    # It knows the key: see its application and rights.
    KNOWN = "known"
    # It refuses the key (401 or 403; 400 for a key ID pasted as a key).
    REFUSED = "refused"
    # No answer that tells: unreachable, a timeout, a server error.
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What the Identity Server says of a key."""

    status: KeyStatus
    application_id: str | None = None
    rights: frozenset[str] = field(default_factory=frozenset)


# Asking only improves an error or a decision: never wait long for it (seconds).
CHECK_TIMEOUT = 10.0
# A longer list is not read: 10,000 devices is The Things Stack Cloud's own limit.
MAX_DEVICE_PAGES = 100


def identity_server_url(host: str) -> URL:
    """Return the address of the Identity Server that knows the keys of host's stack."""
    return URL.build(scheme="https", host=identity_server_host(host))


async def async_check_key(
    hass: HomeAssistant, host: str, api_key: str, ca_pem: str | None
) -> KeyInfo:
    """Return what the Identity Server of host says of api_key, asked over HTTPS."""
    try:
        # What the MQTT session trusts, a self-hosted stack's CA included.
        ssl_context = await hass.async_add_executor_job(client_ssl_context, ca_pem)
        async with (
            asyncio.timeout(CHECK_TIMEOUT),
            async_get_clientsession(hass).get(
                identity_server_url(host).with_path(AUTH_INFO_PATH),
                headers={hdrs.AUTHORIZATION: f"Bearer {api_key}"},
                ssl=ssl_context,
            ) as response,
        ):
            if response.status in (
                HTTPStatus.BAD_REQUEST,
                HTTPStatus.UNAUTHORIZED,
                HTTPStatus.FORBIDDEN,
            ):
                return KeyInfo(KeyStatus.REFUSED)
            if response.status != HTTPStatus.OK:
                _LOGGER.debug("auth_info answered HTTP %s", response.status)
                return KeyInfo(KeyStatus.UNKNOWN)
            answer = await response.json(content_type=None)
    # ValueError: an answer that is not JSON; SSLError, TypeError: a bad CA.
    except (ClientError, TimeoutError, ValueError, ssl.SSLError, TypeError) as err:
        _LOGGER.debug("auth_info could not be asked: %s", err)
        return KeyInfo(KeyStatus.UNKNOWN)
    return KeyInfo(KeyStatus.KNOWN, key_application_id(answer), key_rights(answer))


async def async_list_devices(
    hass: HomeAssistant, host: str, api_key: str, ca_pem: str | None, app_id: str
) -> list[ListedDevice] | None:
    """Return every device of the application, or None without the whole list.

    None too for a key without the right to read devices (403), which is how most
    keys are made.
    """
    devices: list[ListedDevice] = []
    try:
        ssl_context = await hass.async_add_executor_job(client_ssl_context, ca_pem)
        url = identity_server_url(host).with_path(end_devices_path(app_id))
        for page in range(1, MAX_DEVICE_PAGES + 1):
            async with (
                asyncio.timeout(CHECK_TIMEOUT),
                async_get_clientsession(hass).get(
                    url,
                    params=end_devices_query(page),
                    headers={hdrs.AUTHORIZATION: f"Bearer {api_key}"},
                    allow_redirects=False,
                    ssl=ssl_context,
                ) as response,
            ):
                if response.status != HTTPStatus.OK:
                    _LOGGER.debug("The device list answered HTTP %s", response.status)
                    return None
                total = response.headers.get(TOTAL_COUNT_HEADER, "")
                listed = parse_end_devices(await response.json(content_type=None))
            devices.extend(listed.devices)
            # The server's own clients stop when the pages cover the total.
            if listed.entries < PAGE_SIZE or (
                total.isdigit() and page * PAGE_SIZE >= int(total)
            ):
                return devices
    except (
        ClientError,
        TimeoutError,
        TtnParseError,
        ValueError,
        ssl.SSLError,
        TypeError,
    ) as err:
        _LOGGER.debug("The device list could not be read: %r", err)
        return None
    _LOGGER.warning(
        "Application %s has more than %s devices: they are not listed",
        app_id,
        MAX_DEVICE_PAGES * PAGE_SIZE,
    )
    return None


def refuses_key(key: KeyInfo, app_id: str) -> bool:
    """Return whether the Identity Server's answer confirms that a key is refused.

    Refused, of another application, or without a right on it; a key it knows as one
    of this application is no reason for CONNACK 5, nor is an answer it could not give.
    """
    if key.status is KeyStatus.REFUSED:
        return True
    return key.status is KeyStatus.KNOWN and (
        key.application_id != app_id or not key.rights
    )
