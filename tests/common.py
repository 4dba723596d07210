"""Helpers for tests that talk to the simulated TTN broker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import json
import threading
import time
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
import paho.mqtt.client as mqtt

from ttn_sim import Broker
from ttn_sim.client import Subscriber

type Message = tuple[str, Any]
type Predicate = Callable[[str, Any], bool] | str | None


# A timeout argument rather than asyncio.timeout(): a timeout is an assertion failure
# that names what was awaited, and tests read shorter.
async def async_wait_for(
    condition: Callable[[], bool],
    timeout: float = 5.0,  # noqa: ASYNC109
) -> None:
    """Wait until `condition()` is true, checking every 10 ms; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.01)


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Blocking `async_wait_for`, for sync tests and fixtures."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.01)


def registry_device(hass: HomeAssistant, identifier: tuple[str, str]) -> dr.DeviceEntry:
    """Return the registry device with this identifier.

    Not `async_get_device`: Home Assistant 2026.x deprecates it outside integrations.
    """
    registry = dr.async_get(hass)
    (device,) = (
        device
        for entry in hass.config_entries.async_entries(identifier[0])
        for device in dr.async_entries_for_config_entry(registry, entry.entry_id)
        if identifier in device.identifiers
    )
    return device


class MqttWatcher(Subscriber):
    """A plain MQTT client that records everything arriving on a topic filter.

    It connects as the network superuser unless given other credentials, and
    subscribes again after every reconnect (the broker keeps no sessions). Payloads
    that are JSON are stored parsed, others as bytes. `wait_for` returns each message
    at most once, so waiting for "queued", then "sent", then "ack" follows the events
    in the order they matter, whatever else arrived in between.
    """

    def __init__(
        self,
        broker: Broker,
        topic: str = "#",
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        """Prepare the client; `start()` connects it."""
        super().__init__(
            broker.host,
            broker.port,
            username or broker.network_username,
            password if username else broker.network_password,
            topics=[topic],
            on_message=self._record,
        )
        self.topic = topic
        self._messages: list[Message] = []
        self._taken: set[int] = set()
        self._arrived = threading.Condition()

    def start(self, timeout: float = 5.0) -> bool:
        """Connect and wait until the subscription is granted."""
        if not super().start(timeout):
            self.stop()
            raise AssertionError(f"watcher could not subscribe to {self.topic}")
        if any(code.is_failure for code in self.granted):
            self.stop()
            raise AssertionError(
                f"subscription to {self.topic} refused: {self.granted}"
            )
        return True

    @property
    def is_subscribed(self) -> bool:
        """Whether the watcher is connected and subscribed right now."""
        return self.subscribed.is_set()

    def wait_subscribed(self, timeout: float = 5.0) -> None:
        """Wait until subscribed again, e.g. after the broker restarted."""
        if not self.subscribed.wait(timeout):
            raise AssertionError(f"watcher not subscribed to {self.topic} again")

    @property
    def messages(self) -> list[Message]:
        """Everything received so far, in order: (topic, payload)."""
        with self._arrived:
            return list(self._messages)

    def publish(self, topic: str, payload: dict[str, Any] | str | bytes) -> None:
        """Publish as this watcher's user (QoS 0); dicts are sent as JSON."""
        data = json.dumps(payload) if isinstance(payload, dict) else payload
        self.client.publish(topic, data).wait_for_publish(5)

    def wait_for_sync(
        self, predicate: Predicate = None, timeout: float = 5.0
    ) -> Message:
        """Block until a message not returned before matches `predicate`; return it.

        `predicate` is called with (topic, payload); a string matches topics ending
        with it (e.g. "/down/ack"); None matches anything.
        """
        deadline = time.monotonic() + timeout
        with self._arrived:
            while (found := self._take(predicate)) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(self._timeout_message(predicate, timeout))
                self._arrived.wait(remaining)
            return found

    async def wait_for(
        self,
        predicate: Predicate = None,
        timeout: float = 5.0,  # noqa: ASYNC109 (see async_wait_for)
    ) -> Message:
        """Like `wait_for_sync`, without blocking the event loop."""
        deadline = time.monotonic() + timeout
        while True:
            with self._arrived:
                if (found := self._take(predicate)) is not None:
                    return found
            if time.monotonic() > deadline:
                raise AssertionError(self._timeout_message(predicate, timeout))
            await asyncio.sleep(0.01)

    def _take(self, predicate: Predicate) -> Message | None:
        for index, (topic, payload) in enumerate(self._messages):
            if index in self._taken:
                continue
            if (
                predicate is None
                or (isinstance(predicate, str) and topic.endswith(predicate))
                or (callable(predicate) and predicate(topic, payload))
            ):
                self._taken.add(index)
                return topic, payload
        return None

    def _timeout_message(self, predicate: Predicate, timeout: float) -> str:
        topics = [topic for topic, _ in self._messages]
        return f"no message matching {predicate!r} within {timeout} s; got {topics}"

    def _record(self, message: mqtt.MQTTMessage) -> None:
        try:
            payload: Any = json.loads(message.payload)
        except ValueError:
            payload = message.payload
        with self._arrived:
            self._messages.append((message.topic, payload))
            self._arrived.notify_all()
