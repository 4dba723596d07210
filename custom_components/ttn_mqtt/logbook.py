"""What the logbook says of a downlink report: to which device, what became of it, why."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from homeassistant.core import Event, HomeAssistant, callback

from .const import DOMAIN, EVENT_DOWNLINK

# The logbook's entry keys (homeassistant.components.logbook's LOGBOOK_ENTRY_*), written
# here: importing the logbook would make it a dependency to declare.
LOGBOOK_ENTRY_NAME = "name"
LOGBOOK_ENTRY_MESSAGE = "message"

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
        return {
            LOGBOOK_ENTRY_NAME: event.data.get("ttn_device_id") or "TTN",
            LOGBOOK_ENTRY_MESSAGE: downlink_message(event.data),
        }

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
