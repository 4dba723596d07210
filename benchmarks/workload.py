"""The benchmark's uplinks, generated once per run, and a publisher that sends them as they are.

Each uplink is a full TTS `ApplicationUp` as ttn_sim builds it (rx_metadata of one or
two gateways, settings, correlation ids: about 2 KB of JSON), whose decoded payload
has 8 fields: four numbers, a boolean, a nested location, a string and `seq`, a number
unique to the uplink that tells the measurement which uplink a state write came from.
Every field changes on every uplink of a device, so every field's entity is updated.

The uplinks are encoded as MQTT PUBLISH packets before anything is measured, and sent
over a plain socket: the publisher costs next to nothing while the targets run, and
every target gets the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
import json
import random
import socket
import time

from ttn_sim import Application, SimDevice
from ttn_sim.messages import DEFAULT_GATEWAYS, new_session, uplink_message

APP_ID = "bench-app"
SEED = 20250404
MODES = ("periodic", "motion", "button")
# Each uplink is heard by one or both: about 2 KB on average.
GATEWAYS = DEFAULT_GATEWAYS[:2]


@dataclass(frozen=True)
class Workload:
    """Every uplink of a run, as PUBLISH packets; an uplink's seq is its index here."""

    app: Application
    device_ids: tuple[str, ...]
    packets: tuple[bytes, ...]
    payload_bytes: int
    warmup: range
    burst: range
    steady: range

    def topic(self, device_id: str) -> str:
        """Return the topic of a device's uplinks."""
        return f"v3/{self.app.uid}/devices/{device_id}/up"

    def device_of(self, seq: int) -> str:
        """Return the device that sent an uplink (uplinks go round the devices)."""
        return self.device_ids[seq % len(self.device_ids)]


class Readings:
    """One device's decoded payloads: every field changes from one uplink to the next."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.temperature = round(rng.uniform(18.0, 24.0), 2)
        self.humidity = round(rng.uniform(35.0, 60.0), 1)
        self.co2 = rng.randint(450, 900)
        self.battery = round(rng.uniform(3.3, 3.65), 3)
        self.door_open = rng.random() < 0.5
        self.latitude = round(rng.uniform(52.30, 52.42), 6)
        self.longitude = round(rng.uniform(4.80, 4.98), 6)
        self.mode = rng.randrange(len(MODES))

    def next(self, seq: int) -> dict[str, object]:
        rng = self._rng
        self.temperature = _step(self.temperature, rng.uniform(0.01, 0.3), rng, 2)
        self.humidity = _step(self.humidity, rng.uniform(0.1, 1.0), rng, 1)
        self.co2 = _step(self.co2, rng.randint(1, 25), rng, None)
        self.battery = _step(self.battery, 0.001, rng, 3)
        self.door_open = not self.door_open
        # GPS noise around where the device stands.
        self.latitude = _step(self.latitude, rng.uniform(1e-6, 2e-5), rng, 6)
        self.longitude = _step(self.longitude, rng.uniform(1e-6, 2e-5), rng, 6)
        self.mode = (self.mode + 1) % len(MODES)
        return {
            "temperature": self.temperature,
            "humidity": self.humidity,
            "co2": self.co2,
            "battery": self.battery,
            "door_open": self.door_open,
            "location": {"latitude": self.latitude, "longitude": self.longitude},
            "mode": MODES[self.mode],
            "seq": seq,
        }


def _step[N: (int, float)](
    value: N, step: N, rng: random.Random, digits: int | None
) -> N:
    moved = value + step if rng.random() < 0.5 else value - step
    return moved if digits is None else round(moved, digits)


def generate(
    devices: int,
    burst: int,
    steady: int,
    *,
    warmup_rate: float,
    burst_rate: float,
    steady_rate: float,
) -> Workload:
    """Generate one warm-up uplink per device, then the burst, then the fixed-rate part.

    Each uplink's received_at is when it is to be published, as if the server had
    just received it: in publish order, spaced by each part's rate.
    """
    rng = random.Random(SEED)
    app = Application(APP_ID, "ttn")
    sim_devices = [
        SimDevice(
            f"bench-{index:04d}",
            f"A84041{0x100000 + index:010X}",
            version_ids={
                "brand_id": "dragino",
                "model_id": "lht65",
                "hardware_version": "_unknown_hw_version_",
                "firmware_version": "1.8",
                "band_id": "EU_863_870",
            },
            f_port=2,
        )
        for index in range(devices)
    ]
    sessions = [new_session(rng, f_cnt=rng.randint(1, 400)) for _ in sim_devices]
    readings = [Readings(random.Random(f"{SEED}:{index}")) for index in range(devices)]
    total = devices + burst + steady
    spacing = (
        [round(1e9 / warmup_rate)] * devices
        + [round(1e9 / burst_rate)] * burst
        + [round(1e9 / steady_rate)] * steady
    )
    received_ns = time.time_ns() - sum(spacing)
    packets: list[bytes] = []
    payload_bytes = 0
    for seq in range(total):
        received_ns += spacing[seq]
        index = seq % devices
        device, session = sim_devices[index], sessions[index]
        decoded = readings[index].next(seq)
        message = uplink_message(
            app,
            device,
            session,
            rng.randbytes(11),
            decoded,
            rng=rng,
            gateways=GATEWAYS,
            now_ns=received_ns,
        )
        session.f_cnt += 1
        payload = json.dumps(message).encode()
        payload_bytes += len(payload)
        packets.append(
            publish_packet(f"v3/{app.uid}/devices/{device.device_id}/up", payload)
        )
    return Workload(
        app=app,
        device_ids=tuple(device.device_id for device in sim_devices),
        packets=tuple(packets),
        payload_bytes=payload_bytes // total,
        warmup=range(devices),
        burst=range(devices, devices + burst),
        steady=range(devices + burst, total),
    )


def _remaining_length(length: int) -> bytes:
    encoded = bytearray()
    while True:
        length, digit = divmod(length, 128)
        encoded.append(digit | (0x80 if length else 0))
        if not length:
            return bytes(encoded)


def _string(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def publish_packet(topic: str, payload: bytes) -> bytes:
    """Return an MQTT 3.1.1 PUBLISH packet at QoS 0."""
    body = _string(topic) + payload
    return b"\x30" + _remaining_length(len(body)) + body


class Publisher:
    """A bare MQTT 3.1.1 client that only publishes ready-made packets."""

    def __init__(self, host: str, port: int, username: str, password: str) -> None:
        self._address = (host, port)
        self._username = username
        self._password = password
        self._sock: socket.socket | None = None

    def __enter__(self) -> Publisher:
        sock = socket.create_connection(self._address, timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Username, password, clean session; keepalive 0: no pings to answer.
        variable = _string("MQTT") + bytes([4, 0xC2, 0, 0])
        payload = (
            _string(f"bench-publisher-{time.monotonic_ns():x}")
            + _string(self._username)
            + _string(self._password)
        )
        body = variable + payload
        sock.sendall(b"\x10" + _remaining_length(len(body)) + body)
        connack = _read_exactly(sock, 4)
        if connack[0] != 0x20 or connack[3] != 0:
            sock.close()
            raise RuntimeError(f"the broker refused the publisher: {connack.hex()}")
        sock.settimeout(None)
        self._sock = sock
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._sock is not None:
            try:
                self._sock.sendall(b"\xe0\x00")
            finally:
                self._sock.close()
                self._sock = None

    def send(self, packets: bytes) -> None:
        """Send packets (one, or many joined) now; block until the kernel took them."""
        assert self._sock is not None
        self._sock.sendall(packets)


def chunks(packets: tuple[bytes, ...], seqs: range, size: int) -> Iterator[bytes]:
    """Join the packets of seqs into pieces of `size` packets, for a burst."""
    for start in range(seqs.start, seqs.stop, size):
        yield b"".join(packets[start : min(start + size, seqs.stop)])


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise RuntimeError("the broker closed the connection")
        data += chunk
    return data
