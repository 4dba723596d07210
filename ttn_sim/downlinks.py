"""What the application server makes of a downlink request, and why a transmission fails.

As on TTS (lorawan-stack mqtt.go `deliver`, applicationserver.go `downlinkQueueOp`):

- A request the server cannot decode or that breaks the API's field rules produces no
  event at all, the server only logs it: not JSON, an f_port over 255 or of 224, an
  unknown priority, a correlation id over 100 characters, a confirmed_retry.max_attempts
  outside 1..100. So does a downlink with neither frm_payload nor decoded_payload
  (`no_payload`). One bad downlink refuses the whole request.
- f_port 0 passes the API but not the queue operation: every downlink of the request
  is reported on `down/failed` with `no_f_port`, and none is queued.
- Anything else is queued: an empty `"frm_payload": ""` included, and a frm_payload of
  any length (the API sets no maximum). When both frm_payload and decoded_payload are
  given, frm_payload is sent and decoded_payload is not encoded. An unset priority is
  LOWEST, the zero value.
- A downlink too long for the device's data rate is queued too, and fails with
  `application_downlink_too_long` only when its turn to be sent comes.
"""

import base64
import binascii
import json
from typing import Any
import uuid

from .devices import SimDevice
from .formats import new_ulid
from .messages import DeviceSession

PRIORITIES = (
    "LOWEST",
    "LOW",
    "BELOW_NORMAL",
    "NORMAL",
    "ABOVE_NORMAL",
    "HIGH",
    "HIGHEST",
)
# messages.proto ApplicationDownlink: f_port {lte: 255, not_in: [224]}, each
# correlation id max_len 100, confirmed_retry.max_attempts {gt: 0, lte: 100}.
_RESERVED_F_PORT = 224
_MAX_CORRELATION_ID = 100
_MAX_RETRY_ATTEMPTS = 100
# gRPC status codes, as ErrorDetails.code carries them.
_INVALID_ARGUMENT = 3
_FAILED_PRECONDITION = 9
_ABORTED = 10


class DownlinkRejected(ValueError):
    """The request is invalid: the real server logs it and publishes nothing."""


def parse_request(body: Any) -> list[dict[str, Any]]:
    """Return the downlinks of a push or replace body, checked, in the shape TTS writes.

    All downlinks of one request share one `as:downlink:` correlation id, after the
    request's own (applicationserver.go `downlinkQueueOp`).
    """
    items = body.get("downlinks") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise DownlinkRejected("no downlinks list")
    checked = [_check(item) for item in items]
    request_id = f"as:downlink:{new_ulid()}"
    for downlink in checked:
        downlink["correlation_ids"].append(request_id)
    return checked


def queue_error(downlinks: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Return why the downlinks of a request cannot be queued at all, or None.

    applicationserver.go `attemptDownlinkQueueOp`: one downlink without f_port fails
    them all (errNoFPort).
    """
    if any(downlink["f_port"] == 0 for downlink in downlinks):
        return _error_details(
            "pkg/applicationserver", "no_f_port", "no FPort", code=_INVALID_ARGUMENT
        )
    return None


def number(
    downlinks: list[dict[str, Any]], session: DeviceSession
) -> list[dict[str, Any]]:
    """Return the downlinks as queued: each with the session and the next downlink f_cnt."""
    queued = []
    for downlink in downlinks:
        session.last_downlink_f_cnt += 1
        queued.append(
            {
                "session_key_id": session.session_key_id,
                "f_cnt": session.last_downlink_f_cnt,
                **downlink,
            }
        )
    return queued


def transmission_error(
    device: SimDevice, downlink: dict[str, Any]
) -> dict[str, Any] | None:
    """Return why sending `downlink` to `device` fails now, or None when it goes out."""
    size = len(base64.b64decode(downlink.get("frm_payload", "")))
    if size > device.max_downlink_size:
        # pkg/networkserver errors.go errApplicationDownlinkTooLong (newer wording).
        return _error_details(
            "pkg/networkserver",
            "application_downlink_too_long",
            "application downlink payload length `{length}` exceeds maximum '{max}'",
            attributes={"length": size, "max": device.max_downlink_size},
            code=_INVALID_ARGUMENT,
        )
    if device.downlink_behaviour == "fail":
        # The gateway could not fit the transmission in: pkg/gatewayserver
        # grpc_nsgs.go errSchedule, caused by scheduling/scheduler.go errTooLate.
        too_late = _error_details(
            "pkg/gatewayserver/scheduling",
            "too_late",
            "too late to transmission scheduled time (delta is `{delta}`)",
            attributes={"delta": "87.512ms"},
            code=_FAILED_PRECONDITION,
        )
        return _error_details(
            "pkg/gatewayserver",
            "schedule",
            "failed to schedule",
            cause=too_late,
            code=_ABORTED,
        )
    return None


def _error_details(
    namespace: str,
    name: str,
    message_format: str,
    *,
    code: int,
    attributes: dict[str, Any] | None = None,
    cause: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return an `ErrorDetails` as TTS writes it (error.proto order, snake_case names)."""
    details: dict[str, Any] = {
        "namespace": namespace,
        "name": name,
        "message_format": message_format,
    }
    if attributes:
        details["attributes"] = attributes
    details["correlation_id"] = uuid.uuid4().hex
    if cause:
        details["cause"] = cause
    details["code"] = code
    return details


def _check(item: Any) -> dict[str, Any]:
    """Validate one requested downlink; return it in the order and shape TTS writes."""
    if not isinstance(item, dict):
        raise DownlinkRejected("downlink is not an object")
    f_port = item.get("f_port", 0)
    if (
        not isinstance(f_port, int)
        or isinstance(f_port, bool)
        or not 0 <= f_port <= 255
        or f_port == _RESERVED_F_PORT
    ):
        raise DownlinkRejected(f"invalid f_port {f_port!r}")
    frm_payload = _payload_bytes(item)
    priority = item.get("priority", "LOWEST")
    if priority not in PRIORITIES:
        raise DownlinkRejected(f"invalid priority {priority!r}")
    correlation_ids = item.get("correlation_ids", [])
    if not isinstance(correlation_ids, list) or not all(
        isinstance(cid, str) and len(cid) <= _MAX_CORRELATION_ID
        for cid in correlation_ids
    ):
        raise DownlinkRejected("correlation_ids is not a list of short strings")
    confirmed_retry = _confirmed_retry(item.get("confirmed_retry"))

    downlink: dict[str, Any] = {"f_port": f_port}
    if frm_payload:
        downlink["frm_payload"] = base64.b64encode(frm_payload).decode()
    if "decoded_payload" in item:
        downlink["decoded_payload"] = item["decoded_payload"]
    if item.get("confirmed") is True:
        downlink["confirmed"] = True
    if priority != "LOWEST":  # LOWEST is the zero value, left out of the JSON
        downlink["priority"] = priority
    downlink["correlation_ids"] = list(correlation_ids)
    if confirmed_retry:
        downlink["confirmed_retry"] = confirmed_retry
    return downlink


def _confirmed_retry(value: Any) -> dict[str, Any]:
    """Return a requested `confirmed_retry` ({attempt, max_attempts}) without zero values."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DownlinkRejected("confirmed_retry is not an object")
    retry = {}
    for key, low, high in (
        ("attempt", 0, 2**32 - 1),
        ("max_attempts", 1, _MAX_RETRY_ATTEMPTS),
    ):
        if key not in value:
            continue
        count = value[key]
        if not isinstance(count, int) or isinstance(count, bool):
            raise DownlinkRejected(f"confirmed_retry.{key} is not an integer")
        if not low <= count <= high:
            raise DownlinkRejected(f"confirmed_retry.{key} {count} out of range")
        if count:
            retry[key] = count
    return retry


def _payload_bytes(item: dict[str, Any]) -> bytes:
    """Return the downlink's bytes: frm_payload, or the simulated encoder's output.

    The simulated downlink encoder writes `decoded_payload` as compact JSON in UTF-8,
    a stand-in for the JavaScript encoder a real device profile would run. As on the
    server (pkg/applicationserver `encodeDownlink`), frm_payload wins when both are
    given.
    """
    if "decoded_payload" in item and not isinstance(item["decoded_payload"], dict):
        raise DownlinkRejected("decoded_payload is not an object")
    if "frm_payload" in item:
        text = item["frm_payload"]
        if not isinstance(text, str):
            raise DownlinkRejected("frm_payload is not a string")
        try:
            return base64.b64decode(text, validate=True)
        except binascii.Error as err:
            raise DownlinkRejected("frm_payload is not base64") from err
    if "decoded_payload" in item:
        return json.dumps(item["decoded_payload"], separators=(",", ":")).encode()
    # pkg/applicationserver `encodeDownlink`: errNoPayload, only logged.
    raise DownlinkRejected("no_payload")
