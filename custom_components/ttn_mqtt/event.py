"""Event entities: the fate of each end device's downlinks."""

from __future__ import annotations

from homeassistant.components.event import EventEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import TtnCoordinator, TtnMqttConfigEntry
from .entity import NewKeys, TtnDeviceEntity, async_add_device_entities
from .models import TtnDevice
from .protocol.downlink import report_details
from .protocol.messages import DownlinkEvent, DownlinkStatus

PARALLEL_UPDATES = 0

# An invalidated queue is told on the bus only: it reports on the queue, not on one
# downlink's delivery.
EVENT_TYPES = [
    DownlinkStatus.QUEUED,
    DownlinkStatus.SENT,
    DownlinkStatus.ACK,
    DownlinkStatus.NACK,
    DownlinkStatus.FAILED,
]


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TtnMqttConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a downlink event entity for every end device, now and as they appear."""
    coordinator = entry.runtime_data
    new_keys = NewKeys()
    # Entities made for a report, until Home Assistant added them: the reports that
    # come meanwhile (queued and sent, often together) are kept for them.
    waiting: dict[str, TtnDownlinkEvent] = {}

    @callback
    def new_event(device: TtnDevice) -> list[TtnDownlinkEvent]:
        made = new_keys.made(device)
        if "downlink" in made:
            return []
        made.add("downlink")
        return [TtnDownlinkEvent(coordinator, device.device_id)]

    @callback
    def handle_downlink(event: DownlinkEvent) -> None:
        # A device can make itself known by a downlink report (of a downlink sent
        # from the console) before any uplink; its entity then starts with it.
        device_id = event.device.device_id
        if (
            entity := waiting.get(device_id)
        ) is not None and entity.unshown is not None:
            entity.unshown.append(event)
            return
        waiting.pop(device_id, None)
        if entities := new_event(coordinator.devices[device_id]):
            waiting[device_id] = entities[0]
            entities[0].unshown = [event]
            async_add_entities(entities)

    async_add_device_entities(entry, async_add_entities, new_event)
    entry.async_on_unload(coordinator.async_add_downlink_listener(handle_downlink))


class TtnDownlinkEvent(TtnDeviceEntity, EventEntity):
    """The latest report on a downlink to the device: queued, sent, ack, nack or failed."""

    _attr_translation_key = "downlink"

    def __init__(
        self,
        coordinator: TtnCoordinator,
        device_id: str,
    ) -> None:
        """Attach the entity to its end device."""
        super().__init__(coordinator, device_id, "downlink")
        self._attr_event_types = [status.value for status in EVENT_TYPES]
        # Of an entity made for a report: the reports that came before Home Assistant
        # added it, shown then; None once it follows the reports itself.
        self.unshown: list[DownlinkEvent] | None = None

    async def async_added_to_hass(self) -> None:
        """Follow the device's downlink reports."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self.coordinator.async_add_downlink_listener(self._handle_downlink)
        )
        if self.unshown is not None:
            # Once added: Home Assistant 2026 drops a state written while adding.
            self.hass.loop.call_soon(self._show_unshown)

    @callback
    def _show_unshown(self) -> None:
        unshown, self.unshown = self.unshown or [], None
        for event in unshown:
            self._handle_downlink(event)

    @callback
    def _handle_downlink(self, event: DownlinkEvent) -> None:
        if (
            self.unshown is not None
            or event.device.device_id != self.device_id
            or event.status not in EVENT_TYPES
        ):
            # Until the reports kept for it are shown, the platform keeps new ones.
            return
        self._trigger_event(event.status.value, report_details(event))
        self.async_write_ha_state()
