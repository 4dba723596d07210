"""Device trackers: a position from the decoded payload or the uplink's locations."""

from __future__ import annotations

from homeassistant.const import ATTR_GPS_ACCURACY, ATTR_LATITUDE, ATTR_LONGITUDE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .common import async_wait_for
from .uplinks import send_decoder_output, uplink_and_wait

pytestmark = pytest.mark.usefixtures("socket_enabled")

TRACKER = "device_tracker.gps_tracker_01_location"


def position(hass: HomeAssistant, entity_id: str) -> tuple[float, float]:
    """Return the latitude and longitude a tracker shows."""
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.attributes[ATTR_LATITUDE], state.attributes[ATTR_LONGITUDE]


async def test_tracker_moves_with_each_uplink(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """gps-tracker-01 gets a GPS tracker that follows its next fix."""
    first = await uplink_and_wait(hass, network, "gps-tracker-01")
    fix = first["uplink_message"]["decoded_payload"]
    state = hass.states.get(TRACKER)
    assert position(hass, TRACKER) == (fix["latitude"], fix["longitude"])
    assert state.state == "not_home"
    assert state.attributes["source_type"] == "gps"
    assert state.attributes["altitude"] == fix["altitude"]
    # hdop has no unit: an attribute, and an estimate of the accuracy (not a
    # perfect 0 m) when the payload has no accuracy of its own.
    assert state.attributes["hdop"] == fix["hdop"]
    assert state.attributes[ATTR_GPS_ACCURACY] == round(fix["hdop"] * 5)
    assert state.attributes[ATTR_GPS_ACCURACY] > 0
    # What the recorder leaves out: hdop changes with every fix.
    assert state.state_info is not None
    assert state.state_info["unrecorded_attributes"] >= {"hdop"}
    assert ATTR_LATITUDE not in state.state_info["unrecorded_attributes"]
    entry = er.async_get(hass).async_get(TRACKER)
    assert entry.unique_id == "test-app@ttn/gps-tracker-01/location"
    assert entry.entity_category is None

    second = await uplink_and_wait(hass, network, "gps-tracker-01", TRACKER)
    fix = second["uplink_message"]["decoded_payload"]
    assert position(hass, TRACKER) == (fix["latitude"], fix["longitude"])


async def test_no_fix_keeps_the_last_position(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """0, 0 is a GPS module without a fix: the tracker stays where it was."""
    await uplink_and_wait(
        hass,
        network,
        "raw-01",
        decoded_payload={"lat": 51.5, "lng": -0.12, "accuracy": 7.6},
    )
    tracker = "device_tracker.raw_01_location"
    assert position(hass, tracker) == (51.5, -0.12)
    assert hass.states.get(tracker).attributes[ATTR_GPS_ACCURACY] == 8
    await uplink_and_wait(hass, network, "raw-01", decoded_payload={"lat": 0, "lng": 0})
    assert position(hass, tracker) == (51.5, -0.12)


async def test_cayenne_gps_channel(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """Cayenne LPP's nested `gps_12` makes a tracker with its altitude."""
    await send_decoder_output(hass, network, "raw-01", "cayenne_lpp")
    state = hass.states.get("device_tracker.raw_01_location")
    assert position(hass, "device_tracker.raw_01_location") == (52.3655, 4.8885)
    assert state.attributes["altitude"] == 21.54
    assert hass.states.get("sensor.raw_01_gps_12_latitude") is None


async def test_dragino_led_is_not_a_longitude(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """Dragino LGT92: `LON` is its LED ("ON"); latitude and longitude make the tracker."""
    await send_decoder_output(hass, network, "raw-01", "dragino_lgt92")
    assert position(hass, "device_tracker.raw_01_location") == (22.70626, 114.24252)
    assert hass.states.get("sensor.raw_01_lon").state == "ON"


async def test_uplink_locations(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """A device without coordinates in its payload is tracked by the uplink's locations."""
    await uplink_and_wait(
        hass,
        network,
        "raw-01",
        locations={
            "user": {
                "latitude": 48.2,
                "longitude": 16.37,
                "altitude": 180,
                "accuracy": 25,
                "source": "SOURCE_REGISTRY",
            }
        },
    )
    state = hass.states.get("device_tracker.raw_01_location")
    assert position(hass, "device_tracker.raw_01_location") == (48.2, 16.37)
    assert state.attributes[ATTR_GPS_ACCURACY] == 25
    assert state.attributes["altitude"] == 180


async def test_no_position_no_tracker(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """Devices that never report a position get no tracker; half of one is none."""
    await uplink_and_wait(hass, network, "th-sensor-01")
    await uplink_and_wait(hass, network, "th-sensor-01")
    await uplink_and_wait(
        hass, network, "th-sensor-01", decoded_payload={"latitude": 48.1, "temp": 20}
    )
    assert hass.states.async_entity_ids("device_tracker") == []
    entities = er.async_entries_for_config_entry(
        er.async_get(hass), init_integration.entry_id
    )
    assert [entity for entity in entities if entity.domain == "device_tracker"] == []


async def test_location_solver_places_a_device(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """A solver's result tracks a device without GPS; a GPS fix in the payload wins."""
    tracker = "device_tracker.raw_01_location"
    network.solve_location(
        "raw-01",
        {
            "latitude": 52.37,
            "longitude": 4.89,
            "altitude": 3,
            "accuracy": 35.4,
            "source": "SOURCE_WIFI_RSSI_GEOLOCATION",
        },
    )
    await async_wait_for(lambda: hass.states.get(tracker) is not None)
    state = hass.states.get(tracker)
    assert position(hass, tracker) == (52.37, 4.89)
    assert state.attributes[ATTR_GPS_ACCURACY] == 35
    assert state.attributes["altitude"] == 3

    await uplink_and_wait(
        hass, network, "raw-01", tracker, decoded_payload={"lat": 51.5, "lng": -0.12}
    )
    assert position(hass, tracker) == (51.5, -0.12)


async def test_a_solved_position_at_0_0_is_no_position(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """The server leaves zeros out: a location without coordinates is 0, 0, no position."""
    coordinator = init_integration.runtime_data
    network.solve_location("raw-01", {"accuracy": 10})
    await async_wait_for(lambda: "raw-01" in coordinator.devices)
    await hass.async_block_till_done()
    assert coordinator.counters.malformed == 0
    assert hass.states.async_entity_ids("device_tracker") == []


async def test_a_gps_without_fix_keeps_its_position_over_other_locations(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """A payload at 0, 0 keeps the last fix: the console's location is not a fix."""
    tracker = "device_tracker.door_01_location"
    registered = {
        "user": {"latitude": 52.0, "longitude": 4.0, "source": "SOURCE_REGISTRY"}
    }
    await uplink_and_wait(
        hass,
        network,
        "door-01",
        decoded_payload={"latitude": 48.1, "longitude": 9.1},
        locations=registered,
    )
    assert position(hass, tracker) == (48.1, 9.1)
    await uplink_and_wait(
        hass,
        network,
        "door-01",
        decoded_payload={"latitude": 0, "longitude": 0},
        locations=registered,
    )
    assert position(hass, tracker) == (48.1, 9.1)


async def test_an_accuracy_of_nan_is_none(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """A decoder's "NaN" or "Infinity" is no number: no accuracy, no error."""
    tracker = "device_tracker.door_01_location"
    for accuracy in ("NaN", "Infinity"):
        await uplink_and_wait(
            hass,
            network,
            "door-01",
            decoded_payload={"latitude": 48.2, "longitude": 9.2, "accuracy": accuracy},
        )
        assert hass.states.get(tracker).attributes[ATTR_GPS_ACCURACY] == 0


async def test_the_last_fix_survives_a_restart_after_an_uplink_without_fix(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """The stored fields end at 0, 0; the tracker still shows its last fix after a restart."""
    tracker = "device_tracker.door_01_location"
    await uplink_and_wait(
        hass,
        network,
        "door-01",
        decoded_payload={"latitude": 48.1, "longitude": 9.1, "accuracy": 12},
    )
    await uplink_and_wait(
        hass, network, "door-01", decoded_payload={"latitude": 0, "longitude": 0}
    )
    assert position(hass, tracker) == (48.1, 9.1)

    assert await hass.config_entries.async_unload(init_integration.entry_id)
    assert await hass.config_entries.async_setup(init_integration.entry_id)
    await hass.async_block_till_done()
    assert position(hass, tracker) == (48.1, 9.1)
    assert hass.states.get(tracker).attributes[ATTR_GPS_ACCURACY] == 12
