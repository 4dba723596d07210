"""F, Home Assistant's floor: the least any integration pays to show T's entities.

It reads the uplinks as ttn_mqtt does (paho on a thread of its own, reading the socket
in large pieces; the messages handed to the event loop in batches), parses each with
orjson and writes the same entities as ttn_mqtt, with the same registry entries, unique
ids and devices, each value taken straight from the decoded payload: no flattening, no
name table, no ledger, no store, no events. A device's entities share one context per
uplink, as ttn_mqtt's do: the one reference cycle per uplink is not counted as ours.

After a restart it finds its devices in the device registry and their values in Home
Assistant's restored states. Set up from a config entry that benchmarks/ha_config.py
writes; its manifest is written there too (see MANIFESTS).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
import contextlib
import socket
import threading
from time import monotonic
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Context, Event, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.entity import Entity
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

DOMAIN = "bench_floor"
# In ttn_mqtt's order: Home Assistant adds the platforms' entities in this order, and a
# start is over when the last sensor is back.
PLATFORMS = (
    Platform.BINARY_SENSOR,
    Platform.DEVICE_TRACKER,
    Platform.EVENT,
    Platform.SENSOR,
)
# As ttn_mqtt: link.py's DRAIN_BATCH and DRAIN_BUDGET, protocol/session.py's
# RECEIVE_BUFFER and READ_CHUNK.
DRAIN_BATCH = 200
DRAIN_BUDGET = 0.02
RECEIVE_BUFFER = 8 * 1024 * 1024
READ_CHUNK = 256 * 1024

type Decoded = dict[str, Any]
# A platform's entities for a device: made from its first decoded payload, or from
# nothing when restored.
type EntityMaker = Callable[[str, Decoded | None], list[FloorEntity]]


class FloorEntity(Entity):
    """An entity of an end device: set from each decoded payload and written."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, floor: Floor, device_id: str, key: str) -> None:
        """Attach the entity to its device, with ttn_mqtt's unique id."""
        self._attr_unique_id = f"{floor.uid}/{device_id}/{key}"
        self._attr_device_info = dr.DeviceInfo(
            identifiers={(DOMAIN, f"{floor.uid}/{device_id}")}
        )
        self._added = False

    async def async_added_to_hass(self) -> None:
        """Take uplinks from now on."""
        self._added = True

    def take(self, decoded: Decoded) -> bool:
        """Set the state from a decoded payload; return whether there is one to write."""
        return False

    @callback
    def write(self, decoded: Decoded, context: Context) -> None:
        """Write the state an uplink gives, in the uplink's context."""
        if self.take(decoded) and self._added:
            self.async_set_context(context)
            self.async_write_ha_state()


class _BufferedClient(mqtt.Client):
    """paho's client reading the socket in large pieces, as ttn_mqtt's session does."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._chunk = b""
        self._offset = 0

    @property
    def buffered(self) -> bool:
        return self._offset < len(self._chunk)

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._offset >= len(self._chunk):
            self._chunk = super()._sock_recv(READ_CHUNK)
            self._offset = 0
        data = self._chunk[self._offset : self._offset + bufsize]
        self._offset += len(data)
        return data


def _enlarge_receive_buffer(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)


class Floor:
    """One entry: the connection, the devices and their entities."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        self.hass = hass
        self.entry = entry
        self.uid: str = entry.data["uid"]
        self.connected = False
        self.makers: list[tuple[EntityMaker, Callable[[list[FloorEntity]], None]]] = []
        self.entities: dict[str, list[FloorEntity]] = {}
        self.restored: list[str] = []
        self._inbox: deque[bytes] = deque()
        self._drain_scheduled = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._subscribed = asyncio.get_running_loop().create_future()

    def restored_devices(self) -> list[str]:
        """Register the application; return the end devices the registry has."""
        registry = dr.async_get(self.hass)
        registry.async_get_or_create(
            config_entry_id=self.entry.entry_id,
            identifiers={(DOMAIN, self.uid)},
            name=self.entry.data["app_id"],
            manufacturer="The Things Network",
            model="Application",
            entry_type=dr.DeviceEntryType.SERVICE,
        )
        prefix = f"{self.uid}/"
        return [
            identifier.removeprefix(prefix)
            for device in dr.async_entries_for_config_entry(
                registry, self.entry.entry_id
            )
            for domain, identifier in device.identifiers
            if domain == DOMAIN and identifier.startswith(prefix)
        ]

    @callback
    def add_platform(
        self,
        make: EntityMaker,
        add: Callable[[list[FloorEntity]], None],
    ) -> None:
        """Make a platform's entities for the restored devices, then for new ones."""
        self.makers.append((make, add))
        entities = []
        for device_id in self.restored:
            made = make(device_id, None)
            self.entities.setdefault(device_id, []).extend(made)
            entities.extend(made)
        add(entities)

    # Reading: paho on its own thread; the event loop takes messages in batches.

    async def async_start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=DOMAIN, daemon=True)
        self._thread.start()
        await asyncio.wait_for(self._subscribed, 30)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        data = self.entry.data
        client = _BufferedClient(CallbackAPIVersion.VERSION2, client_id=DOMAIN)
        client.username_pw_set(data["username"], data["password"])
        client.on_socket_open = _enlarge_receive_buffer
        client.on_socket_register_write = lambda *_: None
        client.on_connect = lambda client, *_: client.subscribe(
            f"v3/{self.uid}/devices/+/up"
        )
        client.on_subscribe = lambda *_: self.hass.loop.call_soon_threadsafe(
            self._set_subscribed
        )
        client.on_message = lambda client, userdata, message: self._receive(
            message.payload
        )
        client.connect(data["host"], data["port"], 20)
        while not self._stopping.is_set():
            rc = client.loop(timeout=1.0)
            while rc == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS and client.buffered:
                rc = client.loop_read()
        client.disconnect()

    def _set_subscribed(self) -> None:
        self.connected = True
        if not self._subscribed.done():
            self._subscribed.set_result(None)

    def _receive(self, payload: bytes) -> None:
        self._inbox.append(payload)
        if not self._drain_scheduled:
            self._drain_scheduled = True
            self.hass.loop.call_soon_threadsafe(self._drain)

    @callback
    def _drain(self) -> None:
        self._drain_scheduled = False
        inbox = self._inbox
        deadline = monotonic() + DRAIN_BUDGET
        for _ in range(DRAIN_BATCH):
            if not inbox or monotonic() > deadline:
                break
            self._apply(inbox.popleft())
        if inbox and not self._drain_scheduled:
            self._drain_scheduled = True
            self.hass.loop.call_soon(self._drain)

    # Applying: the decoded payload, straight to the device's entities.

    @callback
    def _apply(self, payload: bytes) -> None:
        body = orjson.loads(payload)
        uplink = body["uplink_message"]
        decoded = uplink.get("decoded_payload")
        if decoded is None:
            return
        device_id = body["end_device_ids"]["device_id"]
        entities = self.entities.get(device_id)
        if entities is None:
            self._add_device(device_id, body, decoded)
            return
        context = Context()
        for entity in entities:
            entity.write(decoded, context)

    def _add_device(self, device_id: str, body: Decoded, decoded: Decoded) -> None:
        version = body["uplink_message"].get("version_ids") or {}
        dr.async_get(self.hass).async_get_or_create(
            config_entry_id=self.entry.entry_id,
            identifiers={(DOMAIN, f"{self.uid}/{device_id}")},
            name=device_id,
            serial_number=body["end_device_ids"].get("dev_eui"),
            manufacturer=version.get("brand_id"),
            model=version.get("model_id"),
            sw_version=version.get("firmware_version"),
            via_device=(DOMAIN, self.uid),
        )
        made = self.entities[device_id] = []
        for make, add in self.makers:
            entities = make(device_id, decoded)
            made.extend(entities)
            add(entities)


async def async_setup_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Set up the devices the registry has, then read uplinks."""
    floor = entry.runtime_data = Floor(hass, entry)
    floor.restored = floor.restored_devices()
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    await floor.async_start()

    async def stop(_event: Event | None = None) -> None:
        await hass.async_add_executor_job(floor.stop)

    entry.async_on_unload(hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, stop))
    return True
