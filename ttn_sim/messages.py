"""JSON bodies The Things Stack publishes: uplinks, joins, downlink events and others.

Like the real server (protobuf's JSON mapping) zero, false and empty values are left
out: an f_cnt of 0, an SNR of 0, an unconfirmed downlink's `confirmed`.
"""

import base64
from dataclasses import dataclass
import random
from typing import Any

from .broker import Application
from .devices import SimDevice
from .formats import duration, lora_airtime_ns, new_ulid, rfc3339

# The default EU868 channels a gateway listens on, as TTS writes them: strings.
EU868_FREQUENCIES = (
    "868100000",
    "868300000",
    "868500000",
    "867100000",
    "867300000",
    "867500000",
    "867700000",
    "867900000",
)


@dataclass(frozen=True)
class Gateway:
    """A gateway that hears uplinks, at a fixed registered location."""

    gateway_id: str
    eui: str
    latitude: float
    longitude: float
    altitude: int


DEFAULT_GATEWAYS = (
    Gateway("eui-a840411dbd104150", "A840411DBD104150", 52.37403, 4.88969, 12),
    Gateway("ttig-centrum-01", "58A0CBFFFE801234", 52.36553, 4.90891, 8),
    Gateway("kerlink-zuid-02", "7076FF0056081F2A", 52.33864, 4.87250, 35),
)


@dataclass
class DeviceSession:
    """What the network remembers of a device's current session."""

    dev_addr: str
    session_key_id: str
    f_cnt: int
    last_downlink_f_cnt: int = 0


def new_session(rng: random.Random, f_cnt: int = 0) -> DeviceSession:
    """Return a fresh session, as a join creates (TTN device addresses start with 26/27)."""
    return DeviceSession(
        dev_addr=f"260B{rng.randrange(0x10000):04X}",
        session_key_id=base64.b64encode(rng.randbytes(16)).decode(),
        f_cnt=f_cnt,
    )


def end_device_ids(
    app: Application, device: SimDevice, session: DeviceSession
) -> dict[str, Any]:
    """Return the `end_device_ids` block every message starts with."""
    return {
        "device_id": device.device_id,
        "application_ids": {"application_id": app.app_id},
        "dev_eui": device.dev_eui,
        "join_eui": device.join_eui,
        "dev_addr": session.dev_addr,
    }


def uplink_message(
    app: Application,
    device: SimDevice,
    session: DeviceSession,
    frm_payload: bytes,
    decoded_payload: dict[str, Any] | None,
    *,
    rng: random.Random,
    gateways: tuple[Gateway, ...],
    now_ns: int,
    simulated: bool = False,
    normalized: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Return an `ApplicationUp` carrying an uplink received just now (`now_ns`).

    `normalized`: the measurements of the device's normalized payload, if it has one.
    """
    # Real messages age as they travel: gateway, network server, application server.
    heard_ns = now_ns - rng.randint(180, 260) * 1_000_000
    frequency_index = rng.randrange(len(EU868_FREQUENCIES))
    heard_by = rng.sample(gateways, rng.randint(1, len(gateways)))
    rx_metadata = [
        _rx_metadata(gateway, rng, heard_ns, frequency_index) for gateway in heard_by
    ]
    lora = {
        "bandwidth": device.bandwidth,
        "spreading_factor": device.spreading_factor,
        "coding_rate": "4/5",
    }
    message: dict[str, Any] = {
        "session_key_id": session.session_key_id,
        "f_port": device.f_port,
    }
    _put(message, "f_cnt", session.f_cnt)
    _put(message, "frm_payload", base64.b64encode(frm_payload).decode())
    if decoded_payload is not None:
        message["decoded_payload"] = decoded_payload
    if normalized:
        message["normalized_payload"] = normalized
    message["rx_metadata"] = rx_metadata
    message["settings"] = {
        "data_rate": {"lora": lora},
        "frequency": EU868_FREQUENCIES[frequency_index],
        "timestamp": rx_metadata[0]["timestamp"],
        "time": rx_metadata[0]["time"],
    }
    if location := _payload_location(decoded_payload):
        message["locations"] = {"frm-payload": location}
    message["received_at"] = rfc3339(heard_ns + rng.randint(15, 35) * 1_000_000)
    airtime = lora_airtime_ns(
        len(frm_payload), device.spreading_factor, device.bandwidth
    )
    message["consumed_airtime"] = duration(airtime)
    if device.version_ids:
        message["version_ids"] = dict(device.version_ids)
    message["network_ids"] = _network_ids(app)
    body: dict[str, Any] = {
        "end_device_ids": end_device_ids(app, device, session),
        "correlation_ids": _uplink_correlation_ids(),
        "received_at": rfc3339(now_ns),
        "uplink_message": message,
    }
    if simulated:
        body["simulated"] = True
    return body


def normalized_payload(decoded: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Return what a device repository normalizer makes of a decoded payload.

    One measurement in TTN's normalized payload schema: `air.temperature` (°C) and
    `air.relativeHumidity` (%), from a formatter's `temperature` and `humidity`.
    """
    air = {}
    if decoded and "temperature" in decoded:
        air["temperature"] = decoded["temperature"]
    if decoded and "humidity" in decoded:
        air["relativeHumidity"] = decoded["humidity"]
    return [{"air": air}] if air else []


# ApplicationUplinkNormalized: the uplink's fields around the one measurement.
_NORMALIZED_BEFORE = ("session_key_id", "f_port", "f_cnt", "frm_payload")
_NORMALIZED_AFTER = (
    "rx_metadata",
    "settings",
    "received_at",
    "consumed_airtime",
    "locations",
    "version_ids",
    "network_ids",
)


def uplink_normalized_messages(uplink: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the `up/normalized` messages of an uplink: one per measurement.

    As lorawan-stack applicationserver.go `publishNormalizedUplink` builds them.
    """
    fields = uplink["uplink_message"]
    messages = []
    for measurement in fields.get("normalized_payload", []):
        normalized = {key: fields[key] for key in _NORMALIZED_BEFORE if key in fields}
        normalized["normalized_payload"] = measurement
        normalized.update(
            {key: fields[key] for key in _NORMALIZED_AFTER if key in fields}
        )
        message = {
            "end_device_ids": uplink["end_device_ids"],
            "correlation_ids": list(uplink["correlation_ids"]),
            "received_at": uplink["received_at"],
            "uplink_normalized": normalized,
        }
        if uplink.get("simulated"):
            message["simulated"] = True
        messages.append(message)
    return messages


def join_message(
    app: Application, device: SimDevice, session: DeviceSession, now_ns: int
) -> dict[str, Any]:
    """Return the message published on `/join` once a device joined with `session`."""
    return {
        "end_device_ids": end_device_ids(app, device, session),
        "correlation_ids": [f"as:up:{new_ulid()}", f"ns:uplink:{new_ulid()}"],
        "received_at": rfc3339(now_ns),
        "join_accept": {
            "session_key_id": session.session_key_id,
            "received_at": rfc3339(now_ns - 40_000_000),
        },
    }


def location_solved_message(
    app: Application,
    device: SimDevice,
    session: DeviceSession,
    location: dict[str, Any],
    *,
    service: str,
    now_ns: int,
) -> dict[str, Any]:
    """Return the message published on `/location/solved` when a solver placed a device."""
    return {
        "end_device_ids": end_device_ids(app, device, session),
        "correlation_ids": [f"as:up:{new_ulid()}"],
        "received_at": rfc3339(now_ns),
        "location_solved": {"service": service, "location": location},
    }


def service_data_message(
    app: Application,
    device: SimDevice,
    session: DeviceSession,
    *,
    service: str,
    data: dict[str, Any],
    now_ns: int,
) -> dict[str, Any]:
    """Return the message published on `/service/data`: an application package's output."""
    return {
        "end_device_ids": end_device_ids(app, device, session),
        "correlation_ids": [f"as:up:{new_ulid()}"],
        "received_at": rfc3339(now_ns),
        "service_data": {"service": service, "data": data},
    }


def downlink_event(
    app: Application,
    device: SimDevice,
    session: DeviceSession,
    *,
    event: str,
    body: dict[str, Any],
    now_ns: int,
) -> dict[str, Any]:
    """Return a downlink event: `event` is e.g. "downlink_queued", `body` its content.

    The event carries the downlink's correlation ids, those of the request included.
    """
    downlink = body.get("downlink", body)
    return {
        "end_device_ids": end_device_ids(app, device, session),
        "correlation_ids": list(downlink.get("correlation_ids", [])),
        "received_at": rfc3339(now_ns),
        event: body,
    }


def _rx_metadata(
    gateway: Gateway, rng: random.Random, heard_ns: int, frequency_index: int
) -> dict[str, Any]:
    rssi = rng.randint(-118, -45)
    metadata: dict[str, Any] = {
        "gateway_ids": {"gateway_id": gateway.gateway_id, "eui": gateway.eui},
        "time": rfc3339(heard_ns + rng.randint(0, 999) * 1_000, digits=6),
        "timestamp": rng.randrange(2**32),
        "rssi": rssi,
        "channel_rssi": rssi,
    }
    # SNR comes in quarter dB; 0 is left out like any zero value.
    snr = round(rng.uniform(-12.0, 11.0) * 4) / 4
    _put(metadata, "snr", int(snr) if snr.is_integer() else snr)  # Go writes 6, not 6.0
    _put(metadata, "channel_index", frequency_index)
    metadata["location"] = {
        "latitude": gateway.latitude,
        "longitude": gateway.longitude,
        "altitude": gateway.altitude,
        "source": "SOURCE_REGISTRY",
    }
    metadata["uplink_token"] = base64.b64encode(rng.randbytes(24)).decode()
    metadata["received_at"] = rfc3339(heard_ns + rng.randint(-5, 5) * 1_000_000)
    return metadata


def _payload_location(decoded: dict[str, Any] | None) -> dict[str, Any] | None:
    """TTS adds a `frm-payload` location when the formatter returns coordinates."""
    if not decoded or "latitude" not in decoded or "longitude" not in decoded:
        return None
    location = {"latitude": decoded["latitude"], "longitude": decoded["longitude"]}
    if "altitude" in decoded:
        location["altitude"] = round(decoded["altitude"])
    location["source"] = "SOURCE_GPS"
    return location


def _network_ids(app: Application) -> dict[str, Any]:
    ids = {"net_id": "000013", "ns_id": "EC656E0000000181"}
    if app.tenant:
        ids["tenant_id"] = app.tenant
    ids["cluster_id"] = "eu1"
    ids["cluster_address"] = "eu1.cloud.thethings.network"
    return ids


def _uplink_correlation_ids() -> list[str]:
    return [
        f"as:up:{new_ulid()}",
        f"gs:conn:{new_ulid()}",
        f"gs:up:host:{new_ulid()}",
        f"gs:uplink:{new_ulid()}",
        f"ns:uplink:{new_ulid()}",
        f"rpc:/ttn.lorawan.v3.GsNs/HandleUplink:{new_ulid()}",
        f"rpc:/ttn.lorawan.v3.NsAs/HandleUplink:{new_ulid()}",
    ]


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    """Set `key` unless `value` is a zero value, which the JSON mapping leaves out."""
    if value:
        target[key] = value
