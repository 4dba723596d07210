"""TTN identifiers: application and device IDs, EUIs and API keys."""

from __future__ import annotations

from functools import lru_cache
import ipaddress
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
# What users paste from a browser or another client around the host name.
_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_HOST_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_HOST_MAX_LENGTH = 253


def is_valid_id(value: str) -> bool:
    """Return whether value is a valid application, device or tenant ID."""
    # The length first: the cache must keep no long text a sender made up.
    return len(value) <= _ID_MAX_LENGTH and _matches_id(value)


# Every message's topic and body name its device: an application's devices, checked
# once each.
@lru_cache(maxsize=4096)
def _matches_id(value: str) -> bool:
    return _ID_RE.fullmatch(value) is not None


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


def normalize_host(value: str) -> str:
    """Return the host name or IP address in what a user typed or pasted.

    A scheme (https://, mqtts://), a path and a :port are cleaned off; names are
    lower-cased. Raises ValueError when what is left is not a host.
    """
    host = _SCHEME_RE.sub("", value.strip())
    host = re.split(r"[/?#]", host, maxsplit=1)[0]
    if host.startswith("["):
        # An IPv6 address with a port must be written in brackets: [::1]:8883.
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host, _, port = host.partition(":")
        if not port.isdigit():
            raise ValueError(f"not a host: {value!r}")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    host = host.lower().removesuffix(".")
    labels = host.split(".")
    if (
        len(host) > _HOST_MAX_LENGTH
        or not all(_HOST_LABEL_RE.fullmatch(label) for label in labels)
        # A name ending in a number is a mistyped IPv4 address, not a host name.
        or labels[-1].isdigit()
    ):
        raise ValueError(f"not a host: {value!r}")
    return host
