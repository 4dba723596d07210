"""A device's decoded fields: each uplink's merged in, up to MAX_FIELDS, said once past it."""

from __future__ import annotations

import logging
from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN
from .fields import assign_platforms
from .models import TtnDevice
from .payload import MAX_FIELDS, SENSOR_ATTR_KEY, flatten_payload, sensor_hints

_LOGGER = logging.getLogger(__name__)


@callback
def take_decoded(
    hass: HomeAssistant,
    entry_id: str,
    app_id: str,
    device: TtnDevice,
    decoded: dict[str, Any],
) -> None:
    """Merge an uplink's decoded payload into the device's fields and sensor hints."""
    fields = flatten_payload(decoded)
    # On the uplink path: the keys are only compared when the cap could be near.
    if len(device.fields) + len(fields) > MAX_FIELDS:
        room = MAX_FIELDS - len(device.fields)
        new = [key for key in fields if key not in device.fields]
        if len(new) > room:
            for key in new[max(room, 0) :]:
                del fields[key]
            _report_too_many_fields(hass, entry_id, app_id, device)
    device.fields.update(fields)
    assign_platforms(device.field_platforms, fields)
    if hints := sensor_hints(decoded.get(SENSOR_ATTR_KEY)):
        device.sensor_attr.update(
            (key, hint)
            for key, hint in hints.items()
            if key in device.sensor_attr or len(device.sensor_attr) < MAX_FIELDS
        )


def _report_too_many_fields(
    hass: HomeAssistant, entry_id: str, app_id: str, device: TtnDevice
) -> None:
    issue_id = f"too_many_fields_{entry_id}_{device.device_id}"
    if ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None:
        return
    _LOGGER.warning(
        "%s sends more than %s fields; the rest become no entities",
        device.device_id,
        MAX_FIELDS,
    )
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        is_persistent=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="too_many_fields",
        translation_placeholders={
            "device_id": device.device_id,
            "app_id": app_id,
            "max_fields": str(MAX_FIELDS),
        },
    )
