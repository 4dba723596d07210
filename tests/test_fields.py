"""What a decoded field is, from its name and value: no Home Assistant running.

The platforms' tests (test_sensor.py, test_binary_sensor.py) check the same rules as a
user sees them; these go through the tables of fields.py and payload.py as data.
"""

from __future__ import annotations

from homeassistant.components.binary_sensor import BinarySensorDeviceClass
from homeassistant.components.sensor import (
    DEVICE_CLASS_STATE_CLASSES,
    DEVICE_CLASS_UNITS,
    SensorStateClass,
)
import pytest

try:  # Home Assistant 2026.8 writes it with a Greek mu (UnitOfDensity).
    from homeassistant.const import UnitOfDensity

    MICROGRAMS_PER_CUBIC_METER = UnitOfDensity.MICROGRAMS_PER_CUBIC_METER.value
except ImportError:
    from homeassistant.const import (
        CONCENTRATION_MICROGRAMS_PER_CUBIC_METER as MICROGRAMS_PER_CUBIC_METER,
    )

from custom_components.ttn_mqtt.fields import (
    SENSOR_FIELDS,
    FieldSpec,
    binary_sensor_class,
    readable_name,
    sensor_spec,
)
from custom_components.ttn_mqtt.payload import flatten_payload

from .uplinks import load_decoder


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("temperature", 21.5, ("temperature", "°C")),
        ("TempC_SHT", 21.5, ("temperature", "°C")),
        ("temperature_3", 21.5, ("temperature", "°C")),
        ("soil_temperature", 12.0, ("temperature", "°C")),
        ("temperature_max", 30.0, ("temperature", "°C")),
        ("temp_f", 70.0, ("temperature", "°F")),
        ("Hum_SHT", 50.0, ("humidity", "%")),
        ("relative_humidity_2", 50.0, ("humidity", "%")),
        ("battery", 87, ("battery", "%")),
        ("battery", 3.61, ("voltage", "V")),
        ("battery", 3612, ("voltage", "mV")),
        ("BatV", 3.05, ("voltage", "V")),
        ("BAT_V", 2.952, ("voltage", "V")),
        ("battery_voltage", 3300, ("voltage", "mV")),
        ("vdd", 3600, ("voltage", "mV")),
        ("voltage", 230.1, ("voltage", "V")),
        ("pressure", 1013.2, ("pressure", "hPa")),
        ("pressure", 101325, ("pressure", "Pa")),
        ("pressure", 101.3, ("pressure", "kPa")),
        ("barometric_pressure_4", 1013.2, ("atmospheric_pressure", "hPa")),
        ("co2", 612, ("carbon_dioxide", "ppm")),
        ("tvoc", 120, ("volatile_organic_compounds_parts", "ppb")),
        ("illuminance_5", 300, ("illuminance", "lx")),
        ("lux", 300, ("illuminance", "lx")),
        ("light_intensity", 300, ("illuminance", "lx")),
        ("pm2_5", 12, ("pm25", MICROGRAMS_PER_CUBIC_METER)),
        ("PM10", 20, ("pm10", MICROGRAMS_PER_CUBIC_METER)),
        ("distance", 1520, ("distance", "mm")),
        ("water_volume", 12.5, ("water", "L")),
        ("energy", 12.5, ("energy", "kWh")),
        ("active_power", 120, ("power", "W")),
        ("current", 1.2, ("current", "A")),
        ("rssi", -80, ("signal_strength", "dBm")),
        ("soil_moisture", 33, ("moisture", "%")),
        ("wind_speed", 3.2, ("wind_speed", "m/s")),
        ("analog_in_3", 1.2, (None, None)),
        ("Bat_status", 3, (None, None)),
        ("battery_status", 3, (None, None)),
        ("temperature_alarm", 1, (None, None)),
        ("water_level", 40, (None, None)),
        ("mystery", 4, (None, None)),
    ],
)
def test_field_table(
    key: str, value: float, expected: tuple[str | None, str | None]
) -> None:
    """Common decoder field names map to their unit and device class."""
    spec = sensor_spec(key, value)
    assert (spec.device_class, spec.unit) == expected


def test_field_table_is_valid_for_home_assistant() -> None:
    """Every unit and state class in the table is one Home Assistant accepts."""
    for name, rule in SENSOR_FIELDS.items():
        specs = (
            [rule]
            if isinstance(rule, FieldSpec)
            else [rule(value) for value in (1, 3.3, 50, 500, 5000, 50000, 200000)]
        )
        for spec in specs:
            if spec.device_class is None:
                continue
            assert spec.unit in DEVICE_CLASS_UNITS[spec.device_class], name
            assert spec.state_class in DEVICE_CLASS_STATE_CLASSES[spec.device_class], (
                name
            )


def test_counters_are_total_increasing() -> None:
    """Counters (`count`, `pulses`, `door_open_times`) add up; they are not measurements."""
    for key in ("count", "open_count", "pulses", "DOOR_OPEN_TIMES"):
        assert sensor_spec(key, 12).state_class is SensorStateClass.TOTAL_INCREASING


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("battery_voltage", "Battery voltage"),
        ("TempC_SHT", "Temperature SHT"),
        ("DOOR_OPEN_STATUS", "Door open status"),
        ("measureInterval", "Measure interval"),
        ("gps_34_altitude", "GPS 34 altitude"),
        ("pm2_5", "PM2.5"),
        ("co2", "CO2"),
        ("Battery(%)", "Battery"),
        ("température_2", "Température 2"),
    ],
)
def test_readable_names(key: str, name: str) -> None:
    """Decoded fields are named after their key, made readable."""
    assert readable_name(key) == name


# Field names of real decoders (tests/fixtures/decoders) and what a user sees of them.
@pytest.mark.parametrize(
    ("fixture", "key", "name", "device_class", "unit"),
    [
        ("dragino_lsn50v2", "TempC1", "Temperature 1", "temperature", "°C"),
        ("dragino_lsn50v2", "TempC2", "Temperature 2", "temperature", "°C"),
        ("dragino_lsn50v2", "TempC3", "Temperature 3", "temperature", "°C"),
        ("dragino_lsn50v2", "TempC_SHT", "Temperature SHT", "temperature", "°C"),
        ("dragino_lsn50v2", "Hum_SHT", "Humidity SHT", "humidity", "%"),
        ("dragino_lsn50v2", "BatV", "Battery voltage", "voltage", "V"),
        ("dragino_lht52", "TempC_DS", "Temperature DS", "temperature", "°C"),
        ("dragino_lht65", "Bat_status", "Battery status", None, None),
        ("fencyboy_v1_3_1", "BATTERYVOLTAGE", "Battery voltage", "voltage", "V"),
        ("fencyboy_v1_3_1", "FENCEVOLTAGE", "Fence voltage", "voltage", "V"),
        ("fencyboy_v1_3_1", "FENCEVOLTAGEMAX", "Fence voltage max", "voltage", "V"),
        ("fencyboy_v1_3_1", "TEMPERATURE", "Temperature", "temperature", "°C"),
        ("fencyboy_v1_3_1", "IMPULSES", "Impulses", None, None),
        ("fencyboy_v1_3_1", "REMAINING_CAPACITY", "Remaining capacity", None, None),
        ("dragino_lgt92", "BatV", "Battery voltage", "voltage", "V"),
        ("milesight_am307", "co2", "CO2", "carbon_dioxide", "ppm"),
        ("milesight_am307", "tvoc", "TVOC", "volatile_organic_compounds_parts", "ppb"),
        ("cayenne_lpp", "gps_12_altitude", "GPS 12 altitude", "distance", "m"),
    ],
)
def test_real_decoder_fields(
    fixture: str, key: str, name: str, device_class: str | None, unit: str | None
) -> None:
    """A real decoder's field gets a name people write, its unit and its class."""
    value = next(
        fields[key]
        for payload in load_decoder(fixture)["decoded_payloads"]
        if key in (fields := flatten_payload(payload))
    )
    spec = sensor_spec(key, value)
    assert (readable_name(key), spec.device_class, spec.unit) == (
        name,
        device_class,
        unit,
    )


@pytest.mark.parametrize(
    ("key", "name", "device_class", "unit"),
    [
        ("uptime_s", "Uptime", "duration", "s"),
        ("hdop", "HDOP", None, None),
        ("pm2_5", "PM2.5", "pm25", MICROGRAMS_PER_CUBIC_METER),
        ("rssi", "RSSI", "signal_strength", "dBm"),
        ("snr", "SNR", "signal_strength", "dB"),
        ("voc", "VOC", "volatile_organic_compounds_parts", "ppb"),
        ("bat_mv", "Battery voltage", "voltage", "mV"),
        ("temp_f", "Temperature", "temperature", "°F"),
    ],
)
def test_units_and_acronyms_in_names(
    key: str, name: str, device_class: str | None, unit: str | None
) -> None:
    """A unit in a name is the entity's unit, not part of its name; acronyms stay capitals."""
    spec = sensor_spec(key, 12)
    assert (readable_name(key), spec.device_class, spec.unit) == (
        name,
        device_class,
        unit,
    )


def test_flattening() -> None:
    """Nested objects join their keys; short arrays go by index, long ones are left out."""
    assert flatten_payload(
        {
            "gps_34": {"latitude": 1.5, "longitude": 2.5},
            "readings": [1, 2],
            "samples": list(range(20)),
            "_sensor_attr": {"x": {}},
            "none": None,
        }
    ) == {
        "gps_34_latitude": 1.5,
        "gps_34_longitude": 2.5,
        "readings_0": 1,
        "readings_1": 2,
        "none": None,
    }


def test_sensecap_measurements_are_named() -> None:
    """SenseCAP readings are fields named after the measurement, wherever they sit."""
    fields = flatten_payload(load_decoder("sensecap_s2120")["decoded_payloads"][0])
    assert fields["air_temperature"] == 18
    assert fields["barometric_pressure"] == 88810
    assert not any(key.startswith("messages_") for key in fields)
    # Their decoders send negative values as text.
    assert flatten_payload(
        {"messages": [{"measurementId": "4097", "measurementValue": "-0.9"}]}
    ) == {"air_temperature": -0.9}
    assert flatten_payload(
        {"messages": [{"measurementId": 4242, "measurementValue": 1}]}
    ) == {"measurement_4242": 1}
    # "NaN" is a reading they did not get: unknown, never a number Home Assistant refuses.
    assert flatten_payload(
        {"messages": [{"measurementId": "4097", "measurementValue": "NaN"}]}
    ) == {"air_temperature": None}


@pytest.mark.parametrize(
    ("key", "device_class"),
    [
        ("door_open", BinarySensorDeviceClass.DOOR),
        ("DOOR_OPEN_STATUS", BinarySensorDeviceClass.DOOR),
        ("window", BinarySensorDeviceClass.WINDOW),
        ("contact", BinarySensorDeviceClass.OPENING),
        ("is_open", BinarySensorDeviceClass.OPENING),
        ("motion", BinarySensorDeviceClass.MOTION),
        ("pir_triggered", BinarySensorDeviceClass.MOTION),
        ("occupancy", BinarySensorDeviceClass.OCCUPANCY),
        ("roomOccupied", BinarySensorDeviceClass.OCCUPANCY),
        ("presence", BinarySensorDeviceClass.PRESENCE),
        ("water_leak", BinarySensorDeviceClass.MOISTURE),
        ("leakage_status", BinarySensorDeviceClass.MOISTURE),
        ("alarm", BinarySensorDeviceClass.PROBLEM),
        ("temperature_alarm", BinarySensorDeviceClass.PROBLEM),
        ("tamper", BinarySensorDeviceClass.TAMPER),
        ("battery_low", BinarySensorDeviceClass.BATTERY),
        ("lowBattery", BinarySensorDeviceClass.BATTERY),
        ("vibration", BinarySensorDeviceClass.VIBRATION),
        ("smoke_alarm", BinarySensorDeviceClass.SMOKE),
        ("button", None),
        ("valid", None),
    ],
)
def test_binary_sensor_names(
    key: str, device_class: BinarySensorDeviceClass | None
) -> None:
    """Boolean field names map to the device classes users expect."""
    assert binary_sensor_class(key) is device_class
