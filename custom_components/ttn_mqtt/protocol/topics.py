"""MQTT topics of The Things Stack v3: building them safely and parsing them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .errors import TtnParseError
from .ids import is_valid_id


class MessageKind(StrEnum):
    """What a message on a device topic is, named by the topic's tail."""

    UPLINK = "up"
    # One message per normalized measurement of an uplink: not used here.
    UPLINK_NORMALIZED = "up/normalized"
    JOIN = "join"
    DOWN_QUEUED = "down/queued"
    DOWN_SENT = "down/sent"
    DOWN_ACK = "down/ack"
    DOWN_NACK = "down/nack"
    DOWN_FAILED = "down/failed"
    DOWN_INVALIDATED = "down/invalidated"
    LOCATION_SOLVED = "location/solved"
    SERVICE_DATA = "service/data"


class DownlinkMode(StrEnum):
    """Whether a downlink is appended to the device's queue or replaces it."""

    PUSH = "push"
    REPLACE = "replace"


@dataclass(frozen=True, slots=True)
class DeviceTopic:
    """A parsed device topic: v3/<uid>/devices/<device_id>/<kind>."""

    uid: str
    device_id: str
    kind: MessageKind


_KINDS = {kind.value: kind for kind in MessageKind}


# What the integration uses. Subscribing to these alone (not `#`) keeps the others
# out of the server's buffer of 64 messages per connection (mystique session.go).
HANDLED_KINDS = frozenset(MessageKind) - {
    MessageKind.UPLINK_NORMALIZED,
    MessageKind.SERVICE_DATA,
}


def subscription_topics(uid: str) -> list[str]:
    """Return the topic filters of every kind of message the integration handles."""
    return [
        f"v3/{uid}/devices/+/{kind.value}"
        for kind in MessageKind
        if kind in HANDLED_KINDS
    ]


def downlink_topic(uid: str, device_id: str, mode: DownlinkMode) -> str:
    """Return the topic to publish a device's downlinks to.

    Only validated IDs reach a topic: `+`, `#` and `/` would change its meaning.
    """
    if not is_valid_id(device_id):
        raise ValueError(f"invalid device ID: {device_id!r}")
    return f"v3/{uid}/devices/{device_id}/down/{DownlinkMode(mode).value}"


def parse_topic(uid: str, topic: str) -> DeviceTopic:
    """Parse a topic of application `uid`; raise TtnParseError for any other."""
    prefix = f"v3/{uid}/devices/"
    if not topic.startswith(prefix):
        raise TtnParseError(f"unexpected topic {topic!r}")
    device_id, _, tail = topic[len(prefix) :].partition("/")
    kind = _KINDS.get(tail)
    if kind is None or not is_valid_id(device_id):
        raise TtnParseError(f"unexpected topic {topic!r}")
    return DeviceTopic(uid, device_id, kind)
