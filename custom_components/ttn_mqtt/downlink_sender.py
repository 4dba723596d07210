"""Sending downlinks, and making sure each gets a report, the server's or our own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
import logging

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later
from homeassistant.util import dt as dt_util

from .fleet import Fleet
from .link import Link
from .protocol.downlink import (
    Downlink,
    build_downlink_message,
    own_correlation_id,
    unanswered_report,
)
from .protocol.messages import DownlinkEvent, EndDeviceIds
from .protocol.topics import DownlinkMode, downlink_topic

_LOGGER = logging.getLogger(__name__)

# How long the server may take to say it queued (or refused) a downlink (seconds); it
# answers within a second when all is well.
ANSWER_TIMEOUT = 30.0


class DownlinkSender:
    """Publishes downlinks over the link; one the server does not answer is reported."""

    def __init__(self, hass: HomeAssistant, link: Link, fleet: Fleet) -> None:
        """Send over link; reports, the server's and ours, go through fleet."""
        self.hass = hass
        self._link = link
        self._fleet = fleet
        # Our correlation id -> the cancel of its no_answer timer.
        self._unanswered: dict[str, CALLBACK_TYPE] = {}
        fleet.async_add_downlink_listener(self._answered)

    def publish(
        self, device_id: str, mode: DownlinkMode, downlinks: Sequence[Downlink]
    ) -> bool:
        """Publish downlinks (none clears the queue); False, sending nothing, if offline.

        Each downlink gets a report: the server's, or `no_answer` when it says nothing
        within ANSWER_TIMEOUT.
        """
        body = build_downlink_message(downlinks)
        topic = downlink_topic(self._link.settings.uid, device_id, mode)
        if not self._link.publish(topic, body):
            return False
        for downlink in downlinks:
            self._await_answer(device_id, downlink)
        return True

    @callback
    def async_stop(self) -> None:
        """Wait for no answer any more: the entry unloads."""
        for cancel in self._unanswered.values():
            cancel()
        self._unanswered.clear()

    def _await_answer(self, device_id: str, downlink: Downlink) -> None:
        timeout = ANSWER_TIMEOUT

        @callback
        def no_answer(_now: datetime) -> None:
            del self._unanswered[downlink.correlation_id]
            _LOGGER.warning(
                "The Things Stack did not answer downlink %s to %s within %s s",
                downlink.correlation_id,
                device_id,
                timeout,
            )
            device = EndDeviceIds(device_id, self._link.settings.app_id)
            self._fleet.async_apply_downlink_event(
                unanswered_report(downlink, device, timeout, dt_util.utcnow())
            )

        self._unanswered[downlink.correlation_id] = async_call_later(
            self.hass, timeout, no_answer
        )

    @callback
    def _answered(self, event: DownlinkEvent) -> None:
        # Any report says the server has the downlink: it will report its fate.
        correlation_id = own_correlation_id(event.downlink_correlation_ids)
        if (cancel := self._unanswered.pop(correlation_id or "", None)) is not None:
            cancel()
