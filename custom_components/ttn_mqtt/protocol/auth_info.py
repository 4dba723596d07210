"""Whose API key it is, from The Things Stack's `auth_info` answer.

Over MQTT a key of another application is refused like any wrong key (CONNACK 5), as
the username names our application. The HTTP API's `GET /api/v3/auth_info`, called
with the key as bearer token, tells which entity the key belongs to.
"""

from __future__ import annotations

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
