"""Hostile or broken input from the server side: nothing a sender controls freezes a device.

Each test here failed on the code before issue 15 ("Nothing freezes, nothing is lost").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import logging
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import orjson
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ttn_mqtt.protocol.storage import UplinkLedger

from .common import async_wait_for
from .uplinks import uplink_and_wait

pytestmark = pytest.mark.usefixtures("socket_enabled")

CONNECTIVITY = "binary_sensor.test_app_connection"
TEMPERATURE = "sensor.th_sensor_01_temperature"
GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def publish_stamped(
    network, ttn_app, device_id: str, received_at: str, **kwargs: Any
) -> dict[str, Any]:
    """Publish the device's next uplink stamped with received_at; return it."""
    message = network.build_uplink(device_id, **kwargs)
    message["received_at"] = received_at
    network.publish_raw(
        f"v3/{ttn_app.uid}/devices/{device_id}/up", orjson.dumps(message)
    )
    return message


async def test_an_uplink_from_the_future_does_not_freeze_the_device(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, ttn_app
) -> None:
    """A clock a day ahead: later uplinks still show, and the catch-up never skips ahead."""
    coordinator = init_integration.runtime_data
    tomorrow = dt_util.utcnow() + timedelta(days=1)
    publish_stamped(
        network,
        ttn_app,
        "th-sensor-01",
        rfc3339(tomorrow),
        decoded_payload={"temperature": 1.5},
    )
    await async_wait_for(lambda: coordinator.counters.uplinks == 1)
    assert hass.states.get(TEMPERATURE).state == "1.5"

    await uplink_and_wait(
        hass, network, "th-sensor-01", TEMPERATURE, decoded_payload={"temperature": 2.5}
    )
    assert hass.states.get(TEMPERATURE).state == "2.5"
    limit = dt_util.utcnow() + UplinkLedger.CLOCK_TOLERANCE
    assert coordinator.ledger.processed_until <= limit
    # Last seen is never in the future either.
    assert coordinator.devices["th-sensor-01"].last_seen <= dt_util.utcnow()


async def test_go_zero_time_is_no_time(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    broker,
    network,
    ttn_app,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """received_at 0001-01-01 is taken as absent: no error, the link state stays true."""
    coordinator = init_integration.runtime_data
    publish_stamped(
        network,
        ttn_app,
        "th-sensor-01",
        GO_ZERO_TIME,
        decoded_payload={"temperature": 3.5},
    )
    await async_wait_for(lambda: coordinator.counters.uplinks == 1)
    assert hass.states.get(TEMPERATURE).state == "3.5"

    # A reconnect starts a catch-up from the ledger, where the bad time would be.
    broker.kill()
    await async_wait_for(lambda: hass.states.get(CONNECTIVITY).state == "off")
    broker.restart()
    await async_wait_for(lambda: hass.states.get(CONNECTIVITY).state == "on", 10)
    assert coordinator.connected
    await uplink_and_wait(
        hass, network, "th-sensor-01", TEMPERATURE, decoded_payload={"temperature": 4.5}
    )
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_stored_ledger_with_go_zero_time_loads() -> None:
    """A ledger saved by 0.1.0 with Go's zero time loads without it, and works."""
    ledger = UplinkLedger.from_dict(
        {
            "processed_until": "0001-01-01T00:00:00+00:00",
            "keys": [["door-01", 1, "0001-01-01T00:00:00+00:00"]],
        }
    )
    assert ledger.processed_until is None
    assert ledger.start_catch_up() is None
    ledger.finish_catch_up()


async def test_a_late_join_does_not_take_last_seen_back(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, ttn_app
) -> None:
    """Joins and solved locations that arrive late keep the latest Last seen."""
    coordinator = init_integration.runtime_data
    topic = f"v3/{ttn_app.uid}/devices/th-sensor-01"
    join = network.join("th-sensor-01")
    located = network.solve_location("th-sensor-01", {"latitude": 1, "longitude": 2})
    await async_wait_for(lambda: "th-sensor-01" in coordinator.devices)
    device = coordinator.devices["th-sensor-01"]
    await async_wait_for(lambda: device.solved_location is not None)
    seen = device.last_seen

    # The same messages again, as if held back for an hour on the way.
    join["received_at"] = rfc3339(seen - timedelta(hours=1))
    network.publish_raw(f"{topic}/join", orjson.dumps(join))
    located["received_at"] = rfc3339(seen - timedelta(hours=2))
    located["location_solved"]["location"]["latitude"] = 3
    network.publish_raw(f"{topic}/location/solved", orjson.dumps(located))
    await async_wait_for(lambda: device.solved_location.latitude == 3)
    assert device.last_seen == seen
