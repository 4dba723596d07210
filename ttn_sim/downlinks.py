"""What the application server makes of a downlink request, and why a transmission fails.

A request the real server refuses outright (not JSON, an f_port outside 1..223, a
frm_payload over the API's 255 bytes, an unknown priority...) produces no event at all:
the server only logs it. A valid downlink is queued; one too long for the device's
data rate is queued too and only fails when its turn to be sent comes, as on TTS.
"""

import base64
import binascii
import json
from typing import Any

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
_API_MAX_PAYLOAD = 255

TOO_LONG_ERROR = {
    "namespace": "pkg/networkserver",
    "name": "application_downlink_too_long",
    "message_format": "application downlink payload is too long",
    "code": 3,
}
# For devices set to "fail": the gateway could not fit the transmission in.
TX_FAILED_ERROR = {
    "namespace": "pkg/gatewayserver/scheduling",
    "name": "conflict",
    "message_format": "scheduling conflict",
    "code": 8,
}


class DownlinkRejected(ValueError):
    """The request is invalid: the real server logs it and publishes nothing."""


def parse_request(body: Any, session: DeviceSession) -> list[dict[str, Any]]:
    """Return the downlinks of a push or replace body as they will be queued.

    Each queued downlink gets the next downlink f_cnt of `session` and an
    `as:downlink:` correlation id after the request's own.
    """
    items = body.get("downlinks") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise DownlinkRejected("no downlinks list")
    # The server validates the whole request: one bad downlink refuses them all.
    checked = [_check(item) for item in items]
    queued = []
    for downlink in checked:
        session.last_downlink_f_cnt += 1
        downlink["correlation_ids"].append(f"as:downlink:{new_ulid()}")
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
        return dict(TOO_LONG_ERROR)
    if device.downlink_behaviour == "fail":
        return dict(TX_FAILED_ERROR)
    return None


def _check(item: Any) -> dict[str, Any]:
    """Validate one requested downlink; return it in the order and shape TTS writes."""
    if not isinstance(item, dict):
        raise DownlinkRejected("downlink is not an object")
    f_port = item.get("f_port")
    if (
        not isinstance(f_port, int)
        or isinstance(f_port, bool)
        or not 1 <= f_port <= 223
    ):
        raise DownlinkRejected(f"invalid f_port {f_port!r}")
    frm_payload = _payload_bytes(item)
    priority = item.get("priority", "LOWEST")
    if priority not in PRIORITIES:
        raise DownlinkRejected(f"invalid priority {priority!r}")
    correlation_ids = item.get("correlation_ids", [])
    if not isinstance(correlation_ids, list) or not all(
        isinstance(cid, str) for cid in correlation_ids
    ):
        raise DownlinkRejected("correlation_ids is not a list of strings")

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
    return downlink


def _payload_bytes(item: dict[str, Any]) -> bytes:
    """Return the downlink's bytes: frm_payload, or the simulated encoder's output.

    The simulated downlink encoder writes `decoded_payload` as compact JSON in UTF-8,
    a stand-in for the JavaScript encoder a real device profile would run. As on the
    server, frm_payload wins when both are given.
    """
    if "frm_payload" in item:
        text = item["frm_payload"]
        if not isinstance(text, str):
            raise DownlinkRejected("frm_payload is not a string")
        try:
            frm_payload = base64.b64decode(text, validate=True)
        except binascii.Error as err:
            raise DownlinkRejected("frm_payload is not base64") from err
    elif "decoded_payload" in item:
        if not isinstance(item["decoded_payload"], dict):
            raise DownlinkRejected("decoded_payload is not an object")
        frm_payload = json.dumps(
            item["decoded_payload"], separators=(",", ":")
        ).encode()
    else:
        frm_payload = b""
    if len(frm_payload) > _API_MAX_PAYLOAD:
        raise DownlinkRejected(
            f"frm_payload of {len(frm_payload)} bytes exceeds the API's 255"
        )
    return frm_payload
