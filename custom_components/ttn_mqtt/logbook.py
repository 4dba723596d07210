"""What the logbook says of a downlink report: to which device, what became of it, why."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er

from .const import DOMAIN, EVENT_DOWNLINK

# The logbook's entry keys (homeassistant.components.logbook's LOGBOOK_ENTRY_*), written
# here: importing the logbook would make it a dependency to declare.
LOGBOOK_ENTRY_NAME = "name"
LOGBOOK_ENTRY_MESSAGE = "message"
LOGBOOK_ENTRY_ENTITY_ID = "entity_id"

# The report's status as the logbook's sentence says it.
_STATUS_TEXT = {
    "queued": "queued",
    "sent": "sent",
    "ack": "acknowledged",
    "nack": "not acknowledged",
    "failed": "failed",
    "invalidated": "dropped from the queue",
}


@callback
def async_describe_events(
    hass: HomeAssistant,
    async_describe_event: Callable[[str, str, Callable[[Event], dict[str, str]]], None],
) -> None:
    """Describe the ttn_mqtt_downlink events."""

    @callback
    def describe_downlink(event: Event) -> dict[str, str]:
        described = {
            LOGBOOK_ENTRY_NAME: event.data.get("ttn_device_id") or "TTN",
            LOGBOOK_ENTRY_MESSAGE: downlink_message(event.data),
        }
        # Shown with the device's Downlink entity, in its logbook and its device's.
        if entity_id := _downlink_entity(hass, event.data.get("device_id")):
            described[LOGBOOK_ENTRY_ENTITY_ID] = entity_id
        return described

    async_describe_event(DOMAIN, EVENT_DOWNLINK, describe_downlink)


def downlink_message(data: Mapping[str, Any]) -> str:
    """Return the logbook's sentence of one downlink report."""
    status = str(data.get("status"))
    message = (
        f"downlink on port {data.get('f_port')} {_STATUS_TEXT.get(status, status)}"
    )
    if status == "nack" and data.get("attempt") is not None:
        message += f" (transmission {data['attempt']})"
    if status == "failed":
        reason = data.get("error_message") or data.get("error_name")
        if reason:
            message += f": {reason}"
        if cause := data.get("error_cause_message") or data.get("error_cause_name"):
            message += f" (cause: {cause})"
    return message


def _downlink_entity(hass: HomeAssistant, device_id: Any) -> str | None:
    if not isinstance(device_id, str):
        return None
    for entity in er.async_entries_for_device(er.async_get(hass), device_id):
        if entity.platform == DOMAIN and entity.domain == "event":
            return entity.entity_id
    return None
