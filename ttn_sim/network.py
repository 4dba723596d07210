"""The simulated network server: publishes uplinks and joins, and answers downlinks.

Downlink queue model (kept simple on purpose): each device has one queue. A push
appends, a replace swaps the whole queue; every accepted downlink is announced on
`down/queued` (what is refused, see `downlinks`). Sending takes the head of the
queue: `down/sent` (then `down/ack`, or `down/nack` for a "nack" device, when
confirmed) or `down/failed`. With `auto_send=True` (the default, convenient for tests
and the demo) the queue drains one downlink every `send_delay` seconds. With
`auto_send=False` the network behaves like a LoRaWAN class A device: one downlink
goes out after each uplink of that device, so a test can hold downlinks back until
it sends an uplink. A join keeps the queue (the real server re-encrypts it).

A nacked downlink is retried as the Application Server does (applicationserver.go
`handleDownlinkNack`, PR #6060): the nack carries `confirmed_retry.attempt`, the
count of transmissions nacked so far (1 for the first), and while that count is at
most the downlink's `confirmed_retry.max_attempts` (else `confirmed_retry_attempts`,
TTS's `as.downlinks.confirmation.default-retry-attempts`, 8) the downlink goes to the
end of the queue again with that attempt and a new f_cnt, without `down/queued`.
The nack whose attempt exceeds the maximum is the last: the downlink is dropped,
with no `down/failed`.
"""

from __future__ import annotations

from collections.abc import Sequence
import copy
from enum import Enum
import json
import logging
import random
import threading
import time
from types import TracebackType
from typing import Any, Literal, Self

import paho.mqtt.client as mqtt

from .broker import Application, Broker
from .client import Subscriber
from .devices import SimDevice, default_devices
from .downlinks import (
    DownlinkRejected,
    number,
    parse_request,
    queue_error,
    transmission_error,
)
from .messages import (
    DEFAULT_GATEWAYS,
    DeviceSession,
    Gateway,
    downlink_event,
    join_message,
    location_solved_message,
    new_session,
    normalized_payload,
    service_data_message,
    uplink_message,
    uplink_normalized_messages,
)
from .scheduler import Scheduler

_LOGGER = logging.getLogger(__name__)
_TIMEOUT = 5.0
_EVENT_TOPICS = {
    "downlink_queued": "down/queued",
    "downlink_sent": "down/sent",
    "downlink_ack": "down/ack",
    "downlink_nack": "down/nack",
    "downlink_failed": "down/failed",
}


class _Generate(Enum):
    GENERATE = "generate"


GENERATE = _Generate.GENERATE
"""Default of `decoded_payload`: let the device's payload formatter decide."""


class Network:
    """The network server of one application, connected to a `Broker` as its superuser."""

    def __init__(
        self,
        broker: Broker,
        application: Application,
        devices: Sequence[SimDevice] | None = None,
        *,
        auto_send: bool = True,
        send_delay: float = 0.05,
        seed: int | None = None,
        gateways: Sequence[Gateway] = DEFAULT_GATEWAYS,
        confirmed_retry_attempts: int = 8,
        normalized: bool = True,
    ) -> None:
        """Prepare the network; `start()` connects it.

        `confirmed_retry_attempts`: how often a nacked downlink is sent again, unless
        it says otherwise (see the module's docstring). `normalized`: uplinks whose
        decoded payload has a temperature or humidity carry a normalized payload too,
        published first on `up/normalized`, one message per measurement, as for a
        device with a device repository normalizer; False leaves all that out.
        """
        self.broker = broker
        self.application = application
        self.devices: dict[str, SimDevice] = {}
        self.auto_send = auto_send
        self.send_delay = send_delay
        self.confirmed_retry_attempts = confirmed_retry_attempts
        self.normalized = normalized
        self.downlinks: list[tuple[str, str, dict[str, Any]]] = []
        self.rejected: list[tuple[str, str]] = []
        self._gateways = tuple(gateways)
        self._rng = random.Random(seed)
        self._sessions: dict[str, DeviceSession] = {}
        self._queues: dict[str, list[dict[str, Any]]] = {}
        self._sending: set[str] = set()
        self._lock = threading.RLock()
        self._scheduler = Scheduler(f"ttn-sim-network-{application.app_id}")
        self._subscriber = Subscriber(
            broker.host,
            broker.port,
            broker.network_username,
            broker.network_password,
            topics=[self._topic("+", "down/push"), self._topic("+", "down/replace")],
            on_message=self._receive_request,
            # Unique: a second network on the same broker must not take this one's place.
            client_id=f"ttn-sim-network-{application.app_id}-{id(self):x}",
        )
        self._running = False
        for device in default_devices(seed) if devices is None else devices:
            self.add_device(device)

    @property
    def uid(self) -> str:
        """The application's name in topics."""
        return self.application.uid

    def add_device(self, device: SimDevice) -> None:
        """Register a device, also while running (as if added in the console)."""
        with self._lock:
            self.devices[device.device_id] = device
            # Devices have been running a while: their frame counters start part-way.
            f_cnt = self._rng.randint(1, 400)
            self._sessions[device.device_id] = new_session(self._rng, f_cnt=f_cnt)
            self._queues[device.device_id] = []

    def start(self) -> None:
        """Connect, subscribe to downlink requests and wait until subscribed."""
        self._scheduler.start()
        self._running = True
        if not self._subscriber.start(_TIMEOUT):
            self.stop()
            raise RuntimeError("the simulated network could not connect to the broker")

    def stop(self) -> None:
        """Drop pending events, disconnect and end every thread the network started."""
        self._scheduler.stop()
        if self._running:
            self._running = False
            self._subscriber.stop()

    @property
    def is_connected(self) -> bool:
        """Whether connected and subscribed to downlink requests right now."""
        return self._subscriber.subscribed.is_set()

    def wait_connected(self, timeout: float = _TIMEOUT) -> bool:
        """Wait until connected and subscribed (e.g. after a broker restart)."""
        return self._subscriber.subscribed.wait(timeout)

    def build_uplink(
        self,
        device_id: str,
        decoded_payload: dict[str, Any] | _Generate | None = GENERATE,
        *,
        simulated: bool = False,
        **overrides: Any,
    ) -> dict[str, Any]:
        """Build the device's next uplink without publishing it; its f_cnt advances.

        The bytes come from the device's payload generator. `decoded_payload`: GENERATE
        for the generator's decoded payload, a value to pretend the formatter returned
        it, or None for no `decoded_payload` at all. `overrides` replace fields of
        `uplink_message`; an override of None removes the field.
        """
        device = self._device(device_id)
        with self._lock:
            frm_payload, generated = device.payload()
            decoded = generated if decoded_payload is GENERATE else decoded_payload
            session = self._sessions[device_id]
            message = uplink_message(
                self.application,
                device,
                session,
                frm_payload,
                decoded,
                rng=self._rng,
                gateways=self._gateways,
                now_ns=time.time_ns(),
                simulated=simulated,
                normalized=normalized_payload(decoded) if self.normalized else None,
            )
            session.f_cnt += 1
        fields = message["uplink_message"]
        for key, value in overrides.items():
            if value is None:
                fields.pop(key, None)
            else:
                fields[key] = value
        return message

    def uplink(
        self,
        device_id: str,
        decoded_payload: dict[str, Any] | _Generate | None = GENERATE,
        *,
        simulated: bool = False,
        **overrides: Any,
    ) -> dict[str, Any]:
        """Build and publish the device's next uplink on `.../up`; return the message.

        Its `up/normalized` messages, if any, go first: the Application Server
        publishes them while it handles the uplink (applicationserver.go `handleUplink`).
        Without `auto_send`, this uplink opens the device's receive window: the head
        of its downlink queue is sent next.
        """
        message = self.build_uplink(
            device_id, decoded_payload, simulated=simulated, **overrides
        )
        for normalized in uplink_normalized_messages(message):
            self.publish_raw(
                self._topic(device_id, "up/normalized"), json.dumps(normalized)
            )
        self.publish_raw(self._topic(device_id, "up"), json.dumps(message))
        if not self.auto_send:
            with self._lock:
                self._schedule_transmission(device_id)
        return message

    def join(self, device_id: str) -> dict[str, Any]:
        """Join the device again: new session and address, f_cnt back to 0. Return the message."""
        device = self._device(device_id)
        with self._lock:
            session = new_session(self._rng)
            self._sessions[device_id] = session
            message = join_message(self.application, device, session, time.time_ns())
        self.publish_raw(self._topic(device_id, "join"), json.dumps(message))
        return message

    def solve_location(
        self,
        device_id: str,
        location: dict[str, Any],
        *,
        service: str = "lora-cloud-geolocation-v3",
    ) -> dict[str, Any]:
        """Publish a location solver's result for a device, as The Things Stack does.

        `location`: latitude, longitude and optionally altitude, accuracy (metres) and
        source (e.g. SOURCE_WIFI_RSSI_GEOLOCATION). Return the message.
        """
        device = self._device(device_id)
        with self._lock:
            message = location_solved_message(
                self.application,
                device,
                self._sessions[device_id],
                location,
                service=service,
                now_ns=time.time_ns(),
            )
        self.publish_raw(self._topic(device_id, "location/solved"), json.dumps(message))
        return message

    def service_data(
        self,
        device_id: str,
        data: dict[str, Any],
        *,
        service: str = "lora-cloud-device-management-v1",
    ) -> dict[str, Any]:
        """Publish an application package's output for a device on `service/data`.

        `data`: what the package reports. Return the message.
        """
        device = self._device(device_id)
        with self._lock:
            message = service_data_message(
                self.application,
                device,
                self._sessions[device_id],
                service=service,
                data=data,
                now_ns=time.time_ns(),
            )
        self.publish_raw(self._topic(device_id, "service/data"), json.dumps(message))
        return message

    def publish_raw(self, topic: str, payload: bytes | str) -> None:
        """Publish anything on any topic and wait until the broker has handled it.

        QoS 1 to the broker, so that when this returns mosquitto has already passed
        the message on to whoever was subscribed: a test that publishes while Home
        Assistant is disconnected knows it cannot arrive late, after a reconnect.
        Subscribers still get it at their own subscription's QoS 0, as from TTS.
        """
        if not self._running or not self.wait_connected():
            raise RuntimeError("the simulated network is not connected to the broker")
        info = self._subscriber.client.publish(topic, payload, qos=1)
        # wait_for_publish returns quietly on a timeout: the promise above would not hold.
        info.wait_for_publish(_TIMEOUT)
        if not info.is_published():
            raise RuntimeError(f"the broker did not acknowledge a message on {topic}")

    def queue(self, device_id: str) -> list[dict[str, Any]]:
        """Return (a copy of) the downlinks waiting for the device, as queued."""
        with self._lock:
            return copy.deepcopy(self._queues[device_id])

    def run_forever(
        self, interval: float, stop_event: threading.Event, *, join_every: int = 0
    ) -> None:
        """Send uplinks round-robin every `interval` seconds until `stop_event` is set.

        With `join_every` > 0 a device joins again before every join_every-th uplink,
        so consumers see joins and frame counters restarting.
        """
        device_ids = list(self.devices)
        count = 0
        while not stop_event.is_set():
            device_id = device_ids[count % len(device_ids)]
            count += 1
            try:
                if join_every and count % join_every == 0:
                    self.join(device_id)
                self.uplink(device_id)
            except RuntimeError as err:  # the broker is away; try again next time
                _LOGGER.warning(
                    "ttn_sim: uplink of %s not published: %s", device_id, err
                )
            stop_event.wait(interval)

    def __enter__(self) -> Self:
        """Start the network."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the network."""
        self.stop()

    # paho thread

    def _receive_request(self, message: mqtt.MQTTMessage) -> None:
        # v3/<uid>/devices/<device_id>/down/<push|replace>
        parts = message.topic.split("/")
        device_id, mode = parts[3], parts[5]
        self._scheduler.call_soon(
            self._handle_request, device_id, mode, message.payload
        )

    # worker thread

    def _handle_request(
        self, device_id: str, mode: Literal["push", "replace"], payload: bytes
    ) -> None:
        try:
            body = json.loads(payload)
        except ValueError:
            self._reject(device_id, "payload is not JSON")
            return
        with self._lock:
            self.downlinks.append((device_id, mode, body))
            if device_id not in self.devices:
                self._reject(device_id, "unknown device")
                return
            try:
                downlinks = parse_request(body)
            except DownlinkRejected as err:
                self._reject(device_id, str(err))
                return
            if (error := queue_error(downlinks)) is not None:
                # registerDropDownlinks: the queue is left as it was.
                for downlink in downlinks:
                    failed = {"downlink": downlink, "error": error}
                    self._publish_event(device_id, "downlink_failed", failed)
                return
            queued = number(downlinks, self._sessions[device_id])
            if mode == "replace":
                self._queues[device_id] = []
            self._queues[device_id].extend(queued)
            for downlink in queued:
                self._publish_event(device_id, "downlink_queued", downlink)
            if self.auto_send:
                self._schedule_transmission(device_id)

    def _schedule_transmission(self, device_id: str) -> None:
        """Send the head of the queue after `send_delay`, unless that is planned already."""
        if device_id in self._sending or not self._queues[device_id]:
            return
        self._sending.add(device_id)
        self._scheduler.call_later(self.send_delay, self._transmit, device_id)

    def _transmit(self, device_id: str) -> None:
        with self._lock:
            self._sending.discard(device_id)
            if not self._queues[device_id]:
                return
            downlink = self._queues[device_id].pop(0)
            device = self.devices[device_id]
            error = transmission_error(device, downlink)
            if error is not None:
                failed = {"downlink": downlink, "error": error}
                self._publish_event(device_id, "downlink_failed", failed)
            else:
                self._publish_event(device_id, "downlink_sent", downlink)
                if downlink.get("confirmed"):
                    answer = (
                        self._nack if device.downlink_behaviour == "nack" else self._ack
                    )
                    self._scheduler.call_later(
                        self.send_delay, answer, device_id, downlink
                    )
            if self.auto_send:
                self._schedule_transmission(device_id)

    def _ack(self, device_id: str, downlink: dict[str, Any]) -> None:
        self._publish_event(device_id, "downlink_ack", downlink)

    def _nack(self, device_id: str, downlink: dict[str, Any]) -> None:
        """Count the nacked attempt, queue the downlink again if it may, forward the nack.

        applicationserver.go `handleDownlinkNack` pushes the downlink again before the
        nack goes upstream; the push announces nothing on `down/queued`.
        """
        with self._lock:
            previous = downlink.get("confirmed_retry", {})
            retry = {"attempt": previous.get("attempt", 0) + 1}
            if "max_attempts" in previous:
                retry["max_attempts"] = previous["max_attempts"]
            nacked = {**downlink, "confirmed_retry": retry}
            max_attempts = retry.get("max_attempts", self.confirmed_retry_attempts)
            if retry["attempt"] <= max_attempts:
                session = self._sessions[device_id]
                session.last_downlink_f_cnt += 1
                self._queues[device_id].append(
                    {
                        **nacked,
                        "session_key_id": session.session_key_id,
                        "f_cnt": session.last_downlink_f_cnt,
                    }
                )
            self._publish_event(device_id, "downlink_nack", nacked)
            if self.auto_send:
                self._schedule_transmission(device_id)

    def _publish_event(self, device_id: str, event: str, body: dict[str, Any]) -> None:
        with self._lock:
            message = downlink_event(
                self.application,
                self.devices[device_id],
                self._sessions[device_id],
                event=event,
                body=body,
                now_ns=time.time_ns(),
            )
        if self._running:
            self._subscriber.client.publish(
                self._topic(device_id, _EVENT_TOPICS[event]), json.dumps(message)
            )

    def _reject(self, device_id: str, reason: str) -> None:
        _LOGGER.info("ttn_sim: downlink request for %s ignored: %s", device_id, reason)
        with self._lock:
            self.rejected.append((device_id, reason))

    def _device(self, device_id: str) -> SimDevice:
        try:
            return self.devices[device_id]
        except KeyError:
            raise KeyError(f"no simulated device {device_id!r}") from None

    def _topic(self, device_id: str, suffix: str) -> str:
        return f"v3/{self.uid}/devices/{device_id}/{suffix}"
