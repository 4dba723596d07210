"""Typed parsing of The Things Stack's `ApplicationUp` messages.

The server leaves out zero, false and empty values, so every field but the device's
IDs is optional here. Only what the integration uses is parsed: a field it reads that
is not what the server sends raises TtnParseError, and nothing else, so that a caller
can count and skip the message; a field only shown (a gateway's or a device's other
IDs) is taken as absent when it is not text; the rest is never looked at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple, TypedDict

import orjson

from .ids import is_valid_id
from .json_values import (
    as_object,
    duration,
    error_text,
    fail,
    flag,
    integer,
    label,
    number,
    optional_object,
    strings,
    text,
    timestamp,
)

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


# The small parts of a message are named tuples: of text and numbers only, Python's
# garbage collector stops tracking them, and a device's latest uplink lives long enough
# to be counted towards the next full collection otherwise.


class EndDeviceIds(NamedTuple):
    """Who a message is about."""

    device_id: str
    application_id: str
    dev_eui: str | None = None
    join_eui: str | None = None
    dev_addr: str | None = None


class Location(NamedTuple):
    """A position, from the payload, the gateways or a location solver."""

    latitude: float
    longitude: float
    altitude: float | None = None
    accuracy: float | None = None


class GatewayReception(NamedTuple):
    """One gateway's reception of an uplink."""

    gateway_id: str
    rssi: float | None
    snr: float | None


class VersionIds(NamedTuple):
    """The device's make and model, from The Things Network's device repository."""

    brand_id: str | None
    model_id: str | None
    hardware_version: str | None
    firmware_version: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """What every ApplicationUp carries."""

    device: EndDeviceIds
    received_at: datetime | None
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
    # Each gateway's (gateway_id, rssi, snr), as plain tuples: an uplink lives until
    # the device's next one, and the garbage collector stops tracking plain tuples
    # of text and numbers, never named tuples, so these feed no full collection.
    receptions: tuple[tuple[str, float | None, float | None], ...]
    spreading_factor: int | None
    consumed_airtime: float | None
    locations: dict[str, Location]
    version_ids: VersionIds | None

    @property
    def gateways(self) -> tuple[GatewayReception, ...]:
        """Return the gateways that heard the uplink."""
        return tuple(GatewayReception(*reception) for reception in self.receptions)

    @property
    def best_gateway(self) -> GatewayReception | None:
        """Return the gateway that heard the uplink loudest."""
        # Named tuples made for this only: gone at once, they cost the collector nothing.
        gateways = self.gateways
        heard = [gateway for gateway in gateways if gateway.rssi is not None]
        if not heard:
            return gateways[0] if gateways else None
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


type ApplicationUp = Uplink | JoinAccept | DownlinkEvent | LocationSolved


def parse_location(value: Any) -> Location:
    """Parse a location object.

    The server leaves zero values out, so a missing latitude or longitude is 0; a
    location at 0, 0 is no position, which is for its reader to tell.
    """
    location = as_object(value, "location")
    return Location(
        latitude=number(location, "latitude") or 0.0,
        longitude=number(location, "longitude") or 0.0,
        altitude=number(location, "altitude"),
        accuracy=number(location, "accuracy"),
    )


def _device_ids(body: dict[str, Any]) -> EndDeviceIds:
    ids = as_object(body.get("end_device_ids"), "end_device_ids")
    device_id = text(ids, "device_id")
    application = optional_object(ids, "application_ids")
    if device_id is None or not is_valid_id(device_id):
        raise fail("end_device_ids.device_id is missing or invalid")
    return EndDeviceIds(
        device_id=device_id,
        application_id=text(application, "application_id") or "",
        dev_eui=text(ids, "dev_eui"),
        join_eui=label(ids, "join_eui"),
        dev_addr=label(ids, "dev_addr"),
    )


def _reception(value: Any) -> tuple[str, float | None, float | None]:
    metadata = as_object(value, "rx_metadata")
    gateway_ids = metadata.get("gateway_ids")
    return (
        label(gateway_ids, "gateway_id") or "" if isinstance(gateway_ids, dict) else "",
        number(metadata, "rssi"),
        number(metadata, "snr"),
    )


def parse_version_ids(value: Any) -> VersionIds | None:
    """Return the make and model of a `version_ids` object, None for no object."""
    if value is None:
        return None
    ids = as_object(value, "version_ids")
    return VersionIds(
        brand_id=text(ids, "brand_id"),
        model_id=text(ids, "model_id"),
        hardware_version=text(ids, "hardware_version"),
        firmware_version=text(ids, "firmware_version"),
    )


def _decoded(parent: dict[str, Any]) -> dict[str, Any] | None:
    value = parent.get("decoded_payload")
    return None if value is None else as_object(value, "decoded_payload")


def _uplink(
    common: dict[str, Any],
    up: dict[str, Any],
    *,
    simulated: bool,
    previous: Uplink | None,
) -> Uplink:
    settings = optional_object(up, "settings")
    lora = optional_object(optional_object(settings, "data_rate"), "lora")
    rx_metadata = up.get("rx_metadata")
    if rx_metadata is None:
        rx_metadata = []
    elif not isinstance(rx_metadata, list):
        raise fail("rx_metadata is not a list")
    locations = optional_object(up, "locations")
    version_ids = parse_version_ids(up.get("version_ids"))
    if previous is not None and version_ids == previous.version_ids:
        version_ids = previous.version_ids
    return Uplink(
        **common,
        f_port=integer(up, "f_port"),
        f_cnt=integer(up, "f_cnt"),
        frm_payload=text(up, "frm_payload"),
        decoded_payload=_decoded(up),
        confirmed=flag(up, "confirmed"),
        simulated=simulated,
        receptions=tuple(_reception(item) for item in rx_metadata),
        spreading_factor=integer(lora, "spreading_factor"),
        consumed_airtime=duration(up, "consumed_airtime"),
        locations={name: parse_location(item) for name, item in locations.items()},
        version_ids=version_ids,
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
        downlink = optional_object(event, "downlink")
        error = optional_object(event, "error")
        cause = optional_object(error, "cause")
        errors = {
            "error_name": text(error, "name"),
            "error_message": error_text(error),
            "error_cause_name": text(cause, "name"),
            "error_cause_message": error_text(cause),
        }
    elif status is DownlinkStatus.INVALIDATED:
        downlinks = event.get("downlinks") or [{}]
        downlink = as_object(
            downlinks[0] if isinstance(downlinks, list) else None, "downlinks"
        )
    retry = optional_object(downlink, "confirmed_retry")
    return DownlinkEvent(
        **common,
        status=status,
        f_port=integer(downlink, "f_port"),
        frm_payload=text(downlink, "frm_payload"),
        decoded_payload=_decoded(downlink),
        confirmed=flag(downlink, "confirmed"),
        priority=text(downlink, "priority"),
        downlink_correlation_ids=strings(downlink, "correlation_ids"),
        retry_attempt=integer(retry, "attempt") if retry else None,
        retry_max_attempts=integer(retry, "max_attempts") if retry else None,
        **errors,
    )


def parse_application_up(body: Any) -> ApplicationUp:
    """Parse one decoded ApplicationUp object; raise TtnParseError when it is not one."""
    try:
        raw_json = orjson.dumps(body)
    except orjson.JSONEncodeError as err:
        raise fail(f"not JSON: {err}") from None
    return _parse(body, raw_json)


def _parse(body: Any, raw_json: bytes, previous: Uplink | None = None) -> ApplicationUp:
    body = as_object(body, "message")
    device = _device_ids(body)
    if previous is not None and device == previous.device:
        device = previous.device
    common: dict[str, Any] = {
        "device": device,
        "received_at": timestamp(body, "received_at"),
        "raw_json": raw_json,
    }
    if (up := body.get("uplink_message")) is not None:
        return _uplink(
            common,
            as_object(up, "uplink_message"),
            simulated=flag(body, "simulated"),
            previous=previous,
        )
    if (join := body.get("join_accept")) is not None:
        as_object(join, "join_accept")
        return JoinAccept(**common)
    for key, status in _DOWNLINK_KEYS.items():
        if (event := body.get(key)) is not None:
            return _downlink_event(common, status, as_object(event, key))
    if (solved := body.get("location_solved")) is not None:
        solved = as_object(solved, "location_solved")
        return LocationSolved(
            **common,
            service=text(solved, "service"),
            location=parse_location(solved.get("location")),
        )
    raise fail("message carries no known ApplicationUp kind")


def parse_payload(payload: bytes, previous: Uplink | None = None) -> ApplicationUp:
    """Parse an MQTT payload from the server; raise TtnParseError when it is not one.

    Parts equal to those of the device's previous uplink are taken from it: the new
    ones are dropped at once, and what lives until the next uplink, which the garbage
    collector promotes and so counts towards a full collection, is less.
    """
    if len(payload) > MAX_MESSAGE_BYTES:
        raise fail(f"message of {len(payload)} bytes is too large")
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError as err:
        raise fail(f"not JSON: {err}") from None
    return _parse(body, payload, previous)
