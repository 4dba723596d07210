"""Payload generators: the bytes a device sends and what its payload formatter makes of them.

Each generator is called once per uplink and returns `(frm_payload bytes, decoded
payload or None)`. Values drift like real readings, from a `random.Random` so a seed
makes a run repeatable.
"""

from collections.abc import Callable
import random
import struct
from typing import Any

type DecodedPayload = dict[str, Any]
type PayloadGenerator = Callable[[], tuple[bytes, DecodedPayload | None]]


def _drift(
    rng: random.Random, value: float, step: float, low: float, high: float
) -> float:
    return min(high, max(low, value + rng.uniform(-step, step)))


class TemperatureHumidity:
    """A Dragino LHT65-like sensor: battery mV, temperature, humidity (11 bytes)."""

    def __init__(self, rng: random.Random) -> None:
        """Start from a comfortable room."""
        self._rng = rng
        self._temperature = rng.uniform(19.0, 23.0)
        self._humidity = rng.uniform(40.0, 55.0)
        self._battery_mv = rng.randint(3550, 3650)

    def __call__(self) -> tuple[bytes, DecodedPayload]:
        """Return the next reading."""
        rng = self._rng
        self._temperature = _drift(rng, self._temperature, 0.3, -20.0, 45.0)
        self._humidity = _drift(rng, self._humidity, 1.0, 5.0, 99.0)
        self._battery_mv = max(2500, self._battery_mv - rng.choice((0, 0, 0, 1)))
        temperature = round(self._temperature, 2)
        humidity = round(self._humidity, 1)
        # Battery status bits on top of the millivolts, then an unused external sensor.
        raw = struct.pack(
            ">HhHBI",
            0xC000 | self._battery_mv,
            round(temperature * 100),
            round(humidity * 10),
            0x01,
            0x7FFF7FFF,
        )
        decoded = {
            "temperature": temperature,
            "humidity": humidity,
            "battery": round(self._battery_mv / 1000, 3),
        }
        return raw, decoded


class DoorContact:
    """A door sensor: open flag, opening count, battery percentage (4 bytes)."""

    def __init__(self, rng: random.Random) -> None:
        """Start closed, with some history."""
        self._rng = rng
        self._open = False
        self._count = rng.randint(0, 500)
        self._battery = rng.randint(90, 100)

    def __call__(self) -> tuple[bytes, DecodedPayload]:
        """Report a state change, as a contact sensor does."""
        self._open = not self._open
        if self._open:
            self._count += 1
        if self._rng.random() < 0.05:
            self._battery = max(0, self._battery - 1)
        raw = struct.pack(">BHB", int(self._open), self._count, self._battery)
        decoded = {
            "door_open": self._open,
            "open_count": self._count,
            "battery": self._battery,
        }
        return raw, decoded


class GpsTracker:
    """A GPS tracker that wanders a few metres between fixes (12 bytes)."""

    def __init__(self, rng: random.Random) -> None:
        """Start near Amsterdam Centraal."""
        self._rng = rng
        self._latitude = 52.3791 + rng.uniform(-0.01, 0.01)
        self._longitude = 4.9003 + rng.uniform(-0.01, 0.01)
        self._altitude = rng.uniform(0.0, 20.0)
        self._battery = rng.uniform(3.9, 4.1)

    def __call__(self) -> tuple[bytes, DecodedPayload]:
        """Return the next fix."""
        rng = self._rng
        self._latitude += rng.uniform(-0.0003, 0.0003)
        self._longitude += rng.uniform(-0.0003, 0.0003)
        self._altitude = _drift(rng, self._altitude, 1.5, -5.0, 120.0)
        self._battery = max(3.3, self._battery - rng.uniform(0.0, 0.002))
        hdop = round(rng.uniform(0.7, 2.5), 1)
        latitude, longitude = round(self._latitude, 6), round(self._longitude, 6)
        altitude, battery = round(self._altitude, 1), round(self._battery, 2)
        raw = struct.pack(
            ">iihBB",
            round(latitude * 1e6),
            round(longitude * 1e6),
            round(altitude),
            round(hdop * 10),
            round(battery * 50),
        )
        decoded = {
            "latitude": latitude,
            "longitude": longitude,
            "altitude": altitude,
            "hdop": hdop,
            "battery": battery,
        }
        return raw, decoded


class MultiSensor:
    """A device whose formatter returns nested objects, arrays, strings and null."""

    def __init__(self, rng: random.Random) -> None:
        """Start at room temperature and standard pressure."""
        self._rng = rng
        self._temperature = rng.uniform(18.0, 24.0)
        self._pressure = rng.uniform(1005.0, 1020.0)
        self._uptime = rng.randint(1000, 100_000)

    def __call__(self) -> tuple[bytes, DecodedPayload]:
        """Return the next report."""
        rng = self._rng
        self._temperature = _drift(rng, self._temperature, 0.4, -10.0, 40.0)
        self._pressure = _drift(rng, self._pressure, 0.8, 950.0, 1050.0)
        self._uptime += rng.randint(290, 310)
        readings = [rng.randint(0, 255) for _ in range(3)]
        alarm = rng.random() < 0.1
        temperature, pressure = round(self._temperature, 1), round(self._pressure, 1)
        raw = struct.pack(
            ">hH3BBI",
            round(temperature * 10),
            round(pressure * 10),
            *readings,
            int(alarm),
            self._uptime,
        )
        decoded = {
            "sensor": {"temperature": temperature, "pressure": pressure},
            "readings": readings,
            "status": "alarm" if alarm else "ok",
            "flags": {"alarm": alarm, "tamper": False},
            "uptime_s": self._uptime,
            "last_error": None,
        }
        return raw, decoded


class RawBytes:
    """A device without a payload formatter: opaque bytes, no decoded payload."""

    def __init__(self, rng: random.Random, size: int = 8) -> None:
        """Send `size` bytes per uplink."""
        self._rng = rng
        self._size = size

    def __call__(self) -> tuple[bytes, None]:
        """Return random bytes and no decoded payload."""
        return self._rng.randbytes(self._size), None
