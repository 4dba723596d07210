"""Binary sensors: boolean fields, with a device class from their name."""

from __future__ import annotations

from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .uplinks import send_decoder_output, shows, uplink_and_wait

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def test_door_contact(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """door-01's `door_open` is a door binary sensor that follows each uplink."""
    for _ in range(2):
        sent = await uplink_and_wait(hass, network, "door-01")
        is_open = sent["uplink_message"]["decoded_payload"]["door_open"]
        assert shows(hass, "binary_sensor.door_01_door_open")[:3] == (
            STATE_ON if is_open else STATE_OFF,
            None,
            "door",
        )
    entry = er.async_get(hass).async_get("binary_sensor.door_01_door_open")
    assert entry.unique_id == "test-app@ttn/door-01/field_door_open"
    # The application's own connection sensor is still there.
    assert hass.states.get("binary_sensor.test_app_connection").state == STATE_ON


async def test_nested_flags(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """multi-01's nested `flags` become a problem and a tamper binary sensor."""
    sent = await uplink_and_wait(hass, network, "multi-01")
    flags = sent["uplink_message"]["decoded_payload"]["flags"]
    assert shows(hass, "binary_sensor.multi_01_flags_alarm")[:3] == (
        STATE_ON if flags["alarm"] else STATE_OFF,
        None,
        "problem",
    )
    assert shows(hass, "binary_sensor.multi_01_flags_tamper")[:3] == (
        STATE_OFF,
        None,
        "tamper",
    )


async def test_sensecap_valid_flag(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """A boolean with no telling name is a binary sensor without a device class."""
    await send_decoder_output(hass, network, "raw-01", "sensecap_s2120")
    assert shows(hass, "binary_sensor.raw_01_valid")[:3] == (STATE_ON, None, None)


async def test_type_changes_and_hints(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """A boolean turned number shows unknown; a decoder hint sets the class; 0/1 stay numbers."""
    decoded = {
        "leak": True,
        "button": False,
        "relay": 1,
        "_sensor_attr": {"button": {"device_class": "running"}},
    }
    await uplink_and_wait(hass, network, "raw-01", decoded_payload=decoded)
    assert shows(hass, "binary_sensor.raw_01_leak")[::2] == (STATE_ON, "moisture")
    assert shows(hass, "binary_sensor.raw_01_button")[::2] == (STATE_OFF, "running")
    assert hass.states.get("binary_sensor.raw_01_relay") is None
    assert shows(hass, "sensor.raw_01_relay")[0] == "1"

    await uplink_and_wait(
        hass, network, "raw-01", decoded_payload={"leak": 1, "button": None}
    )
    assert hass.states.get("binary_sensor.raw_01_leak").state == STATE_UNKNOWN
    assert hass.states.get("binary_sensor.raw_01_button").state == STATE_UNKNOWN
    assert hass.states.get("sensor.raw_01_leak") is None

    await uplink_and_wait(hass, network, "raw-01", decoded_payload={"leak": False})
    assert hass.states.get("binary_sensor.raw_01_leak").state == STATE_OFF
