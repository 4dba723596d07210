"""Diagnostics, downloaded as a user does: secrets and positions out, everything else in."""

from __future__ import annotations

import json
from typing import Any

from homeassistant.components.diagnostics import REDACTED
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
    get_diagnostics_for_device,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from .common import async_wait_for, registry_device
from .uplinks import send_downlink

pytestmark = pytest.mark.usefixtures("socket_enabled")


def _gateway_locations(uplink: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        metadata["location"] for metadata in uplink["uplink_message"]["rx_metadata"]
    ]


async def _send_confirmed_downlink(hass: HomeAssistant, coordinator) -> None:
    """Send a confirmed downlink to th-sensor-01 and wait until it is acknowledged."""
    await send_downlink(
        hass,
        device_id=coordinator.devices["th-sensor-01"].ha_device_id,
        f_port=5,
        payload="01 ff",
        confirmed=True,
    )
    await async_wait_for(lambda: coordinator.counters.downlinks["ack"] == 1)


async def test_entry_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
    network,
    ttn_app,
) -> None:
    """The download holds the link, the counters and each device's latest uplink."""
    coordinator = init_integration.runtime_data
    network.uplink("th-sensor-01")
    sent = network.uplink("th-sensor-01")
    tracker = network.uplink("gps-tracker-01")
    network.publish_raw(f"v3/{ttn_app.uid}/devices/door-01/up", b"{not json")
    await async_wait_for(
        lambda: coordinator.counters.uplinks == 3 and coordinator.counters.malformed
    )
    await _send_confirmed_downlink(hass, coordinator)

    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, init_integration
    )

    dump = json.dumps(diagnostics)
    assert ttn_app.api_key not in dump
    assert diagnostics["entry"]["data"]["api_key"] == REDACTED
    assert diagnostics["entry"]["data"]["app_id"] == "test-app"

    connection = diagnostics["connection"]
    assert connection["connected"] is True
    assert connection["link_available"] is True
    assert connection["session_state"] == "connected"
    assert connection["connects"] == 1
    assert connection["reconnects"] == 0
    assert connection["last_error"] is None
    # Three uplinks, the bad message and three downlink events.
    assert connection["messages"] == 7

    counters = diagnostics["counters"]
    assert counters["uplinks"] == 3
    assert counters["malformed"] == 1
    assert counters["downlinks"] == {
        "queued": 1,
        "sent": 1,
        "ack": 1,
        "nack": 0,
        "failed": 0,
        "invalidated": 0,
    }

    assert set(diagnostics["devices"]) == {"th-sensor-01", "gps-tracker-01"}
    sensor = diagnostics["devices"]["th-sensor-01"]
    latest = sensor["latest_uplink"]
    assert latest["correlation_ids"] == sent["correlation_ids"]
    assert latest["end_device_ids"] == sent["end_device_ids"]
    assert latest["uplink_message"]["f_cnt"] == sent["uplink_message"]["f_cnt"]
    assert (
        latest["uplink_message"]["frm_payload"] == sent["uplink_message"]["frm_payload"]
    )
    assert (
        latest["uplink_message"]["decoded_payload"]
        == sent["uplink_message"]["decoded_payload"]
    )
    assert sensor["fields"] == sent["uplink_message"]["decoded_payload"]
    assert sensor["last_seen"] is not None
    assert sensor["latest_downlink_event"]["downlink_ack"]["f_port"] == 5
    # Gateways' positions are redacted like a device's, their ids are kept.
    for location in _gateway_locations(latest):
        assert location["latitude"] == REDACTED
        assert location["longitude"] == REDACTED
        assert location["altitude"] is not None

    position = tracker["uplink_message"]["decoded_payload"]
    gps = diagnostics["devices"]["gps-tracker-01"]
    assert gps["fields"]["latitude"] == REDACTED
    assert gps["fields"]["longitude"] == REDACTED
    assert gps["fields"]["battery"] == position["battery"]
    uplink_message = gps["latest_uplink"]["uplink_message"]
    assert uplink_message["decoded_payload"]["latitude"] == REDACTED
    assert uplink_message["locations"]["frm-payload"]["longitude"] == REDACTED
    # Its bytes encode the same position.
    assert uplink_message["frm_payload"] == REDACTED
    assert str(position["latitude"]) not in dump
    assert str(position["longitude"]) not in dump
    assert tracker["uplink_message"]["frm_payload"] not in dump


async def test_positions_are_redacted_however_their_keys_are_written(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
    network,
) -> None:
    """camelCase coordinates, which the tracker shows, are redacted like any other."""
    coordinator = init_integration.runtime_data
    sent = network.uplink(
        "raw-01",
        decoded_payload={
            "gpsLatitude": 52.123456,
            "gpsLongitude": 4.654321,
            "batteryLevel": 87,
        },
    )
    await async_wait_for(
        lambda: (
            (state := hass.states.get("device_tracker.raw_01_location")) is not None
            and state.attributes["latitude"] == 52.123456
        )
    )

    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, init_integration
    )

    device = diagnostics["devices"]["raw-01"]
    assert device["fields"] == {
        "gpsLatitude": REDACTED,
        "gpsLongitude": REDACTED,
        "batteryLevel": 87,
    }
    uplink_message = device["latest_uplink"]["uplink_message"]
    assert uplink_message["decoded_payload"]["gpsLongitude"] == REDACTED
    assert uplink_message["frm_payload"] == REDACTED
    dump = json.dumps(diagnostics)
    assert "52.123456" not in dump
    assert "4.654321" not in dump
    assert sent["uplink_message"]["frm_payload"] not in dump
    assert coordinator.counters.uplinks == 1


async def test_reconnects_are_counted(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
    broker,
) -> None:
    """A lost and regained connection shows in the connection's counters."""
    coordinator = init_integration.runtime_data
    broker.restart()
    await async_wait_for(lambda: coordinator.session.stats.connects == 2, timeout=10)

    connection = (
        await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    )["connection"]

    assert connection["connected"] is True
    assert connection["connects"] == 2
    assert connection["disconnects"] == 1
    assert connection["reconnects"] >= 1


async def test_device_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
    network,
    ttn_app,
) -> None:
    """An end device's download holds its own data; the application's, the counters."""
    coordinator = init_integration.runtime_data
    sent = network.uplink("th-sensor-01")
    network.uplink("door-01")
    await async_wait_for(lambda: coordinator.counters.uplinks == 2)
    device = registry_device(hass, coordinator.device_identifier("th-sensor-01"))
    application = registry_device(hass, coordinator.application_identifier)

    diagnostics = await get_diagnostics_for_device(
        hass, hass_client, init_integration, device
    )

    assert diagnostics["device_id"] == "th-sensor-01"
    assert diagnostics["connection"]["connected"] is True
    latest = diagnostics["device"]["latest_uplink"]
    assert latest["correlation_ids"] == sent["correlation_ids"]
    assert "door-01" not in json.dumps(diagnostics)

    diagnostics = await get_diagnostics_for_device(
        hass, hass_client, init_integration, application
    )

    assert diagnostics["counters"]["uplinks"] == 2
    assert diagnostics["connection"]["session_state"] == "connected"
    assert ttn_app.api_key not in json.dumps(diagnostics)


async def test_a_solved_position_is_redacted(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
    network,
) -> None:
    """Where a location solver placed a device is in its diagnostics, redacted."""
    network.solve_location(
        "door-01", {"latitude": 52.371234, "longitude": 4.891234, "accuracy": 40}
    )
    await async_wait_for(
        lambda: hass.states.get("device_tracker.door_01_location") is not None
    )

    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, init_integration
    )

    assert diagnostics["devices"]["door-01"]["solved_location"] == {
        "latitude": REDACTED,
        "longitude": REDACTED,
        "altitude": None,
        "accuracy": 40,
    }
    assert "52.371234" not in json.dumps(diagnostics)
