"""The device list: with the right to read devices, they come before they report, and go.

The Identity Server is tests/auth_info_server.py, which lists what a test puts in its
`devices` to a key with RIGHT_APPLICATION_DEVICES_READ.
"""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.ttn_mqtt.const import DOMAIN
from custom_components.ttn_mqtt.inventory import INVENTORY_INTERVAL
from ttn_sim import Application, Network
from ttn_sim.devices import SimDevice

from .auth_info_server import DEVICES_READ, AuthInfoServer
from .common import async_wait_for
from .uplinks import uplink_and_wait

pytestmark = pytest.mark.usefixtures("socket_enabled")

BOTH_RIGHTS = {
    "RIGHT_APPLICATION_TRAFFIC_READ",
    "RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE",
}


@pytest.fixture
def ttn_app(request: pytest.FixtureRequest) -> Application:
    """The test application; its key may read devices unless the test says not."""
    rights = BOTH_RIGHTS
    if getattr(request, "param", "may read devices") == "may read devices":
        rights = {*BOTH_RIGHTS, DEVICES_READ}
    return Application("test-app", "ttn", rights=frozenset(rights))


def listed(device: SimDevice, app_id: str = "test-app") -> dict[str, Any]:
    """A simulated device as the Identity Server lists it."""
    entry: dict[str, Any] = {
        "ids": {
            "device_id": device.device_id,
            "application_ids": {"application_id": app_id},
            "dev_eui": device.dev_eui,
            "join_eui": device.join_eui,
        },
        "name": device.device_id.upper(),
    }
    if device.version_ids:
        entry["version_ids"] = device.version_ids
    return entry


def registered(hass: HomeAssistant, device_id: str) -> dr.DeviceEntry | None:
    """Return the device's registry entry, None if it has none."""
    identifier = (DOMAIN, f"test-app@ttn/{device_id}")
    registry = dr.async_get(hass)
    return next(
        (
            device
            for entry in hass.config_entries.async_entries(DOMAIN)
            for device in dr.async_entries_for_config_entry(registry, entry.entry_id)
            if identifier in device.identifiers
        ),
        None,
    )


async def next_listing(
    hass: HomeAssistant, entry: MockConfigEntry, auth_info: AuthInfoServer
) -> None:
    """Have the list read once more: the entry reads it when it starts."""
    before = auth_info.device_list_requests
    assert await hass.config_entries.async_reload(entry.entry_id)
    await async_wait_for(lambda: auth_info.device_list_requests > before)
    # The list is read and applied by a background task of the entry.
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_listed_devices_come_before_they_report(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    network: Network,
    auth_info: AuthInfoServer,
) -> None:
    """Each device gets its Home Assistant device, DevEUI, make and model at once."""
    auth_info.devices["test-app"] = [listed(d) for d in network.devices.values()]
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await async_wait_for(lambda: registered(hass, "raw-01") is not None)
    await hass.async_block_till_done()

    sensor = registered(hass, "th-sensor-01")
    assert sensor is not None
    assert (sensor.name, sensor.serial_number) == ("th-sensor-01", "A840410000000001")
    assert (sensor.manufacturer, sensor.model) == ("Dragino", "LHT65")
    assert registered(hass, "door-01").manufacturer is None
    # Its entities wait for its first uplink.
    assert hass.states.get("sensor.th_sensor_01_last_seen").state == "unknown"
    coordinator = config_entry.runtime_data
    assert set(coordinator.devices) == set(network.devices)

    # The first uplink says the rest.
    await uplink_and_wait(hass, network, "th-sensor-01")
    assert hass.states.get("sensor.th_sensor_01_temperature") is not None
    await hass.config_entries.async_unload(config_entry.entry_id)


async def test_a_device_deleted_on_the_server_is_removed(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    network: Network,
    auth_info: AuthInfoServer,
) -> None:
    """At the next listing, a device no longer listed goes with its entities."""
    auth_info.devices["test-app"] = [listed(d) for d in network.devices.values()]
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    await uplink_and_wait(hass, network, "door-01")
    assert registered(hass, "door-01") is not None

    auth_info.devices["test-app"] = [
        listed(d) for d in network.devices.values() if d.device_id != "door-01"
    ]
    await next_listing(hass, config_entry, auth_info)
    assert registered(hass, "door-01") is None
    assert hass.states.get("sensor.door_01_battery") is None
    assert "door-01" not in config_entry.runtime_data.devices
    assert registered(hass, "raw-01") is not None
    await hass.config_entries.async_unload(config_entry.entry_id)


async def test_a_list_that_cannot_be_read_removes_nothing(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    network: Network,
    auth_info: AuthInfoServer,
) -> None:
    """An Identity Server that is down is no reason to remove anything."""
    auth_info.devices["test-app"] = []
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    auth_info.unreachable = True
    await uplink_and_wait(hass, network, "door-01")
    await next_listing(hass, config_entry, auth_info)
    assert registered(hass, "door-01") is not None
    await hass.config_entries.async_unload(config_entry.entry_id)


async def test_a_long_list_is_read_page_by_page(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    network: Network,
    auth_info: AuthInfoServer,
) -> None:
    """101 devices: two pages of the list."""
    devices = [
        SimDevice(f"node-{number:03}", f"0011223344{number:06X}")
        for number in range(101)
    ]
    auth_info.devices["test-app"] = [listed(d) for d in devices]
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await async_wait_for(lambda: registered(hass, "node-100") is not None)
    assert auth_info.device_list_requests == 2
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(config_entry.entry_id)


@pytest.mark.parametrize("ttn_app", ["may not read devices"], indirect=True)
async def test_without_the_right_devices_come_and_stay_as_before(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    network: Network,
    auth_info: AuthInfoServer,
) -> None:
    """A key that may not read devices: none before its uplink, none removed after."""
    auth_info.devices["test-app"] = [listed(d) for d in network.devices.values()]
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert auth_info.device_list_requests == 1
    assert config_entry.runtime_data.devices == {}
    assert registered(hass, "door-01") is None

    await uplink_and_wait(hass, network, "door-01")
    auth_info.devices["test-app"] = []
    await next_listing(hass, config_entry, auth_info)
    assert registered(hass, "door-01") is not None
    await hass.config_entries.async_unload(config_entry.entry_id)


async def test_the_list_is_read_every_interval(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    network: Network,
    auth_info: AuthInfoServer,
) -> None:
    """Not only at start: again after INVENTORY_INTERVAL, and after each one."""
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert auth_info.device_list_requests == 1
    async_fire_time_changed(hass, dt_util.utcnow() + INVENTORY_INTERVAL)
    await async_wait_for(lambda: auth_info.device_list_requests == 2)
    await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()
