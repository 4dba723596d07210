"""A plain MQTT client that stays subscribed: the network server's, and the tests' watchers'."""

from __future__ import annotations

from collections.abc import Callable, Sequence
import logging
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

_LOGGER = logging.getLogger(__name__)


class Subscriber:
    """A paho client on a thread of its own, subscribed to `topics` at QoS 0.

    The broker keeps no sessions, as The Things Stack keeps none: it subscribes again
    after every reconnect, and `subscribed` is set only while that holds.
    `on_message` is called on paho's thread.
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        password: str,
        *,
        topics: Sequence[str],
        on_message: Callable[[mqtt.MQTTMessage], None],
        client_id: str = "",
    ) -> None:
        """Prepare the client; `start()` connects it."""
        self.host = host
        self.port = port
        self.topics = tuple(topics)
        self.subscribed = threading.Event()
        # The broker's answer to the last subscription, one code per topic.
        self.granted: list[mqtt.ReasonCode] = []
        self._on_message = on_message
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311
        )
        self.client.username_pw_set(username, password)
        # Come back fast after a test restarts the broker.
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=1)
        self.client.on_connect = self._handle_connect
        self.client.on_subscribe = self._handle_subscribe
        self.client.on_disconnect = self._handle_disconnect
        self.client.on_message = self._handle_message

    def start(self, timeout: float = 5.0) -> bool:
        """Connect and wait for the subscription's answer; False if none came in time."""
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        return self.subscribed.wait(timeout)

    def stop(self) -> None:
        """Disconnect and end the client's thread."""
        self.client.disconnect()
        self.client.loop_stop()
        self.subscribed.clear()

    def _handle_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: mqtt.Properties | None,
    ) -> None:
        if reason_code.is_failure:
            _LOGGER.error("ttn_sim: client refused by the broker: %s", reason_code)
            return
        client.subscribe([(topic, 0) for topic in self.topics])

    def _handle_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[mqtt.ReasonCode],
        properties: mqtt.Properties | None,
    ) -> None:
        self.granted = list(reason_codes)
        self.subscribed.set()

    def _handle_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: mqtt.Properties | None,
    ) -> None:
        self.subscribed.clear()

    def _handle_message(
        self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage
    ) -> None:
        self._on_message(message)
