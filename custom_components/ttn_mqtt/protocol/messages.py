"""Typed parsing of The Things Stack's `ApplicationUp` messages.

The server leaves out zero, false and empty values, so every field but the device's
IDs is optional here. Anything that is not what the server sends raises TtnParseError,
and nothing else, so that a caller can count and skip it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
import re
from typing import Any, TypedDict

import orjson

from .errors import TtnParseError
from .ids import is_valid_id

# Real uplinks are about 2 KB; anything far larger is not from The Things Stack.
MAX_MESSAGE_BYTES = 256 * 1024


class DownlinkStatus(StrEnum):
    """The fate of a downlink, as reported by the server's downlink events."""

    QUEUED = "queued"
    SENT = "sent"
    ACK = "ack"
    NACK = "nack"
    FAILED = "failed"
    INVALIDATED = "invalidated"


@dataclass(frozen=True, slots=True)
class EndDeviceIds:
    """Who a message is about."""

    device_id: str
    application_id: str
    dev_eui: str | None = None
    join_eui: str | None = None
    dev_addr: str | None = None


@dataclass(frozen=True, slots=True)
class Location:
    """A position, from the payload, the gateways or a location solver."""

    latitude: float
    longitude: float
    altitude: float | None = None
    accuracy: float | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class GatewayReception:
    """One gateway's reception of an uplink."""

    gateway_id: str
    rssi: float | None
    snr: float | None


@dataclass(frozen=True, slots=True)
class VersionIds:
    """The device's make and model, from The Things Network's device repository."""

    brand_id: str | None
    model_id: str | None
    hardware_version: str | None
    firmware_version: str | None
    band_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """What every ApplicationUp carries."""

    device: EndDeviceIds
    received_at: datetime | None
    correlation_ids: tuple[str, ...]
    # The whole message as received, as JSON: a fraction of the memory of the decoded
    # object, which is only needed to store it or to show it in diagnostics.
    raw_json: bytes = field(repr=False, compare=False)

    @property
    def raw(self) -> dict[str, Any]:
        """Return the whole message as received, decoded anew."""
        raw: dict[str, Any] = orjson.loads(self.raw_json)
        return raw


@dataclass(frozen=True, slots=True, kw_only=True)
class Uplink(Message):
    """A device's uplink message."""

    f_port: int | None
    f_cnt: int | None
    frm_payload: str | None
    decoded_payload: dict[str, Any] | None
    confirmed: bool
    simulated: bool
    gateways: tuple[GatewayReception, ...]
    spreading_factor: int | None
    bandwidth: int | None
    coding_rate: str | None
    frequency: int | None
    consumed_airtime: float | None
    locations: dict[str, Location]
    version_ids: VersionIds | None

    @property
    def best_gateway(self) -> GatewayReception | None:
        """Return the gateway that heard the uplink loudest."""
        heard = [gateway for gateway in self.gateways if gateway.rssi is not None]
        if not heard:
            return self.gateways[0] if self.gateways else None
        return max(heard, key=lambda gateway: gateway.rssi or 0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinAccept(Message):
    """A device (re)joined the network; its frame counters start again."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DownlinkEvent(Message):
    """A report on a downlink: queued, sent, acknowledged, not, or failed."""

    status: DownlinkStatus
    f_port: int | None
    frm_payload: str | None
    decoded_payload: dict[str, Any] | None
    confirmed: bool
    priority: str | None
    downlink_correlation_ids: tuple[str, ...]
    error_name: str | None = None
    # The error's message_format with its attributes filled in.
    error_message: str | None = None
    # What caused the error, as the server tells it (another error's name and message).
    error_cause_name: str | None = None
    error_cause_message: str | None = None
    # Of a nack: which transmission of the confirmed downlink it was (0 the first),
    # and how many the server makes in all, when the downlink said.
    retry_attempt: int | None = None
    retry_max_attempts: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LocationSolved(Message):
    """A location solver (e.g. LoRa Cloud) placed the device."""

    service: str | None
    location: Location


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceData(Message):
    """Data from an application package (e.g. a LoRa Cloud service)."""

    service: str | None
    data: dict[str, Any]


type ApplicationUp = Uplink | JoinAccept | DownlinkEvent | LocationSolved | ServiceData


def _fail(what: str) -> TtnParseError:
    return TtnParseError(what)


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(f"{what} is not an object")
    return value


def _optional_object(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    return {} if value is None else _object(value, key)


def _text(parent: dict[str, Any], key: str) -> str | None:
    value = parent.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _fail(f"{key} is not a string")


def _int(parent: dict[str, Any], key: str) -> int | None:
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
    raise _fail(f"{key} is not an integer")


def _number(parent: dict[str, Any], key: str) -> float | None:
    value = parent.get(key)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise _fail(f"{key} is not a number")


def _bool(parent: dict[str, Any], key: str) -> bool:
    value = parent.get(key, False)
    if isinstance(value, bool):
        return value
    raise _fail(f"{key} is not a boolean")


def _strings(parent: dict[str, Any], key: str) -> tuple[str, ...]:
    value = parent.get(key)
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise _fail(f"{key} is not a list of strings")


# The times a message may carry; others are taken as absent. LoRaWAN is from 2015.
EARLIEST_TIME = datetime(2015, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(9000, 1, 1, tzinfo=UTC)


def _timestamp(parent: dict[str, Any], key: str) -> datetime | None:
    value = _text(parent, key)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _fail(f"{key} is not a timestamp") from None
    # The server writes UTC; a time without its zone is taken to be UTC too, and one
    # in another zone is turned to UTC: an event says every time the same way.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    else:
        moment = moment.astimezone(UTC)
    # Go's zero time (0001-01-01), or a year no clock means: no time at all, and no
    # arithmetic on it may overflow.
    return moment if EARLIEST_TIME <= moment <= LATEST_TIME else None


def _duration(parent: dict[str, Any], key: str) -> float | None:
    """Read a protobuf duration such as "0.082176s" as seconds."""
    value = _text(parent, key)
    if value is None:
        return None
    try:
        return float(value.removesuffix("s"))
    except ValueError:
        raise _fail(f"{key} is not a duration") from None


def parse_location(value: Any) -> Location:
    """Parse a location object.

    The server leaves zero values out, so a missing latitude or longitude is 0; a
    location at 0, 0 is no position, which is for its reader to tell.
    """
    location = _object(value, "location")
    return Location(
        latitude=_number(location, "latitude") or 0.0,
        longitude=_number(location, "longitude") or 0.0,
        altitude=_number(location, "altitude"),
        accuracy=_number(location, "accuracy"),
        source=_text(location, "source"),
    )


def _device_ids(body: dict[str, Any]) -> EndDeviceIds:
    ids = _object(body.get("end_device_ids"), "end_device_ids")
    device_id = _text(ids, "device_id")
    application = _optional_object(ids, "application_ids")
    if device_id is None or not is_valid_id(device_id):
        raise _fail("end_device_ids.device_id is missing or invalid")
    return EndDeviceIds(
        device_id=device_id,
        application_id=_text(application, "application_id") or "",
        dev_eui=_text(ids, "dev_eui"),
        join_eui=_text(ids, "join_eui"),
        dev_addr=_text(ids, "dev_addr"),
    )


def _gateway(value: Any) -> GatewayReception:
    metadata = _object(value, "rx_metadata")
    gateway_ids = _optional_object(metadata, "gateway_ids")
    return GatewayReception(
        gateway_id=_text(gateway_ids, "gateway_id") or "",
        rssi=_number(metadata, "rssi"),
        snr=_number(metadata, "snr"),
    )


def parse_version_ids(value: Any) -> VersionIds | None:
    """Return the make and model of a `version_ids` object, None for no object."""
    if value is None:
        return None
    ids = _object(value, "version_ids")
    return VersionIds(
        brand_id=_text(ids, "brand_id"),
        model_id=_text(ids, "model_id"),
        hardware_version=_text(ids, "hardware_version"),
        firmware_version=_text(ids, "firmware_version"),
        band_id=_text(ids, "band_id"),
    )


def _decoded(parent: dict[str, Any]) -> dict[str, Any] | None:
    value = parent.get("decoded_payload")
    return None if value is None else _object(value, "decoded_payload")


def _uplink(common: dict[str, Any], up: dict[str, Any], *, simulated: bool) -> Uplink:
    settings = _optional_object(up, "settings")
    lora = _optional_object(_optional_object(settings, "data_rate"), "lora")
    rx_metadata = up.get("rx_metadata")
    if rx_metadata is None:
        rx_metadata = []
    elif not isinstance(rx_metadata, list):
        raise _fail("rx_metadata is not a list")
    locations = _optional_object(up, "locations")
    return Uplink(
        **common,
        f_port=_int(up, "f_port"),
        f_cnt=_int(up, "f_cnt"),
        frm_payload=_text(up, "frm_payload"),
        decoded_payload=_decoded(up),
        confirmed=_bool(up, "confirmed"),
        simulated=simulated,
        gateways=tuple(_gateway(item) for item in rx_metadata),
        spreading_factor=_int(lora, "spreading_factor"),
        bandwidth=_int(lora, "bandwidth"),
        # Older stacks put the coding rate in settings, newer ones in the LoRa data rate.
        coding_rate=_text(lora, "coding_rate") or _text(settings, "coding_rate"),
        frequency=_int(settings, "frequency"),
        consumed_airtime=_duration(up, "consumed_airtime"),
        locations={name: parse_location(item) for name, item in locations.items()},
        version_ids=parse_version_ids(up.get("version_ids")),
    )


_DOWNLINK_KEYS = {
    "downlink_queued": DownlinkStatus.QUEUED,
    "downlink_sent": DownlinkStatus.SENT,
    "downlink_ack": DownlinkStatus.ACK,
    "downlink_nack": DownlinkStatus.NACK,
    "downlink_failed": DownlinkStatus.FAILED,
    "downlink_queue_invalidated": DownlinkStatus.INVALIDATED,
}


class _FailureFields(TypedDict, total=False):
    """What a down/failed message adds to its DownlinkEvent."""

    error_name: str | None
    error_message: str | None
    error_cause_name: str | None
    error_cause_message: str | None


def _downlink_event(
    common: dict[str, Any], status: DownlinkStatus, event: dict[str, Any]
) -> DownlinkEvent:
    errors: _FailureFields = {}
    downlink = event
    if status is DownlinkStatus.FAILED:
        downlink = _optional_object(event, "downlink")
        error = _optional_object(event, "error")
        cause = _optional_object(error, "cause")
        errors = {
            "error_name": _text(error, "name"),
            "error_message": _error_text(error),
            "error_cause_name": _text(cause, "name"),
            "error_cause_message": _error_text(cause),
        }
    elif status is DownlinkStatus.INVALIDATED:
        downlinks = event.get("downlinks") or [{}]
        downlink = _object(
            downlinks[0] if isinstance(downlinks, list) else None, "downlinks"
        )
    retry = _optional_object(downlink, "confirmed_retry")
    return DownlinkEvent(
        **common,
        status=status,
        f_port=_int(downlink, "f_port"),
        frm_payload=_text(downlink, "frm_payload"),
        decoded_payload=_decoded(downlink),
        confirmed=_bool(downlink, "confirmed"),
        priority=_text(downlink, "priority"),
        downlink_correlation_ids=_strings(downlink, "correlation_ids"),
        retry_attempt=_int(retry, "attempt") if retry else None,
        retry_max_attempts=_int(retry, "max_attempts") if retry else None,
        **errors,
    )


# A placeholder of an error's message_format: {name}, which the server may quote.
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _error_text(error: dict[str, Any]) -> str | None:
    """Return an error's message_format with its attributes filled in, as TTS shows it."""
    message_format = _text(error, "message_format")
    if message_format is None:
        return None
    attributes = error.get("attributes")
    if not isinstance(attributes, dict):
        return message_format

    def fill(match: re.Match[str]) -> str:
        value = attributes.get(match[1])
        return match[0] if value is None else str(value)

    return _PLACEHOLDER.sub(fill, message_format)


def parse_application_up(body: Any) -> ApplicationUp:
    """Parse one decoded ApplicationUp object; raise TtnParseError when it is not one."""
    try:
        raw_json = orjson.dumps(body)
    except orjson.JSONEncodeError as err:
        raise _fail(f"not JSON: {err}") from None
    return _parse(body, raw_json)


def _parse(body: Any, raw_json: bytes) -> ApplicationUp:
    body = _object(body, "message")
    common: dict[str, Any] = {
        "device": _device_ids(body),
        "received_at": _timestamp(body, "received_at"),
        "correlation_ids": _strings(body, "correlation_ids"),
        "raw_json": raw_json,
    }
    if (up := body.get("uplink_message")) is not None:
        return _uplink(
            common, _object(up, "uplink_message"), simulated=_bool(body, "simulated")
        )
    if (join := body.get("join_accept")) is not None:
        _object(join, "join_accept")
        return JoinAccept(**common)
    for key, status in _DOWNLINK_KEYS.items():
        if (event := body.get(key)) is not None:
            return _downlink_event(common, status, _object(event, key))
    if (solved := body.get("location_solved")) is not None:
        solved = _object(solved, "location_solved")
        return LocationSolved(
            **common,
            service=_text(solved, "service"),
            location=parse_location(solved.get("location")),
        )
    if (service := body.get("service_data")) is not None:
        service = _object(service, "service_data")
        return ServiceData(
            **common,
            service=_text(service, "service"),
            data=_optional_object(service, "data"),
        )
    raise _fail("message carries no known ApplicationUp kind")


def parse_payload(payload: bytes) -> ApplicationUp:
    """Parse an MQTT payload from the server; raise TtnParseError when it is not one."""
    if len(payload) > MAX_MESSAGE_BYTES:
        raise _fail(f"message of {len(payload)} bytes is too large")
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError as err:
        raise _fail(f"not JSON: {err}") from None
    return _parse(body, payload)
