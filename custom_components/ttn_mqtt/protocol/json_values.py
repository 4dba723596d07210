"""Reading typed values out of the server's JSON: anything else raises TtnParseError."""

from __future__ import annotations

from datetime import UTC, datetime
import re
from typing import Any

from .errors import TtnParseError


def fail(what: str) -> TtnParseError:
    """Return the error for a value that is not what the server sends."""
    return TtnParseError(what)


def as_object(value: Any, what: str) -> dict[str, Any]:
    """Return value when it is an object."""
    if not isinstance(value, dict):
        raise fail(f"{what} is not an object")
    return value


def optional_object(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """Read an object; absent is empty."""
    value = parent.get(key)
    return {} if value is None else as_object(value, key)


def text(parent: dict[str, Any], key: str) -> str | None:
    """Read a string."""
    value = parent.get(key)
    if value is None or isinstance(value, str):
        return value
    raise fail(f"{key} is not a string")


def label(parent: dict[str, Any], key: str) -> str | None:
    """Read a text that is only shown: anything else is taken as absent."""
    value = parent.get(key)
    return value if isinstance(value, str) else None


def integer(parent: dict[str, Any], key: str) -> int | None:
    """Read an integer; the server sends 64-bit ones (e.g. frequency) as strings."""
    value = parent.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise fail(f"{key} is not an integer")


def number(parent: dict[str, Any], key: str) -> float | None:
    """Read a number (booleans are not)."""
    value = parent.get(key)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise fail(f"{key} is not a number")


def flag(parent: dict[str, Any], key: str) -> bool:
    """Read a boolean; absent is false."""
    value = parent.get(key, False)
    if isinstance(value, bool):
        return value
    raise fail(f"{key} is not a boolean")


def strings(parent: dict[str, Any], key: str) -> tuple[str, ...]:
    """Read a list of strings."""
    value = parent.get(key)
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise fail(f"{key} is not a list of strings")


# The times a message may carry; others are taken as absent. LoRaWAN is from 2015.
EARLIEST_TIME = datetime(2015, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(9000, 1, 1, tzinfo=UTC)


def timestamp(parent: dict[str, Any], key: str) -> datetime | None:
    """Read a time in UTC; one no clock means is absent."""
    value = text(parent, key)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"{key} is not a timestamp") from None
    # The server writes UTC; a time without its zone is taken to be UTC too, and one
    # in another zone is turned to UTC: an event says every time the same way.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    else:
        moment = moment.astimezone(UTC)
    # Go's zero time (0001-01-01), or a year no clock means: no time at all, and no
    # arithmetic on it may overflow.
    return moment if EARLIEST_TIME <= moment <= LATEST_TIME else None


def duration(parent: dict[str, Any], key: str) -> float | None:
    """Read a protobuf duration such as "0.082176s" as seconds."""
    value = text(parent, key)
    if value is None:
        return None
    try:
        return float(value.removesuffix("s"))
    except ValueError:
        raise fail(f"{key} is not a duration") from None


def as_utc(moment: datetime) -> datetime:
    """Return a timestamp in UTC; a naive one is taken to be UTC, as the server means."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# A placeholder of an error's message_format: {name}, which the server may quote.
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def error_text(error: dict[str, Any]) -> str | None:
    """Read an error's message_format, its attributes filled in, as TTS shows it."""
    message_format = text(error, "message_format")
    if message_format is None:
        return None
    attributes = error.get("attributes")
    if not isinstance(attributes, dict):
        return message_format

    def fill(match: re.Match[str]) -> str:
        value = attributes.get(match[1])
        return match[0] if value is None else str(value)

    return _PLACEHOLDER.sub(fill, message_format)
