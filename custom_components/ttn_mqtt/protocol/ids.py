"""TTN identifiers: application and device IDs, EUIs and API keys."""

from __future__ import annotations

import re

# The Things Stack's ID rule: 3 to 36 characters, lower-case letters and digits,
# single dashes, no dash at either end.
_ID_RE = re.compile(r"^[a-z0-9](?:-?[a-z0-9]){2,}$")
_ID_MAX_LENGTH = 36
_EUI_RE = re.compile(r"^[0-9A-F]{16}$")
_API_KEY_RE = re.compile(r"^NNSXS\.[A-Z2-7]{39}\.[A-Z2-7]{52}$")
# The console shows a key's ID (the middle part of the key) next to the key itself,
# and users paste it by mistake.
_API_KEY_ID_RE = re.compile(r"^(?:NNSXS\.)?[A-Z2-7]{39}$")


def is_valid_id(value: str) -> bool:
    """Return whether value is a valid application, device or tenant ID."""
    return len(value) <= _ID_MAX_LENGTH and _ID_RE.fullmatch(value) is not None


def normalize_eui(value: str) -> str:
    """Return an EUI as 16 upper-case hex digits; accept dashes, colons and spaces.

    Raises ValueError when value is not an EUI.
    """
    compact = re.sub(r"[\s:-]", "", value).upper()
    if not _EUI_RE.fullmatch(compact):
        raise ValueError(f"not an EUI: {value!r}")
    return compact


def is_valid_api_key(value: str) -> bool:
    """Return whether value has the format of a The Things Stack API key."""
    return _API_KEY_RE.fullmatch(value) is not None


def looks_like_api_key_id(value: str) -> bool:
    """Return whether value looks like an API key's ID rather than the key."""
    return _API_KEY_ID_RE.fullmatch(value) is not None


def application_uid(app_id: str, tenant: str) -> str:
    """Return the MQTT username and topic root of an application: app@tenant, or app."""
    return f"{app_id}@{tenant}" if tenant else app_id
