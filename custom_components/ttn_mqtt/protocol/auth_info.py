"""What an API key is, from The Things Stack's `auth_info` answer.

Over MQTT the server answers CONNACK 5 for a wrong key, for a key of another
application, and for any other error while it sets the connection up, an Identity
Server it cannot reach included (mystique connect.go). It grants a subscription
whatever the key's rights, and then filters what it delivers (mystique publishing.go).
The Identity Server's `GET /api/v3/auth_info`, with the key as bearer token, tells
whose key it is and its rights (expanded: an "all rights" key lists each one).
"""

from __future__ import annotations

import re
from typing import Any, Final

from .ids import is_valid_id

AUTH_INFO_PATH: Final = "/api/v3/auth_info"


def key_application_id(auth_info: Any) -> str | None:
    """Return the ID of the application an API key belongs to.

    None for a key of a user, an organization or a gateway, and for any answer not
    shaped like The Things Stack's.
    """
    try:
        app_id = auth_info["api_key"]["entity_ids"]["application_ids"]["application_id"]
    except (KeyError, TypeError):
        return None
    return app_id if isinstance(app_id, str) and is_valid_id(app_id) else None


# The rights the integration uses (api/ttn/lorawan/v3/rights.proto).
RIGHT_TRAFFIC_READ: Final = "RIGHT_APPLICATION_TRAFFIC_READ"
RIGHT_DOWN_WRITE: Final = "RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE"
# Optional: the device list (protocol/end_devices.py).
RIGHT_DEVICES_READ: Final = "RIGHT_APPLICATION_DEVICES_READ"

# <tenant>.<cluster>.cloud.thethings.industries
_CLOUD_TENANT = re.compile(r"^([a-z0-9-]+)\.[a-z0-9-]+\.cloud\.thethings\.industries$")


def key_rights(auth_info: Any) -> frozenset[str]:
    """Return the rights of an API key, as listed in the answer."""
    try:
        rights = auth_info["api_key"]["api_key"]["rights"]
    except (KeyError, TypeError):
        return frozenset()
    if not isinstance(rights, list):
        return frozenset()
    return frozenset(right for right in rights if isinstance(right, str))


def identity_server_host(host: str) -> str:
    """Return the host of the Identity Server of an MQTT host.

    The Things Network has one, on eu1, for every cluster; a The Things Stack Cloud
    tenant has its own on its eu1 address; another deployment serves it on its host.
    """
    if host.endswith(".cloud.thethings.network"):
        return "eu1.cloud.thethings.network"
    if match := _CLOUD_TENANT.match(host):
        return f"{match[1]}.eu1.cloud.thethings.industries"
    return host
