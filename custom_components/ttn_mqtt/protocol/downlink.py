"""Building downlinks the way The Things Stack expects them."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
import re
from typing import Any
import uuid

import orjson

from .errors import DownlinkError, DownlinkProblem
from .messages import DownlinkEvent, DownlinkStatus, EndDeviceIds

F_PORT_MIN = 1
F_PORT_MAX = 223
# The largest application payload any LoRaWAN data rate carries (EU868 DR4-7); a longer
# one can never be sent, whatever the device's data rate.
MAX_PAYLOAD_BYTES = 242
CORRELATION_PREFIX = "ttn_mqtt:"
# A decoded payload is handed to the application's downlink formatter, which turns a
# few values into at most MAX_PAYLOAD_BYTES: a bound far above any real one.
MAX_DECODED_BYTES = 4096
# How many times the server sends a confirmed downlink that is not acknowledged: the
# Application Server's default (as.downlinks.confirmation.default-retry-attempts).
CONFIRMED_ATTEMPTS = 8
# orjson writes at most 254 levels, and the message puts a decoded payload three
# levels down: {"downlinks": [{"decoded_payload": ...}]}.
MAX_DECODED_DEPTH = 254 - 3


class Priority(StrEnum):
    """Downlink priorities, lowest first."""

    LOWEST = "LOWEST"
    LOW = "LOW"
    BELOW_NORMAL = "BELOW_NORMAL"
    NORMAL = "NORMAL"
    ABOVE_NORMAL = "ABOVE_NORMAL"
    HIGH = "HIGH"
    HIGHEST = "HIGHEST"


class PayloadFormat(StrEnum):
    """How a downlink payload is written by the user."""

    HEX = "hex"
    BASE64 = "base64"


@dataclass(frozen=True, slots=True, kw_only=True)
class Downlink:
    """One downlink: raw bytes, or a decoded payload for the server's encoder."""

    f_port: int
    frm_payload: bytes | None = None
    decoded_payload: dict[str, Any] | None = None
    confirmed: bool = False
    # None leaves it to the server: LOWEST, the API's default (TxSchedulePriority 0).
    priority: Priority | None = None
    correlation_id: str

    def __post_init__(self) -> None:
        """Refuse what the server would drop silently."""
        # A bool is an int to Python, and 1.9 must not become 1.
        if (
            not isinstance(self.f_port, int)
            or isinstance(self.f_port, bool)
            or not F_PORT_MIN <= self.f_port <= F_PORT_MAX
        ):
            raise DownlinkError(
                DownlinkProblem.INVALID_F_PORT,
                f"f_port must be {F_PORT_MIN} to {F_PORT_MAX}",
            )
        if (self.frm_payload is None) == (self.decoded_payload is None):
            raise DownlinkError(
                DownlinkProblem.PAYLOAD_XOR_DECODED,
                "give exactly one of payload and decoded_payload",
            )
        if self.decoded_payload is not None and not isinstance(
            self.decoded_payload, dict
        ):
            raise DownlinkError(
                DownlinkProblem.DECODED_NOT_OBJECT, "decoded_payload must be an object"
            )
        if self.decoded_payload is not None:
            try:
                size = len(_json(self.decoded_payload))
                # Refused now rather than when its message is published.
                build_downlink_message([self])
            except TypeError as err:  # orjson's JSONEncodeError is one
                raise DownlinkError(
                    DownlinkProblem.DECODED_NOT_JSON,
                    f"decoded_payload is not JSON: {err}",
                ) from None
            if size > MAX_DECODED_BYTES:
                raise DownlinkError(
                    DownlinkProblem.DECODED_TOO_LARGE,
                    f"decoded_payload is {size} bytes as JSON; "
                    f"at most {MAX_DECODED_BYTES} are sent",
                )
        # An empty payload is a valid downlink (the FPort alone can mean something).
        if self.frm_payload is not None and len(self.frm_payload) > MAX_PAYLOAD_BYTES:
            raise DownlinkError(
                DownlinkProblem.PAYLOAD_TOO_LONG,
                f"the payload is {len(self.frm_payload)} bytes; "
                f"at most {MAX_PAYLOAD_BYTES} fit in a downlink",
            )

    def as_json(self) -> dict[str, Any]:
        """Return the downlink as the server's JSON."""
        body: dict[str, Any] = {
            "f_port": self.f_port,
            "confirmed": self.confirmed,
            "correlation_ids": [self.correlation_id],
        }
        if self.priority is not None:
            body["priority"] = self.priority.value
        if self.confirmed:
            # Said by us, so that the last nack can be told: after it the server
            # drops the downlink without a report (applicationserver.go).
            body["confirmed_retry"] = {"max_attempts": CONFIRMED_ATTEMPTS}
        if self.frm_payload is not None:
            body["frm_payload"] = base64.b64encode(self.frm_payload).decode("ascii")
        else:
            body["decoded_payload"] = self.decoded_payload
        return body


def new_correlation_id() -> str:
    """Return a correlation id of ours, so the server's events can be matched."""
    return f"{CORRELATION_PREFIX}{uuid.uuid4().hex}"


def own_correlation_id(correlation_ids: Iterable[str]) -> str | None:
    """Return our correlation id among a downlink's, which the server adds to."""
    return next(
        (cid for cid in correlation_ids if cid.startswith(CORRELATION_PREFIX)), None
    )


def report_details(event: DownlinkEvent) -> dict[str, Any]:
    """Return what a report says of its downlink: ids, f_port, and why it failed."""
    details: dict[str, Any] = {
        # Ours alone, so that an automation's event trigger can match it.
        "correlation_id": own_correlation_id(event.downlink_correlation_ids),
        "correlation_ids": list(event.downlink_correlation_ids),
        "f_port": event.f_port,
    }
    if event.status is DownlinkStatus.FAILED:
        details["error_name"] = event.error_name
        details["error_message"] = event.error_message
        if event.error_cause_name or event.error_cause_message:
            details["error_cause_name"] = event.error_cause_name
            details["error_cause_message"] = event.error_cause_message
    if event.status is DownlinkStatus.NACK and event.retry_attempt is not None:
        details["attempt"] = event.retry_attempt
    return details


# The error name of a downlink the server never answered, ours (not The Things Stack's).
NO_ANSWER = "no_answer"


def unanswered_report(
    downlink: Downlink, device: EndDeviceIds, after: float, now: datetime
) -> DownlinkEvent:
    """Return the failed report of a downlink the server said nothing of in time.

    The server sends no report of a downlink it refuses before queueing it (its
    formatter failed on the decoded payload, or the message was invalid: mqtt.go only
    logs it), nor of one published into a connection that was already dead.
    """
    return DownlinkEvent(
        device=device,
        received_at=now,
        raw_json=b"{}",
        status=DownlinkStatus.FAILED,
        f_port=downlink.f_port,
        frm_payload=None,
        decoded_payload=downlink.decoded_payload,
        confirmed=downlink.confirmed,
        priority=downlink.priority.value if downlink.priority else None,
        downlink_correlation_ids=(downlink.correlation_id,),
        error_name=NO_ANSWER,
        error_message=(
            f"The Things Stack did not answer within {after:g} s: it refused the "
            "downlink before queueing it (its downlink payload formatter failed, or "
            "the message was invalid), or the connection was lost"
        ),
    )


# Ours too: the server drops a confirmed downlink after its last nack, reporting nothing.
MAX_RETRIES_REACHED = "max_retries_reached"


def exhausted_report(event: DownlinkEvent) -> DownlinkEvent | None:
    """Return the failed report that follows a confirmed downlink's last nack, if it was.

    A nack carries the number of transmissions nacked so far; the Application Server
    sends the downlink again while that is at most max_attempts, then drops it
    without a report (applicationserver.go handleDownlinkNack, PR #6060).
    """
    if (
        event.status is not DownlinkStatus.NACK
        or event.retry_attempt is None
        or event.retry_max_attempts is None
        or event.retry_attempt <= event.retry_max_attempts
    ):
        return None
    return replace(
        event,
        status=DownlinkStatus.FAILED,
        error_name=MAX_RETRIES_REACHED,
        error_message=(
            f"The device acknowledged none of {event.retry_attempt} transmissions; "
            "The Things Stack dropped the downlink"
        ),
    )


def decode_payload_text(text: str, payload_format: PayloadFormat) -> bytes:
    """Turn what a user wrote into bytes; hex may carry spaces and colons."""
    try:
        if payload_format is PayloadFormat.HEX:
            return bytes.fromhex(re.sub(r"[\s:]", "", text))
        return base64.b64decode(text.strip(), validate=True)
    except (ValueError, binascii.Error):
        raise DownlinkError(
            DownlinkProblem.INVALID_HEX
            if payload_format is PayloadFormat.HEX
            else DownlinkProblem.INVALID_BASE64,
            f"the payload is not valid {payload_format.value}",
        ) from None


def build_downlink_message(downlinks: Sequence[Downlink]) -> bytes:
    """Return the body to publish on down/push or down/replace; [] clears the queue."""
    return _json({"downlinks": [downlink.as_json() for downlink in downlinks]})


def _json(value: Any) -> bytes:
    # Keys of a decoded payload written in YAML are a str subclass, which orjson takes
    # only with OPT_NON_STR_KEYS.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
