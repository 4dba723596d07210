"""Sensors: decoded fields of the simulated devices and of real decoders, and the radio."""

from __future__ import annotations

from datetime import timedelta
import json
import logging
from typing import Any

from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.const import (
    ATTR_DEVICE_CLASS,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    EntityCategory,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.ttn_mqtt.const import (
    CONF_SIGNAL_ENTITIES,
    CONF_STALE_HOURS,
    DOMAIN,
)
from custom_components.ttn_mqtt.fields import sensor_description
from custom_components.ttn_mqtt.payload import sensor_hints

from .common import async_wait_for
from .uplinks import as_written, send_decoder_output, shows, uplink_and_wait

pytestmark = pytest.mark.usefixtures("socket_enabled")

UPLINK_SENSOR_KEYS = (
    "rssi",
    "snr",
    "spreading_factor",
    "gateway_count",
    "f_cnt",
    "consumed_airtime",
)


# The simulated devices.


async def test_temperature_humidity_sensor(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """th-sensor-01: temperature in °C, humidity in %, a battery in volts, and radio."""
    sent = await uplink_and_wait(hass, network, "th-sensor-01")
    decoded = sent["uplink_message"]["decoded_payload"]
    assert shows(hass, "sensor.th_sensor_01_temperature") == (
        str(decoded["temperature"]),
        "°C",
        "temperature",
        "measurement",
    )
    assert shows(hass, "sensor.th_sensor_01_humidity") == (
        str(decoded["humidity"]),
        "%",
        "humidity",
        "measurement",
    )
    # 3.6: a fraction below 5 is a battery's volts, not its percentage.
    assert shows(hass, "sensor.th_sensor_01_battery") == (
        str(decoded["battery"]),
        "V",
        "voltage",
        "measurement",
    )
    last_seen = hass.states.get("sensor.th_sensor_01_last_seen")
    assert last_seen.attributes[ATTR_DEVICE_CLASS] == "timestamp"
    assert last_seen.state.startswith(sent["received_at"][:19])

    registry = er.async_get(hass)
    coordinator = init_integration.runtime_data
    entry = registry.async_get("sensor.th_sensor_01_temperature")
    assert entry.unique_id == "test-app@ttn/th-sensor-01/field_temperature"
    assert entry.entity_category is None
    ha_device = dr.async_get(hass).async_get(entry.device_id)
    assert (DOMAIN, f"{coordinator.uid}/th-sensor-01") in ha_device.identifiers
    for key in UPLINK_SENSOR_KEYS:
        uplink_entry = registry.async_get_entity_id(
            "sensor", "ttn_mqtt", f"test-app@ttn/th-sensor-01/{key}"
        )
        assert uplink_entry is not None, key
        signal = registry.async_get(uplink_entry)
        assert signal.disabled_by is er.RegistryEntryDisabler.INTEGRATION
        assert signal.entity_category is EntityCategory.DIAGNOSTIC
        assert hass.states.get(uplink_entry) is None
    assert registry.async_get("sensor.th_sensor_01_last_seen").disabled_by is None


async def test_door_sensor_fields(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """door-01: an opening counter and a battery in percent; the door is a binary sensor."""
    sent = await uplink_and_wait(hass, network, "door-01")
    decoded = sent["uplink_message"]["decoded_payload"]
    assert shows(hass, "sensor.door_01_open_count") == (
        str(decoded["open_count"]),
        None,
        None,
        "total_increasing",
    )
    assert shows(hass, "sensor.door_01_battery") == (
        str(decoded["battery"]),
        "%",
        "battery",
        "measurement",
    )
    assert hass.states.get("sensor.door_01_door_open") is None


async def test_gps_tracker_fields(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """gps-tracker-01: coordinates go to the tracker; altitude, hdop, battery are sensors."""
    sent = await uplink_and_wait(hass, network, "gps-tracker-01")
    decoded = sent["uplink_message"]["decoded_payload"]
    assert shows(hass, "sensor.gps_tracker_01_altitude") == (
        str(decoded["altitude"]),
        "m",
        "distance",
        "measurement",
    )
    assert shows(hass, "sensor.gps_tracker_01_hdop")[0] == str(decoded["hdop"])
    assert shows(hass, "sensor.gps_tracker_01_battery")[1:3] == ("V", "voltage")
    assert hass.states.get("sensor.gps_tracker_01_latitude") is None
    assert hass.states.get("sensor.gps_tracker_01_longitude") is None


async def test_nested_arrays_strings_and_null(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """multi-01: nested objects flatten, short arrays by index, strings are text."""
    sent = await uplink_and_wait(hass, network, "multi-01")
    decoded = sent["uplink_message"]["decoded_payload"]
    assert shows(hass, "sensor.multi_01_sensor_temperature") == (
        str(decoded["sensor"]["temperature"]),
        "°C",
        "temperature",
        "measurement",
    )
    assert shows(hass, "sensor.multi_01_sensor_pressure") == (
        str(decoded["sensor"]["pressure"]),
        "hPa",
        "pressure",
        "measurement",
    )
    for index, reading in enumerate(decoded["readings"]):
        assert shows(hass, f"sensor.multi_01_readings_{index}") == (
            str(reading),
            None,
            None,
            "measurement",
        )
    assert shows(hass, "sensor.multi_01_status") == (
        decoded["status"],
        None,
        None,
        None,
    )
    assert shows(hass, "sensor.multi_01_uptime") == (
        str(decoded["uptime_s"]),
        "s",
        "duration",
        "total_increasing",
    )
    # null and nothing else yet: no entity until the decoder says what it is.
    assert hass.states.get("sensor.multi_01_last_error") is None


async def test_device_without_decoded_payload(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """raw-01: no payload formatter, so only the uplink's own sensors."""
    await uplink_and_wait(hass, network, "raw-01")
    registry = er.async_get(hass)
    coordinator = init_integration.runtime_data
    ha_device = coordinator.devices["raw-01"].ha_device_id
    keys = {
        entry.unique_id.rsplit("/", 1)[1]
        for entry in er.async_entries_for_device(
            registry, ha_device, include_disabled_entities=True
        )
    }
    assert keys == {*UPLINK_SENSOR_KEYS, "last_seen", "downlink"}


async def test_signal_entities_enabled_show_the_uplink(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """Enabled by the user, the radio sensors show the best gateway and the uplink."""
    registry = er.async_get(hass)
    await uplink_and_wait(hass, network, "door-01")
    for key in UPLINK_SENSOR_KEYS:
        registry.async_update_entity(
            f"sensor.door_01_{_object_id(key)}", disabled_by=None
        )
    await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()

    sent = await uplink_and_wait(hass, network, "door-01", "sensor.door_01_rssi")
    up = sent["uplink_message"]
    best = max(up["rx_metadata"], key=lambda gateway: gateway["rssi"])
    assert shows(hass, "sensor.door_01_rssi") == (
        str(best["rssi"]),
        "dBm",
        "signal_strength",
        "measurement",
    )
    assert shows(hass, "sensor.door_01_snr")[:3] == (
        str(best["snr"]),
        "dB",
        "signal_strength",
    )
    assert shows(hass, "sensor.door_01_spreading_factor")[0] == str(
        up["settings"]["data_rate"]["lora"]["spreading_factor"]
    )
    assert shows(hass, "sensor.door_01_gateways")[0] == str(len(up["rx_metadata"]))
    assert shows(hass, "sensor.door_01_frame_counter")[0] == str(up.get("f_cnt", 0))
    airtime = shows(hass, "sensor.door_01_airtime")
    assert float(airtime[0]) == float(up["consumed_airtime"].removesuffix("s"))
    assert airtime[1:3] == ("s", "duration")


def _object_id(key: str) -> str:
    return {
        "gateway_count": "gateways",
        "f_cnt": "frame_counter",
        "consumed_airtime": "airtime",
    }.get(key, key)


async def test_signal_entities_option_off(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """Turning the signal_entities option off removes the radio sensors; last seen stays."""
    entry = init_integration
    await uplink_and_wait(hass, network, "door-01")
    registry = er.async_get(hass)

    def signal_entities() -> list[str | None]:
        return [
            registry.async_get_entity_id(
                "sensor", DOMAIN, f"test-app@ttn/door-01/{key}"
            )
            for key in UPLINK_SENSOR_KEYS
        ]

    assert None not in signal_entities()
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, CONF_SIGNAL_ENTITIES: False}
    )
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert signal_entities() == [None] * len(UPLINK_SENSOR_KEYS)

    await uplink_and_wait(hass, network, "door-01")
    assert signal_entities() == [None] * len(UPLINK_SENSOR_KEYS)
    assert hass.states.get("sensor.door_01_battery") is not None


# Real decoder outputs, each from TTN's device repository or The Things Stack itself.

EXPECTED_DECODERS: dict[str, dict[str, tuple[str, str | None, str | None]]] = {
    "cayenne_lpp": {
        "temperature_7": ("-15.6", "°C", "temperature"),
        "relative_humidity_8": ("49.5", "%", "humidity"),
        "luminosity_5": ("500", "lx", "illuminance"),
        "barometric_pressure_10": ("1073.5", "hPa", "atmospheric_pressure"),
        "digital_in_1": ("255", None, None),
        "analog_out_4": ("-54.5", None, None),
        "presence_6": ("50", None, None),
        "accelerometer_9_x": ("-0.424", None, None),
        "gyrometer_11_z": ("-4.1", None, None),
        "gps_12_altitude": ("21.54", "m", "distance"),
    },
    "sensecap_s2120": {
        "air_temperature": ("18", "°C", "temperature"),
        "air_humidity": ("34", "%", "humidity"),
        "light_intensity": ("92458", "lx", "illuminance"),
        "uv_index": ("8.1", "UV index", None),
        # Sent in m/s; Home Assistant shows wind in km/h with metric units.
        "wind_speed": ("6.5", "km/h", "wind_speed"),
        "wind_direction": ("106", "°", "wind_direction"),
        "rain_gauge": ("0", "mm/h", "precipitation_intensity"),
        # Sent in Pa; Home Assistant shows air pressure in hPa with metric units.
        "barometric_pressure": ("888.10", "hPa", "atmospheric_pressure"),
        "err": ("0", None, None),
        "payload": ("0100B4220001692A51001202006A0000000022B1", None, None),
    },
    "dragino_lht65": {
        "battery_voltage": ("3.062", "V", "voltage"),
        "battery_status": ("3", None, None),
        "ext_sensor": ("Temperature Sensor", None, None),
        "humidity_sht": ("88.6", "%", "humidity"),
        "temperature_ds": ("27.81", "°C", "temperature"),
        "temperature_sht": ("28.29", "°C", "temperature"),
    },
    "dragino_lht52": {
        "humidity_sht": ("54.4", "%", "humidity"),
        "temperature_sht": ("22.53", "°C", "temperature"),
        # 327.67 is the decoder's "no probe": shown as sent.
        "temperature_ds": ("327.67", "°C", "temperature"),
    },
    "dragino_lsn50v2": {
        # The second uplink (mode 3DS18B20) brings three probes, numbered.
        "temperature_1": ("25", "°C", "temperature"),
        "temperature_2": ("24", "°C", "temperature"),
        "temperature_3": ("26", "°C", "temperature"),
        "battery_voltage": ("2.9", "V", "voltage"),
        "work_mode": ("3DS18B20", None, None),
    },
    "fencyboy_v1_3_1": {
        "fence_voltage": ("10860", "V", "voltage"),
        "fence_voltage_max": ("11091", "V", "voltage"),
        "battery_voltage": ("3.593", "V", "voltage"),
        "temperature": ("34.03", "°C", "temperature"),
        "impulses": ("473", None, None),
    },
    "dragino_lgt92": {
        "battery_voltage": ("3.36", "V", "voltage"),
        "alarm_status": ("FALSE", None, None),
        "lon": ("ON", None, None),
        "md": ("Disable", None, None),
        "altitude": ("0", "m", "distance"),
        "hdop": ("0", None, None),
        "roll": ("0.75", None, None),
    },
    "milesight_am307": {
        "battery": ("92", "%", "battery"),
        "temperature": ("30.8", "°C", "temperature"),
        "humidity": ("50.5", "%", "humidity"),
        "co2": ("1255", "ppm", "carbon_dioxide"),
        "tvoc": ("7", "ppb", "volatile_organic_compounds_parts"),
        "pressure": ("1004.7", "hPa", "pressure"),
    },
    "elsys_ers_co2": {
        "temperature": ("22.6", "°C", "temperature"),
        "humidity": ("41", "%", "humidity"),
        "light": ("39", "lx", "illuminance"),
        # A count of movements, not a motion detector: it stays a number.
        "motion": ("6", None, None),
        "co2": ("776", "ppm", "carbon_dioxide"),
    },
}


@pytest.mark.parametrize("name", sorted(EXPECTED_DECODERS))
async def test_real_decoder_outputs(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, name: str
) -> None:
    """Each vendor's decoder output becomes sensors with the right units and classes."""
    await send_decoder_output(hass, network, "raw-01", name)
    for object_id, expected in EXPECTED_DECODERS[name].items():
        state, *classes = shows(hass, f"sensor.raw_01_{object_id}")[:3]
        shown = (as_written(state, expected[0]), *classes)
        assert shown == expected, object_id


async def test_field_appearing_later_gets_an_entity(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """A field first sent in a later uplink becomes an entity then, with no reload."""
    await uplink_and_wait(
        hass, network, "raw-01", decoded_payload={"temperature": 20.5}
    )
    assert hass.states.get("sensor.raw_01_co2") is None
    await uplink_and_wait(hass, network, "raw-01", decoded_payload={"co2": 612})
    assert shows(hass, "sensor.raw_01_co2")[:3] == ("612", "ppm", "carbon_dioxide")
    # The uplink without temperature left it as it was.
    assert shows(hass, "sensor.raw_01_temperature")[0] == "20.5"


async def test_null_and_type_changes_raise_nothing(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    network,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """null shows unknown; text where numbers were shows unknown, logged once."""
    send = {"temperature": 20.5, "label": "box", "level": 3}
    await uplink_and_wait(hass, network, "raw-01", decoded_payload=send)
    for decoded, temperature, label, level in (
        ({"temperature": None}, STATE_UNKNOWN, "box", "3"),
        ({"temperature": 21}, "21", "box", "3"),
        ({"temperature": "22.5", "label": 7}, "22.5", "7", "3"),
        ({"temperature": "broken", "level": True}, STATE_UNKNOWN, "7", STATE_UNKNOWN),
        (
            {"temperature": "broken again", "level": {"nested": 1}},
            STATE_UNKNOWN,
            "7",
            STATE_UNKNOWN,
        ),
        ({"temperature": "NaN"}, STATE_UNKNOWN, "7", STATE_UNKNOWN),
        ({"temperature": "-Infinity"}, STATE_UNKNOWN, "7", STATE_UNKNOWN),
        ({"temperature": 23.5, "level": 4}, "23.5", "7", "4"),
    ):
        await uplink_and_wait(hass, network, "raw-01", decoded_payload=decoded)
        assert shows(hass, "sensor.raw_01_temperature")[:2] == (temperature, "°C")
        assert shows(hass, "sensor.raw_01_label")[0] == label
        assert shows(hass, "sensor.raw_01_level")[0] == level
    warnings = [
        record
        for record in caplog.records
        if record.levelno >= logging.WARNING and "temperature" in record.getMessage()
    ]
    assert len(warnings) == 1
    assert "Traceback" not in caplog.text
    # The nested object that replaced `level` became fields of its own.
    assert shows(hass, "sensor.raw_01_level_nested")[0] == "1"


async def test_decoder_hints_win_over_the_table(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """`_sensor_attr` sets unit and classes; invalid hints are ignored, never raised."""
    decoded = {
        "water_level": 132,
        "temperature": 20.1,
        "energy_used": 1520,
        "odd": 5,
        "broken": 7,
        "_sensor_attr": {
            "water_level": {
                "unit_of_measurement": "cm",
                "device_class": "distance",
                "state_class": "measurement",
            },
            # Fahrenheit said by the decoder beats the table's Celsius.
            "temperature": {"unit_of_measurement": "°F"},
            "energy_used": {"unit_of_measurement": "Wh", "device_class": "energy"},
            "odd": {"device_class": "no_such_class", "state_class": "sometimes"},
            "broken": ["not", "an", "object"],
        },
    }
    await uplink_and_wait(hass, network, "raw-01", decoded_payload=decoded)
    assert shows(hass, "sensor.raw_01_water_level") == (
        "132",
        "cm",
        "distance",
        "measurement",
    )
    assert shows(hass, "sensor.raw_01_temperature")[1:3] == ("°C", "temperature")
    assert float(shows(hass, "sensor.raw_01_temperature")[0]) == pytest.approx(
        (20.1 - 32) * 5 / 9, abs=0.1
    )
    assert shows(hass, "sensor.raw_01_energy_used") == (
        "1520",
        "Wh",
        "energy",
        "total",
    )
    assert shows(hass, "sensor.raw_01_odd") == ("5", None, None, "measurement")
    assert shows(hass, "sensor.raw_01_broken") == ("7", None, None, "measurement")
    assert hass.states.get("sensor.raw_01_sensor_attr_odd_device_class") is None


async def test_stale_device_turns_unavailable_once(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    network,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A device silent past stale_hours is unavailable, with one log line, until it reports."""
    caplog.set_level(logging.INFO, logger="custom_components.ttn_mqtt")
    hass.config_entries.async_update_entry(
        config_entry, options={**config_entry.options, CONF_STALE_HOURS: 1}
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    # th-sensor-01's uplink was received 61 minutes ago; door-01's just now.
    old = network.build_uplink("th-sensor-01")
    old["received_at"] = (dt_util.utcnow() - timedelta(minutes=61)).isoformat()
    network.publish_raw(f"v3/{network.uid}/devices/th-sensor-01/up", json.dumps(old))
    await async_wait_for(
        lambda: hass.states.get("sensor.th_sensor_01_temperature") is not None
    )
    await uplink_and_wait(hass, network, "door-01")
    assert hass.states.get("sensor.th_sensor_01_temperature").state != STATE_UNAVAILABLE

    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=1))
    await hass.async_block_till_done()
    assert hass.states.get("sensor.th_sensor_01_temperature").state == STATE_UNAVAILABLE
    assert hass.states.get("sensor.th_sensor_01_last_seen").state == STATE_UNAVAILABLE
    assert hass.states.get("sensor.door_01_battery").state != STATE_UNAVAILABLE
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=2))
    await hass.async_block_till_done()
    stale_lines = [r for r in caplog.records if "no uplink" in r.getMessage()]
    assert len(stale_lines) == 1
    assert "th-sensor-01" in stale_lines[0].getMessage()

    # An old uplink fetched late is no sign of life: the device stays unavailable.
    late = network.build_uplink("th-sensor-01")
    late["received_at"] = (dt_util.utcnow() - timedelta(minutes=60.5)).isoformat()
    network.publish_raw(f"v3/{network.uid}/devices/th-sensor-01/up", json.dumps(late))
    await uplink_and_wait(hass, network, "door-01")
    assert hass.states.get("sensor.th_sensor_01_temperature").state == STATE_UNAVAILABLE
    assert "th-sensor-01 reports again" not in caplog.messages

    await uplink_and_wait(hass, network, "th-sensor-01")
    assert hass.states.get("sensor.th_sensor_01_temperature").state != STATE_UNAVAILABLE
    await hass.config_entries.async_unload(config_entry.entry_id)


async def test_deleted_device_returns_when_it_reports(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, hass_ws_client
) -> None:
    """A device the user deletes loses its entities; its next uplink brings them back."""
    assert await async_setup_component(hass, "config", {})
    await uplink_and_wait(hass, network, "door-01", "sensor.door_01_battery")
    registry = er.async_get(hass)
    ha_device_id = registry.async_get("sensor.door_01_battery").device_id

    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "config/device_registry/remove_config_entry",
            "device_id": ha_device_id,
            "config_entry_id": init_integration.entry_id,
        }
    )
    response = await client.receive_json()
    assert response["success"]
    await hass.async_block_till_done()
    assert dr.async_get(hass).async_get(ha_device_id) is None
    assert registry.async_get("sensor.door_01_battery") is None
    assert hass.states.get("sensor.door_01_battery") is None

    network.uplink("door-01")
    await async_wait_for(lambda: hass.states.get("sensor.door_01_battery") is not None)
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.door_01_door_open") is not None
    device_id = registry.async_get("sensor.door_01_battery").device_id
    assert dr.async_get(hass).async_get(device_id) is not None


# Decoder hints, as data.


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (None, (SensorDeviceClass.TEMPERATURE, "°C", SensorStateClass.MEASUREMENT)),
        ("text", (SensorDeviceClass.TEMPERATURE, "°C", SensorStateClass.MEASUREMENT)),
        ({}, (SensorDeviceClass.TEMPERATURE, "°C", SensorStateClass.MEASUREMENT)),
        (
            {"unit_of_measurement": "K"},
            (SensorDeviceClass.TEMPERATURE, "K", SensorStateClass.MEASUREMENT),
        ),
        # A unit that does not fit the class keeps the unit and drops the class.
        (
            {"unit_of_measurement": "ppm", "device_class": "temperature"},
            (None, "ppm", SensorStateClass.MEASUREMENT),
        ),
        (
            {"device_class": "timestamp"},
            (SensorDeviceClass.TEMPERATURE, "°C", SensorStateClass.MEASUREMENT),
        ),
        (
            {"state_class": "total"},
            (SensorDeviceClass.TEMPERATURE, "°C", SensorStateClass.MEASUREMENT),
        ),
        (
            {"device_class": ["x"], "unit_of_measurement": 5},
            (SensorDeviceClass.TEMPERATURE, "°C", SensorStateClass.MEASUREMENT),
        ),
    ],
)
def test_hints(hint: Any, expected: tuple[Any, Any, Any]) -> None:
    """Hints are validated against what Home Assistant accepts."""
    # As an uplink brings it: kept to the shape used, then applied.
    kept = sensor_hints({"temperature": hint}).get("temperature")
    spec = sensor_description("temperature", 20.0, kept)
    assert (
        spec.device_class,
        spec.native_unit_of_measurement,
        spec.state_class,
    ) == expected
