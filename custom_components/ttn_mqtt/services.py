"""Actions: send a downlink to an end device, or clear its downlink queue."""

from __future__ import annotations

from collections.abc import Mapping
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_DEVICE_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv, device_registry as dr

from .compat import device_config_entry_ids, vol
from .const import DOMAIN
from .coordinator import TtnCoordinator, TtnMqttConfigEntry
from .protocol.downlink import (
    MAX_DECODED_BYTES,
    MAX_DECODED_DEPTH,
    MAX_PAYLOAD_BYTES,
    Downlink,
    PayloadFormat,
    Priority,
    decode_payload_text,
    new_correlation_id,
)
from .protocol.errors import DownlinkError
from .protocol.ids import is_valid_id
from .protocol.topics import DownlinkMode
from .translation_keys import DOWNLINK_ERRORS

_LOGGER = logging.getLogger(__name__)

SERVICE_SEND_DOWNLINK = "send_downlink"
SERVICE_CLEAR_DOWNLINK_QUEUE = "clear_downlink_queue"

ATTR_F_PORT = "f_port"
ATTR_PAYLOAD = "payload"
ATTR_PAYLOAD_FORMAT = "payload_format"
ATTR_DECODED_PAYLOAD = "decoded_payload"
ATTR_CONFIRMED = "confirmed"
ATTR_PRIORITY = "priority"
ATTR_MODE = "mode"


def _f_port(value: Any) -> Any:
    """Return a whole number written as text or 2.0 as an int; anything else as it is."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# The schema only checks types: f_port's range, the payload and the decoded payload are
# checked by Downlink, so that each mistake gets its own translated message rather
# than voluptuous's generic one.
SEND_DOWNLINK_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DEVICE_ID): cv.string,
        # Checked by Downlink: 1.9 or true must be refused, not sent as 1.
        vol.Optional(ATTR_F_PORT, default=1): _f_port,
        vol.Optional(ATTR_PAYLOAD): cv.string,
        vol.Optional(ATTR_PAYLOAD_FORMAT, default=PayloadFormat.HEX): vol.All(
            vol.Lower, vol.Coerce(PayloadFormat)
        ),
        vol.Optional(ATTR_DECODED_PAYLOAD): object,
        vol.Optional(ATTR_CONFIRMED, default=False): cv.boolean,
        vol.Optional(ATTR_PRIORITY): vol.All(vol.Upper, vol.Coerce(Priority)),
        vol.Optional(ATTR_MODE, default=DownlinkMode.PUSH): vol.All(
            vol.Lower, vol.Coerce(DownlinkMode)
        ),
    }
)
CLEAR_DOWNLINK_QUEUE_SCHEMA = vol.Schema({vol.Required(ATTR_DEVICE_ID): cv.string})


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions, once for all its entries."""

    async def send_downlink(call: ServiceCall) -> ServiceResponse:
        coordinator, device_id = _end_device(hass, call.data[ATTR_DEVICE_ID])
        downlink = _downlink(call.data)
        _publish(coordinator, device_id, call.data[ATTR_MODE], [downlink])
        _LOGGER.debug("Sent downlink %s to %s", downlink.correlation_id, device_id)
        return {"correlation_id": downlink.correlation_id}

    async def clear_downlink_queue(call: ServiceCall) -> None:
        coordinator, device_id = _end_device(hass, call.data[ATTR_DEVICE_ID])
        _publish(coordinator, device_id, DownlinkMode.REPLACE, [])

    hass.services.async_register(
        DOMAIN,
        SERVICE_SEND_DOWNLINK,
        send_downlink,
        schema=SEND_DOWNLINK_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_CLEAR_DOWNLINK_QUEUE,
        clear_downlink_queue,
        schema=CLEAR_DOWNLINK_QUEUE_SCHEMA,
    )


def _end_device(hass: HomeAssistant, ha_device_id: str) -> tuple[TtnCoordinator, str]:
    """Return the coordinator and TTN device id behind a Home Assistant device."""
    device = dr.async_get(hass).async_get(ha_device_id)
    if device is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_device",
            translation_placeholders={"device_id": ha_device_id},
        )
    name = device.name_by_user or device.name or ha_device_id
    entry: TtnMqttConfigEntry | None = next(
        (
            candidate
            for entry_id in device_config_entry_ids(device)
            if (candidate := hass.config_entries.async_get_entry(entry_id))
            and candidate.domain == DOMAIN
        ),
        None,
    )
    if entry is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="not_ttn_device",
            translation_placeholders={"device": name},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"application": entry.title},
        )
    coordinator = entry.runtime_data
    device_id = coordinator.end_device_id(device)
    if device_id is not None and not is_valid_id(device_id):
        # A registry device whose identifier was edited must not make a topic.
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_end_device",
            translation_placeholders={"device": name},
        )
    if device_id is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="not_end_device",
            translation_placeholders={"device": name},
        )
    return coordinator, device_id


def _downlink(data: Mapping[str, Any]) -> Downlink:
    """Build the downlink a call asks for, or raise its translated error."""
    f_port: int = data[ATTR_F_PORT]
    frm_payload: bytes | None = None
    placeholders = {
        "f_port": str(f_port),
        "max_bytes": str(MAX_PAYLOAD_BYTES),
        "max_depth": str(MAX_DECODED_DEPTH),
        "max_decoded_bytes": str(MAX_DECODED_BYTES),
    }
    try:
        if ATTR_PAYLOAD in data:
            frm_payload = decode_payload_text(
                data[ATTR_PAYLOAD], data[ATTR_PAYLOAD_FORMAT]
            )
            placeholders["length"] = str(len(frm_payload))
        return Downlink(
            f_port=f_port,
            frm_payload=frm_payload,
            decoded_payload=data.get(ATTR_DECODED_PAYLOAD),
            confirmed=data[ATTR_CONFIRMED],
            priority=data.get(ATTR_PRIORITY),
            correlation_id=new_correlation_id(),
        )
    except DownlinkError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key=DOWNLINK_ERRORS[err.problem],
            translation_placeholders=placeholders,
        ) from err


def _publish(
    coordinator: TtnCoordinator,
    device_id: str,
    mode: DownlinkMode,
    downlinks: list[Downlink],
) -> None:
    """Publish, or raise when not connected: a downlink is never queued for later."""
    if not coordinator.publish_downlinks(device_id, mode, downlinks):
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="not_connected",
            translation_placeholders={
                "host": coordinator.settings.host,
                "device_id": device_id,
            },
        )
