"""A simulated The Things Network application: a TTS-like MQTT broker and network server.

Used by the tests, the demo and the benchmarks; `python -m ttn_sim` runs one by hand.
"""

from .broker import Application, Broker, generate_api_key
from .devices import SimDevice, default_devices
from .messages import Gateway
from .network import GENERATE, Network
from .security import (
    RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE,
    RIGHT_APPLICATION_TRAFFIC_READ,
)

__all__ = [
    "GENERATE",
    "RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE",
    "RIGHT_APPLICATION_TRAFFIC_READ",
    "Application",
    "Broker",
    "Gateway",
    "Network",
    "SimDevice",
    "default_devices",
    "generate_api_key",
]
