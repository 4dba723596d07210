"""Helpers for tests that talk to the simulated TTN broker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import json
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ttn_sim import Broker

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
    """Blocking `async_wait_for`, for sync tests and fixtures.

    It pauses with Event.wait, not time.sleep: the root conftest turns on Home
    Assistant's blocking-call detector, which rejects time.sleep in the main thread
    even when no event loop runs.
    """
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        pause.wait(0.01)


class MqttWatcher:
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
        self.topic = topic
        self._broker = broker
        self._messages: list[Message] = []
        self._taken: set[int] = set()
        self._arrived = threading.Condition()
        self._subscribed = threading.Event()
        self.granted: list[mqtt.ReasonCode] = []
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self._client.username_pw_set(
            username or broker.network_username,
            password if username else broker.network_password,
        )
        self._client.reconnect_delay_set(min_delay=0.1, max_delay=1)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    def start(self, timeout: float = 5.0) -> None:
        """Connect and wait until the subscription is granted."""
        self._client.connect(self._broker.host, self._broker.port)
        self._client.loop_start()
        if not self._subscribed.wait(timeout):
            self.stop()
            raise AssertionError(f"watcher could not subscribe to {self.topic}")
        if any(code.is_failure for code in self.granted):
            self.stop()
            raise AssertionError(
                f"subscription to {self.topic} refused: {self.granted}"
            )

    def stop(self) -> None:
        """Disconnect and end the client's thread."""
        self._client.disconnect()
        self._client.loop_stop()

    @property
    def is_subscribed(self) -> bool:
        """Whether the watcher is connected and subscribed right now."""
        return self._subscribed.is_set()

    def wait_subscribed(self, timeout: float = 5.0) -> None:
        """Wait until subscribed again, e.g. after the broker restarted."""
        if not self._subscribed.wait(timeout):
            raise AssertionError(f"watcher not subscribed to {self.topic} again")

    @property
    def messages(self) -> list[Message]:
        """Everything received so far, in order: (topic, payload)."""
        with self._arrived:
            return list(self._messages)

    def publish(self, topic: str, payload: dict[str, Any] | str | bytes) -> None:
        """Publish as this watcher's user (QoS 0); dicts are sent as JSON."""
        data = json.dumps(payload) if isinstance(payload, dict) else payload
        self._client.publish(topic, data).wait_for_publish(5)

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

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: mqtt.Properties | None,
    ) -> None:
        if not reason_code.is_failure:
            client.subscribe(self.topic)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[mqtt.ReasonCode],
        properties: mqtt.Properties | None,
    ) -> None:
        self.granted = list(reason_codes)
        self._subscribed.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: mqtt.Properties | None,
    ) -> None:
        self._subscribed.clear()

    def _on_message(
        self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage
    ) -> None:
        try:
            payload: Any = json.loads(msg.payload)
        except ValueError:
            payload = msg.payload
        with self._arrived:
            self._messages.append((msg.topic, payload))
            self._arrived.notify_all()
