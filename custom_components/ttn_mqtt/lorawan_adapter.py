"""A LoRaWAN connection (lorawan-connection's `Connection`) over an entry's MQTT session.

Home Assistant's `lorawan` integration (2026.11) lets device integrations, such as
SenseCAP's, make entities of the devices of any connection that registers with it.
This one hands them what the entry's coordinator knows and receives: each device with
its DevEUI and its make and model (`version_ids`), every uplink's bytes, port and
gateways, live or fetched back, and every join. Downlinks go out through the entry's
own downlink path, and their reports come back as acknowledgements.

The library comes with the `lorawan` integration, so this module is imported only
where that exists (lorawan_share.py).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
import logging

from homeassistant.core import CALLBACK_TYPE, Event, callback
from homeassistant.helpers import device_registry as dr
from lorawan_connection import (
    AckEvent,
    AddedEvent,
    ConnectionUnavailable,
    DeviceDescriptor,
    DeviceEvent,
    Downlink,
    DownlinkError,
    GatewayReception,
    JoinEvent,
    RemovedEvent,
    Unsubscribe,
    UpdatedEvent,
    UplinkEvent,
    notify,
    subscribe,
)

from .coordinator import TtnCoordinator
from .device_repository import model_name, vendor_name
from .protocol.downlink import (
    Downlink as TtnDownlink,
    new_correlation_id,
    own_correlation_id,
)
from .protocol.errors import DownlinkError as TtnDownlinkError
from .protocol.messages import (
    DownlinkEvent,
    DownlinkStatus,
    JoinAccept,
    Uplink,
    VersionIds,
)
from .protocol.topics import DownlinkMode

_LOGGER = logging.getLogger(__name__)

# The Things Stack's namespace in the device integrations' manifest matchers.
STACK = "tts"

type Brands = frozenset[tuple[str, int | str]]

# What ends a confirmed downlink for a device model waiting for its acknowledgement.
# A nack does not: the server sends the downlink again, and after its last nack the
# coordinator reports it failed (exhausted_report).
_ANSWERS = {
    DownlinkStatus.ACK: True,
    DownlinkStatus.FAILED: False,
    DownlinkStatus.INVALIDATED: False,
}


@dataclass(eq=False)
class _Subscriber:
    brands: Brands | None
    listener: Callable[[DeviceEvent], None]

    def wants(self, descriptor: DeviceDescriptor) -> bool:
        return self.brands is None or (STACK, descriptor.brand_id) in self.brands


class TtnMqttConnection:
    """The devices and traffic of one ttn_mqtt entry, as a LoRaWAN connection."""

    stack_type = STACK

    def __init__(self, coordinator: TtnCoordinator) -> None:
        """Describe the coordinator's devices; nothing is followed until start()."""
        self._coordinator = coordinator
        # By TTN device ID; a device without a DevEUI cannot be described.
        self._descriptors: dict[str, DeviceDescriptor] = {}
        self._device_ids: dict[str, str] = {}  # DevEUI -> TTN device ID
        self._subscribers: list[_Subscriber] = []
        self._disconnect_listeners: list[Callable[[None], None]] = []
        # Our correlation ID of each confirmed downlink sent -> its TTN device ID.
        self._awaiting: dict[str, str] = {}
        self._unsubscribes: list[CALLBACK_TYPE] = []
        self._closed = False
        for device in coordinator.devices.values():
            if device.uplink is not None:
                self._describe(
                    device.device_id,
                    device.uplink.device.dev_eui,
                    device.uplink.version_ids,
                )

    @callback
    def start(self) -> None:
        """Follow the entry's uplinks, joins, downlink reports and deleted devices."""
        coordinator = self._coordinator
        self._unsubscribes = [
            coordinator.async_add_message_listener(self._receive),
            coordinator.async_add_downlink_listener(self._receive_report),
            coordinator.hass.bus.async_listen(
                dr.EVENT_DEVICE_REGISTRY_UPDATED, self._registry_updated
            ),
        ]

    @callback
    def close(self) -> None:
        """Stop, and tell the subscribers the connection is gone (the entry unloads)."""
        if self._closed:
            return
        self._closed = True
        for unsubscribe in self._unsubscribes:
            unsubscribe()
        self._unsubscribes.clear()
        self._subscribers.clear()
        self._awaiting.clear()
        listeners, self._disconnect_listeners = self._disconnect_listeners, []
        notify(listeners, None)

    # The Connection protocol.

    async def async_subscribe(
        self,
        *,
        brands: Brands | None = None,
        listener: Callable[[DeviceEvent], None],
    ) -> Unsubscribe:
        """Deliver the devices (each with its latest uplink), then what comes."""
        self._check_open()
        subscriber = _Subscriber(brands, listener)
        self._subscribers.append(subscriber)
        for device_id, descriptor in tuple(self._descriptors.items()):
            if subscriber not in self._subscribers:
                break
            if not subscriber.wants(descriptor):
                continue
            notify([listener], AddedEvent(descriptor=descriptor))
            # The reading our own entities show now, even if it came before the
            # subscriber did: at startup, the catch-up may already have run.
            device = self._coordinator.devices.get(device_id)
            if (
                device is not None
                and device.uplink is not None
                and (uplink := _uplink_event(descriptor, device.uplink)) is not None
            ):
                notify([listener], uplink)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def on_disconnect(self, listener: Callable[[], None]) -> Unsubscribe:
        """Call listener when the connection ends: the entry unloads.

        A lost MQTT link is not an end: the session reconnects and the catch-up
        delivers what was missed.
        """
        self._check_open()
        return subscribe(self._disconnect_listeners, lambda _: listener())

    async def async_send_downlink(self, downlink: Downlink) -> str:
        """Push a downlink through the entry; return its correlation ID."""
        if self._closed:
            raise DownlinkError("The Things Network (MQTT) entry is unloaded")
        if downlink.expires_at is not None:
            raise DownlinkError("The Things Stack does not support downlink expiry")
        device_id = self._device_ids.get(downlink.dev_eui.replace(":", "").lower())
        if device_id is None:
            raise DownlinkError("Unknown device")
        try:
            ours = TtnDownlink(
                f_port=downlink.f_port,
                frm_payload=downlink.data,
                confirmed=downlink.confirmed,
                correlation_id=new_correlation_id(),
            )
        except TtnDownlinkError as err:
            raise DownlinkError(str(err)) from err
        if not self._coordinator.publish_downlinks(
            device_id, DownlinkMode.PUSH, [ours]
        ):
            raise DownlinkError("Not connected to The Things Stack")
        if downlink.confirmed:
            self._awaiting[ours.correlation_id] = device_id
        return ours.correlation_id

    # What the coordinator applies.

    @callback
    def _receive(self, message: Uplink | JoinAccept, backfilled: bool) -> None:
        device_id = message.device.device_id
        version = message.version_ids if isinstance(message, Uplink) else None
        descriptor = self._describe(device_id, message.device.dev_eui, version)
        if descriptor is None:
            return
        if isinstance(message, Uplink):
            if (uplink := _uplink_event(descriptor, message)) is not None:
                self._deliver(uplink)
        else:
            self._deliver(
                JoinEvent(
                    descriptor=descriptor,
                    received_at=_at(message.received_at),
                    dev_addr=(message.device.dev_addr or "").lower(),
                )
            )

    @callback
    def _receive_report(self, report: DownlinkEvent) -> None:
        correlation_id = own_correlation_id(report.downlink_correlation_ids)
        if correlation_id is None or report.status not in _ANSWERS:
            return
        device_id = self._awaiting.pop(correlation_id, None)
        if (
            device_id is None
            or (descriptor := self._descriptors.get(device_id)) is None
        ):
            return
        self._deliver(
            AckEvent(
                descriptor=descriptor,
                received_at=_at(report.received_at),
                queue_item_id=correlation_id,
                acknowledged=_ANSWERS[report.status],
            )
        )

    @callback
    def _registry_updated(
        self, event: Event[dr.EventDeviceRegistryUpdatedData]
    ) -> None:
        # The user deleted an end device (async_remove_config_entry_device): the
        # coordinator forgot it; it comes back, added again, when it reports.
        if event.data["action"] != "remove":
            return
        for device_id, descriptor in tuple(self._descriptors.items()):
            if device_id not in self._coordinator.devices:
                del self._descriptors[device_id]
                self._device_ids.pop(descriptor.dev_eui, None)
                self._deliver(RemovedEvent(descriptor=descriptor))

    # Devices and subscribers.

    def _describe(
        self, device_id: str, dev_eui: str | None, version: VersionIds | None
    ) -> DeviceDescriptor | None:
        """Return the device's descriptor, made or changed by what a message says."""
        previous = self._descriptors.get(device_id)
        brand_id = previous.brand_id if previous else None
        model_id = previous.model_id if previous else ""
        # A join or an uplink without version_ids says nothing of the make and model.
        if version is not None and version.brand_id:
            brand_id, model_id = version.brand_id, version.model_id or ""
        dev_eui = dev_eui or (previous.dev_eui if previous else None)
        if dev_eui is None:
            return None
        try:
            descriptor = DeviceDescriptor(
                network_id=self._coordinator.entry.entry_id,
                stack=STACK,
                dev_eui=dev_eui,
                name=device_id,
                application_id=self._coordinator.settings.app_id,
                profile_id="",
                brand_id=brand_id,
                model_id=model_id,
                model=(model_name(model_id) or "") if model_id else "",
                manufacturer=(vendor_name(brand_id) or "") if brand_id else "",
            )
        except ValueError:
            _LOGGER.debug("%s has no valid DevEUI (%s)", device_id, dev_eui)
            return None
        if descriptor == previous:
            return descriptor
        self._descriptors[device_id] = descriptor
        if previous is not None and previous.dev_eui != descriptor.dev_eui:
            self._device_ids.pop(previous.dev_eui, None)
        self._device_ids[descriptor.dev_eui] = device_id
        if previous is None or previous.brand_id is None:
            # Device integrations are discovered by an added device's brand: one
            # first known by a join learns its brand from its first uplink.
            self._deliver(AddedEvent(descriptor=descriptor), previous)
        else:
            self._deliver(UpdatedEvent(descriptor=descriptor), previous)
        return descriptor

    def _deliver(
        self, event: DeviceEvent, previous: DeviceDescriptor | None = None
    ) -> None:
        descriptor = event.descriptor or self._descriptors.get(event.dev_eui)
        if descriptor is None:
            return
        for subscriber in tuple(self._subscribers):
            if subscriber not in self._subscribers:
                continue
            if subscriber.wants(descriptor):
                notify([subscriber.listener], event)
            elif previous is not None and subscriber.wants(previous):
                # Its brand changed to one this subscriber does not follow.
                notify([subscriber.listener], RemovedEvent(descriptor=previous))

    def _check_open(self) -> None:
        if self._closed:
            raise ConnectionUnavailable("The Things Network (MQTT) entry is unloaded")


def _uplink_event(descriptor: DeviceDescriptor, uplink: Uplink) -> UplinkEvent | None:
    """Return the uplink as an event; None if its payload is not base64 (not TTS's)."""
    try:
        data = base64.b64decode(uplink.frm_payload or "", validate=True)
    except binascii.Error:
        return None
    return UplinkEvent(
        descriptor=descriptor,
        received_at=_at(uplink.received_at),
        data=data,
        # No port: no application payload (a MAC-only uplink, port 0).
        f_port=uplink.f_port or 0,
        receptions=tuple(
            GatewayReception(gateway.gateway_id, gateway.rssi, gateway.snr)
            for gateway in uplink.gateways
        ),
    )


def _at(received_at: datetime | None) -> datetime:
    return received_at or datetime.now(UTC)
