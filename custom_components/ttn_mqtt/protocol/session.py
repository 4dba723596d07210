"""The MQTT session with The Things Stack: one paho-mqtt client on a thread of its own.

Why a thread rather than the asyncio socket callbacks Home Assistant's mqtt client uses:
the server keeps only 64 unread messages per connection and drops the rest, so reading
the socket must not wait for a busy event loop. The thread reads, the caller's callbacks
are called on it and hand the messages over; it also owns connecting (DNS, TCP and TLS
set-up are blocking) and reconnecting with capped, jittered exponential backoff.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
import contextlib
from dataclasses import dataclass, field
from enum import Enum, StrEnum, auto
import logging
import random
import socket
import ssl
import threading
import time
from typing import Any
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from .ids import application_uid
from .tls import client_ssl_context
from .topics import subscription_topics

_LOGGER = logging.getLogger(__name__)

# What the kernel may buffer of the connection: about 4000 uplinks of 2 KB.
RECEIVE_BUFFER = 8 * 1024 * 1024
# How much is read from the socket at once: about a hundred uplinks.
READ_CHUNK = 256 * 1024
# CONNACK 4 (bad user name or password) and 5 (not authorised), as paho names them.
_AUTH_FAILURES = frozenset({"Bad user name or password", "Not authorized"})


class ConnectResult(Enum):
    """How an attempt to connect ended."""

    CONNECTED = auto()
    # CONNACK 4 or 5: bad credentials, or not authorised.
    INVALID_AUTH = auto()
    # Connected, but the server refused the subscription: the key may not read traffic.
    MISSING_RIGHTS = auto()
    CANNOT_CONNECT = auto()


class SessionState(StrEnum):
    """Where the session is."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    AUTH_FAILED = "auth_failed"
    # CONNACK 5 after a working connection: a refused key, or any other error of the
    # server while it sets the connection up (mystique connect.go). The session keeps
    # trying; its owner finds out which and stops it if the key is refused.
    REFUSED = "refused"
    STOPPED = "stopped"


# paho sends a PINGREQ after this long without traffic and gives the connection up when
# the PINGRESP does not come within as long again: a dead link (a blackhole, which no
# error reports) is noticed within two keepalives, 40 s.
KEEPALIVE = 20
# How long one attempt to connect (TCP, TLS and CONNACK) may take (seconds).
ATTEMPT_TIMEOUT = 10.0
# The reconnect delays grow from the first to the last (seconds), with jitter.
BACKOFF_MIN = 1.0
BACKOFF_MAX = 300.0
# A connection that lasted this long resets the backoff; a shorter one (a server that
# closes at once, as when rate limiting) keeps it growing.
STABLE_AFTER = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionSettings:
    """Where and as whom to connect."""

    host: str
    port: int
    use_tls: bool = True
    app_id: str
    tenant: str
    api_key: str = field(repr=False)
    # PEM of a CA for a self-hosted stack; None means the system trust store.
    ca_pem: str | None = field(default=None, repr=False)

    @property
    def uid(self) -> str:
        """Return the MQTT username, which also roots every topic."""
        return application_uid(self.app_id, self.tenant)


@dataclass(slots=True)
class SessionStats:
    """Counters for diagnostics."""

    connects: int = 0
    reconnects: int = 0
    disconnects: int = 0
    messages: int = 0
    last_error: str | None = None


def _enlarge_receive_buffer(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    """Let the kernel hold a burst of uplinks while this thread waits for the GIL.

    The server drops what it cannot write to the connection, and the default buffer
    holds only tens of uplinks. Home Assistant's own MQTT client does the same.
    """
    with contextlib.suppress(OSError):
        # Linux caps it at net.core.rmem_max; other systems may refuse it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)


class _BufferedClient(mqtt.Client):
    """paho's client, reading the socket in large pieces.

    paho reads a packet's header a byte at a time, each read a system call. While the
    event loop's thread wants the GIL, every system call hands it over, and this thread
    waits up to a switch interval (5 ms) to get it back: in a burst it fell behind, and
    the server dropped uplinks. Read in large pieces, packets come from memory. What
    is read ahead is invisible to select(): call loop_read() while `buffered`.
    All its reads go through _sock_recv (paho-mqtt 2.x); a test checks that they still do.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._chunk = b""
        self._offset = 0

    @property
    def buffered(self) -> bool:
        """Return whether bytes read from the socket wait to be handled."""
        return self._offset < len(self._chunk)

    def forget_buffer(self) -> None:
        """Drop what was read ahead: the connection it came from is gone."""
        self._chunk = b""
        self._offset = 0

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._offset >= len(self._chunk):
            # Raises BlockingIOError when nothing came; b"" is a closed connection.
            self._chunk = super()._sock_recv(READ_CHUNK)
            self._offset = 0
        data = self._chunk[self._offset : self._offset + bufsize]
        self._offset += len(data)
        return data


def _backoff_delay(failures: int, minimum: float, maximum: float) -> float:
    """Return a capped exponential delay with jitter, so clients don't return together."""
    ceiling = min(maximum, minimum * 2 ** min(failures, 30))
    return random.uniform(ceiling / 2, ceiling)


class Session:
    """An MQTT session with one application, reconnecting until stopped.

    `on_message(topic, payload)` and `on_state(state)` are called on the session's
    thread. The first attempt's result is a Future from start(); only after a first
    success does the session reconnect by itself, and never after an auth failure.
    """

    def __init__(
        self,
        settings: SessionSettings,
        *,
        on_message: Callable[[str, bytes], None],
        on_state: Callable[[SessionState], None] = lambda state: None,
    ) -> None:
        """Prepare the session; nothing connects until start()."""
        self.settings = settings
        self.stats = SessionStats()
        self._on_message = on_message
        self._on_state = on_state
        self._state = SessionState.STOPPED
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: _BufferedClient | None = None
        self._first_result: Future[ConnectResult] = Future()
        # Set on the session thread by paho's callbacks, read after each connection.
        self._result: ConnectResult | None = None

    @property
    def state(self) -> SessionState:
        """Return where the session is."""
        return self._state

    @property
    def _outcome(self) -> ConnectResult | None:
        """Return what the callbacks said of the connection so far.

        A property, so that mypy does not take the None set before the read loop for
        the value: paho's callbacks set it inside client.loop().
        """
        return self._result

    def start(self) -> Future[ConnectResult]:
        """Start connecting on the session's thread; return the first attempt's result."""
        self._thread = threading.Thread(
            target=self._run, name=f"ttn_mqtt {self.settings.uid}", daemon=True
        )
        self._thread.start()
        return self._first_result

    def stop(self, timeout: float = 10.0) -> None:
        """Disconnect and wait for the thread to end. Blocking: call it off the event loop."""
        self._stopping.set()
        if (client := self._client) is not None:
            client.disconnect()
        if self._thread is not None:
            self._thread.join(timeout)
        self._set_state(SessionState.STOPPED)

    def publish(self, topic: str, payload: bytes) -> bool:
        """Publish at QoS 0 when connected; return False, sending nothing, when not.

        QoS 0 on purpose: paho would keep a QoS 1 message and send it after a
        reconnect, and a downlink must not leave by surprise minutes later.
        """
        client = self._client
        if client is None or self._state is not SessionState.CONNECTED:
            return False
        info = client.publish(topic, payload, qos=0)
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    # Everything below runs on the session's thread.

    def _set_state(self, state: SessionState) -> None:
        if state is self._state:
            return
        self._state = state
        try:
            self._on_state(state)
        except Exception:
            _LOGGER.exception("Error in the session's state callback")

    def _build_client(self) -> _BufferedClient:
        settings = self.settings
        client = _BufferedClient(
            CallbackAPIVersion.VERSION2,
            client_id=f"ttn_mqtt-{uuid.uuid4().hex[:12]}",
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        client.username_pw_set(settings.uid, settings.api_key)
        client.connect_timeout = ATTEMPT_TIMEOUT
        if settings.use_tls:
            client.tls_set_context(client_ssl_context(settings.ca_pem))
        client.on_connect = self._handle_connect
        client.on_subscribe = self._handle_subscribe
        client.on_message = self._handle_message
        # With a write callback registered, paho's publish() from another thread only
        # queues the packet and wakes this thread's select(); it never writes itself.
        client.on_socket_register_write = lambda client, userdata, sock: None
        client.on_socket_open = _enlarge_receive_buffer
        return client

    def _run(self) -> None:
        failures = 0
        try:
            self._client = client = self._build_client()
        # TypeError: a CA that is not ASCII.
        except (ssl.SSLError, ValueError, TypeError) as err:
            self._finish_first(
                ConnectResult.CANNOT_CONNECT, f"TLS set-up failed: {err}"
            )
            return
        while not self._stopping.is_set():
            self._set_state(SessionState.CONNECTING)
            started = time.monotonic()
            result = self._connect_and_loop(client)
            lasted = time.monotonic() - started
            self._finish_first(result, self.stats.last_error)
            if self._stopping.is_set():
                break
            refused = result in (
                ConnectResult.INVALID_AUTH,
                ConnectResult.MISSING_RIGHTS,
            )
            if self._first_result.result() is not ConnectResult.CONNECTED:
                # Setup decides and retries by itself; the session only keeps a
                # working connection.
                self._set_state(
                    SessionState.AUTH_FAILED if refused else SessionState.DISCONNECTED
                )
                break
            if result is ConnectResult.MISSING_RIGHTS:
                self._set_state(SessionState.AUTH_FAILED)
                break
            self._set_state(
                SessionState.REFUSED
                if result is ConnectResult.INVALID_AUTH
                else SessionState.DISCONNECTED
            )
            failures = 0 if lasted >= STABLE_AFTER else failures + 1
            delay = _backoff_delay(failures, BACKOFF_MIN, BACKOFF_MAX)
            _LOGGER.debug("Reconnecting to %s in %.1f s", self.settings.host, delay)
            self._stopping.wait(delay)
            self.stats.reconnects += 1
        client.disconnect()

    def _finish_first(self, result: ConnectResult, error: str | None) -> None:
        if not self._first_result.done():
            if error and result is not ConnectResult.CONNECTED:
                _LOGGER.debug("First connection failed: %s", error)
            self._first_result.set_result(result)

    def _connect_and_loop(self, client: _BufferedClient) -> ConnectResult:
        """Connect, subscribe and read until the connection ends; return how it ended."""
        self._result = None
        settings = self.settings
        client.forget_buffer()
        try:
            client.connect(settings.host, settings.port, KEEPALIVE)
        except (OSError, ValueError) as err:
            # OSError covers refused, unreachable, DNS, timeouts and TLS (ssl.SSLError).
            self.stats.last_error = f"{type(err).__name__}: {err}"
            return ConnectResult.CANNOT_CONNECT
        deadline = time.monotonic() + ATTEMPT_TIMEOUT
        while not self._stopping.is_set():
            rc = client.loop(timeout=1.0)
            while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and client.buffered:
                rc = client.loop_read()
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                self.stats.disconnects += self._state is SessionState.CONNECTED
                if self._outcome is None:
                    self.stats.last_error = f"connection closed ({rc.name})"
                break
            if self._outcome is ConnectResult.MISSING_RIGHTS:
                break
            if self._outcome is None and time.monotonic() > deadline:
                self.stats.last_error = "no answer from the server"
                break
        client.disconnect()
        # A connection that subscribed and then dropped is a reason to reconnect, not
        # a failure; report it as CONNECTED so the first attempt counts as a success.
        return self._outcome or ConnectResult.CANNOT_CONNECT

    def _handle_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        if reason_code.is_failure:
            # str() is the reason's name (paho's getName() is not typed).
            name = str(reason_code)
            self.stats.last_error = f"CONNACK: {name}"
            if name in _AUTH_FAILURES:
                self._result = ConnectResult.INVALID_AUTH
            return
        # Sessions are never persistent on The Things Stack: subscribe on every connect.
        client.subscribe(
            [(topic, 0) for topic in subscription_topics(self.settings.uid)]
        )

    def _handle_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Any,
    ) -> None:
        if any(code.is_failure for code in reason_codes):
            self.stats.last_error = "subscription refused"
            self._result = ConnectResult.MISSING_RIGHTS
            return
        self._result = ConnectResult.CONNECTED
        self.stats.connects += 1
        self.stats.last_error = None
        self._set_state(SessionState.CONNECTED)
        self._finish_first(ConnectResult.CONNECTED, None)

    def _handle_message(
        self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage
    ) -> None:
        self.stats.messages += 1
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = ""  # not a topic of ours: the receiver counts and skips it
        try:
            self._on_message(topic, message.payload)
        except Exception:
            _LOGGER.exception("Error handling a message on %s", topic)
