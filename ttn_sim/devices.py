"""Simulated end devices: identities, radio settings, payloads and downlink behaviour."""

from dataclasses import dataclass, field
import random
import re
from typing import Literal

from .broker import check_id
from .payloads import (
    DoorContact,
    GpsTracker,
    MultiSensor,
    PayloadGenerator,
    RawBytes,
    TemperatureHumidity,
)

type DownlinkBehaviour = Literal["ack", "nack", "fail"]

_EUI_PATTERN = re.compile(r"^[0-9A-F]{16}$")

# EU868 (LoRaWAN Regional Parameters): data rate -> (spreading factor, bandwidth,
# largest FRMPayload without MAC options).
EU868_DATA_RATES: dict[int, tuple[int, int, int]] = {
    0: (12, 125_000, 51),
    1: (11, 125_000, 51),
    2: (10, 125_000, 51),
    3: (9, 125_000, 115),
    4: (8, 125_000, 242),
    5: (7, 125_000, 242),
    6: (7, 250_000, 242),
}

DEFAULT_JOIN_EUI = "70B3D57ED0000000"


@dataclass
class SimDevice:
    """One end device as the simulated network knows it.

    `downlink_behaviour`: "ack" (a confirmed downlink is acknowledged), "nack" (it is
    not) or "fail" (every downlink fails at transmission). Mutable, so a test may change
    a device's behaviour or data rate while the network runs.
    """

    device_id: str
    dev_eui: str
    join_eui: str = DEFAULT_JOIN_EUI
    payload: PayloadGenerator = field(default_factory=lambda: RawBytes(random.Random()))
    version_ids: dict[str, str] | None = None
    f_port: int = 1
    data_rate: int = 5
    downlink_behaviour: DownlinkBehaviour = "ack"

    def __post_init__(self) -> None:
        """Refuse ids and EUIs TTN would refuse."""
        check_id("device id", self.device_id)
        for name in ("dev_eui", "join_eui"):
            if not _EUI_PATTERN.match(getattr(self, name)):
                raise ValueError(f"invalid {name}: {getattr(self, name)!r}")
        if self.data_rate not in EU868_DATA_RATES:
            raise ValueError(f"unknown EU868 data rate: {self.data_rate}")

    @property
    def spreading_factor(self) -> int:
        """LoRa spreading factor of the device's data rate."""
        return EU868_DATA_RATES[self.data_rate][0]

    @property
    def bandwidth(self) -> int:
        """LoRa bandwidth in Hz of the device's data rate."""
        return EU868_DATA_RATES[self.data_rate][1]

    @property
    def max_downlink_size(self) -> int:
        """Largest downlink FRMPayload in bytes at the device's data rate."""
        return EU868_DATA_RATES[self.data_rate][2]


def default_devices(seed: int | None = None) -> list[SimDevice]:
    """Return the demo fleet; with a seed, every run produces the same readings."""

    def rng(device_id: str) -> random.Random:
        return (
            random.Random(f"{seed}:{device_id}")
            if seed is not None
            else random.Random()
        )

    return [
        SimDevice(
            "th-sensor-01",
            "A840410000000001",
            payload=TemperatureHumidity(rng("th-sensor-01")),
            version_ids={
                "brand_id": "dragino",
                "model_id": "lht65",
                "hardware_version": "_unknown_hw_version_",
                "firmware_version": "1.8",
                "band_id": "EU_863_870",
            },
            f_port=2,
            data_rate=5,
        ),
        SimDevice(
            "door-01",
            "A840410000000002",
            payload=DoorContact(rng("door-01")),
            f_port=10,
            data_rate=3,
        ),
        SimDevice(
            "gps-tracker-01",
            "A840410000000003",
            payload=GpsTracker(rng("gps-tracker-01")),
            version_ids={
                "brand_id": "dragino",
                "model_id": "lgt92",
                "hardware_version": "_unknown_hw_version_",
                "firmware_version": "1.6.4",
                "band_id": "EU_863_870",
            },
            f_port=2,
            data_rate=0,
        ),
        SimDevice(
            "multi-01",
            "A840410000000004",
            payload=MultiSensor(rng("multi-01")),
            data_rate=5,
        ),
        SimDevice(
            "raw-01",
            "A840410000000005",
            payload=RawBytes(rng("raw-01")),
            data_rate=2,
        ),
    ]
