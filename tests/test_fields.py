"""What a decoded field is, from its name and value: no Home Assistant running.

The platforms' tests (test_sensor.py, test_binary_sensor.py) check the same rules as a
user sees them; these go through the tables of fields.py as data, and hold them to the
README's.
"""

from __future__ import annotations

from pathlib import Path
import re
from typing import Any

from homeassistant.components.binary_sensor import BinarySensorDeviceClass
from homeassistant.components.sensor import (
    DEVICE_CLASS_STATE_CLASSES,
    DEVICE_CLASS_UNITS,
    SensorStateClass,
)
from homeassistant.const import Platform, UnitOfConductivity
import pytest

try:  # Home Assistant 2026.8 writes it with a Greek mu (UnitOfDensity).
    from homeassistant.const import UnitOfDensity

    MICROGRAMS_PER_CUBIC_METER = UnitOfDensity.MICROGRAMS_PER_CUBIC_METER.value
except ImportError:
    from homeassistant.const import (
        CONCENTRATION_MICROGRAMS_PER_CUBIC_METER as MICROGRAMS_PER_CUBIC_METER,
    )

from custom_components.ttn_mqtt.field_table import SENSOR_FIELDS
from custom_components.ttn_mqtt.fields import (
    binary_sensor_class,
    field_platform,
    find_position_keys,
    is_coordinate,
    is_number,
    position_role,
    readable_name,
    sensor_description,
)
from custom_components.ttn_mqtt.payload import finite_number, flatten_payload

from .uplinks import load_decoder

README = Path(__file__).parent.parent / "README.md"

# The README's table of names ("Units and device classes"): each name, a first value,
# and the device class, unit and state class it gives.
M, TOTAL = "measurement", "total_increasing"
NAME_TABLE: list[tuple[tuple[str, ...], float, tuple[str | None, str | None, str]]] = [
    (
        ("temperature", "temp", "temp_c", "tempc", "temperature_c", "celsius"),
        21.5,
        ("temperature", "°C", M),
    ),
    (("temp_f", "tempf", "temperature_f", "fahrenheit"), 70, ("temperature", "°F", M)),
    (
        ("humidity", "hum", "rh", "relative_humidity", "air_humidity"),
        50,
        ("humidity", "%", M),
    ),
    (
        (
            "battery",
            "bat",
            "batt",
            "battery_level",
            "bat_level",
            "battery_percentage",
        ),
        87,
        ("battery", "%", M),
    ),
    (
        ("bat_v", "batv", "battery_v", "battery_voltage", "vbat", "v_bat", "bat_volt"),
        3.3,
        ("voltage", "V", M),
    ),
    (("battery_mv", "bat_mv", "vdd"), 3300, ("voltage", "mV", M)),
    (("voltage", "volt", "volts"), 230, ("voltage", "V", M)),
    (("pressure",), 1013.2, ("pressure", "hPa", M)),
    (
        (
            "barometric_pressure",
            "air_pressure",
            "atmospheric_pressure",
            "baro",
            "barometer",
        ),
        1013.2,
        ("atmospheric_pressure", "hPa", M),
    ),
    (("co2", "co2_ppm", "carbon_dioxide"), 612, ("carbon_dioxide", "ppm", M)),
    (("tvoc", "voc", "vocs"), 120, ("volatile_organic_compounds_parts", "ppb", M)),
    (
        (
            "illuminance",
            "illumination",
            "light",
            "lux",
            "luminosity",
            "light_intensity",
            "light_lux",
        ),
        300,
        ("illuminance", "lx", M),
    ),
    (("pm1", "pm1_0"), 3, ("pm1", MICROGRAMS_PER_CUBIC_METER, M)),
    (("pm2_5", "pm25"), 12, ("pm25", MICROGRAMS_PER_CUBIC_METER, M)),
    (("pm10",), 20, ("pm10", MICROGRAMS_PER_CUBIC_METER, M)),
    (("distance", "dist"), 1520, ("distance", "mm", M)),
    (("altitude", "alt"), 310, ("distance", "m", M)),
    (("water", "water_volume", "water_meter", "volume"), 12.5, ("water", "L", TOTAL)),
    (
        ("energy", "active_energy", "total_energy", "kwh"),
        12.5,
        ("energy", "kWh", TOTAL),
    ),
    (("power", "active_power"), 120, ("power", "W", M)),
    (("current", "amps"), 1.2, ("current", "A", M)),
    (
        ("count", "counter", "pulse", "pulses", "impulses", "times"),
        12,
        (None, None, TOTAL),
    ),
    (("rssi",), -80, ("signal_strength", "dBm", M)),
    (("snr",), 7.5, ("signal_strength", "dB", M)),
    (("moisture", "soil_moisture"), 33, ("moisture", "%", M)),
    (
        ("conductivity", "ec", "electrical_conductivity"),
        120,
        ("conductivity", UnitOfConductivity.MICROSIEMENS_PER_CM, M),
    ),
    (("ph",), 6.5, ("ph", None, M)),
    (("sound", "noise", "sound_level", "laeq"), 45, ("sound_pressure", "dB", M)),
    (("wind_speed",), 3.2, ("wind_speed", "m/s", M)),
    (("wind_direction",), 270, ("wind_direction", "°", "measurement_angle")),
    (
        ("rain_gauge", "rain_rate", "rainfall_rate"),
        1.5,
        ("precipitation_intensity", "mm/h", M),
    ),
    (("uv_index",), 3, (None, "UV index", M)),
    (("uptime", "uptime_s"), 3600, ("duration", "s", TOTAL)),
]
NAMES = [(name, value, spec) for names, value, spec in NAME_TABLE for name in names]


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
    spec = sensor_description(key, value)
    assert (spec.device_class, spec.native_unit_of_measurement) == expected


@pytest.mark.parametrize(("key", "value", "expected"), NAMES)
def test_every_name_of_the_readme(
    key: str, value: float, expected: tuple[str | None, str | None, str]
) -> None:
    """Each name of the README's table gives its class, unit and state class."""
    spec = sensor_description(key, value)
    assert (
        spec.device_class,
        spec.native_unit_of_measurement,
        spec.state_class,
    ) == expected


def test_the_readme_lists_the_names_of_the_table() -> None:
    """The README's table and SENSOR_FIELDS name the same fields, and so does this test."""
    section = README.read_text().split("### Units and device classes")[1]
    table = section.split("\n\n")[2]
    listed = {
        name
        for row in table.splitlines()[2:]
        for name in re.findall(r"`([^`]+)`", row.split("|")[1])
    }
    assert listed == set(SENSOR_FIELDS)
    assert {name for name, _, _ in NAMES} == listed


# Channel numbers and sensor tags (field_table.NOISE_WORDS), as decoders write them.
NOISE = (
    "sht",
    "ds",
    "ext",
    "int",
    "internal",
    "external",
    "avg",
    "average",
    "mean",
    "std",
    "min",
    "max",
    "peak",
    "last",
    "value",
    "val",
    "2",
)


@pytest.mark.parametrize("noise", NOISE)
def test_channel_numbers_and_sensor_tags_are_looked_past(noise: str) -> None:
    spec = sensor_description(f"humidity_{noise}", 50)
    assert (spec.device_class, spec.native_unit_of_measurement) == ("humidity", "%")


@pytest.mark.parametrize(
    ("key", "value", "unit"),
    [
        # Percent up to 100 (whole numbers, or 5 and above); volts for a fraction
        # below 5; millivolts above 100.
        ("battery", 100, "%"),
        ("battery", 101, "mV"),
        ("battery", 3, "%"),
        ("battery", 5.0, "%"),
        ("battery", 4.99, "V"),
        ("battery_voltage", 100, "V"),
        ("battery_voltage", 101, "mV"),
        # Pa from 20000, hPa from 300, kPa from 30, else no unit.
        ("pressure", 20000, "Pa"),
        ("pressure", 19999.5, "hPa"),
        ("pressure", 300, "hPa"),
        ("pressure", 299.5, "kPa"),
        ("pressure", 30, "kPa"),
        ("pressure", 29.5, None),
    ],
)
def test_units_by_range_change_at_the_readmes_bounds(
    key: str, value: float, unit: str | None
) -> None:
    assert sensor_description(key, value).native_unit_of_measurement == unit


def test_field_table_is_valid_for_home_assistant() -> None:
    """Every unit and state class in the table is one Home Assistant accepts."""
    for name, rule in SENSOR_FIELDS.items():
        specs = (
            [rule]
            if not callable(rule)
            else [rule(value) for value in (1, 3.3, 50, 500, 5000, 50000, 200000)]
        )
        for spec in specs:
            if spec.device_class is None:
                continue
            assert (
                spec.native_unit_of_measurement in DEVICE_CLASS_UNITS[spec.device_class]
            ), name
            assert spec.state_class in DEVICE_CLASS_STATE_CLASSES[spec.device_class], (
                name
            )


def test_counters_are_total_increasing() -> None:
    """Counters (`count`, `pulses`, `door_open_times`) add up; they are not measurements."""
    for key in ("count", "open_count", "pulses", "DOOR_OPEN_TIMES"):
        assert (
            sensor_description(key, 12).state_class is SensorStateClass.TOTAL_INCREASING
        )


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
        ("tvoc", "TVOC"),
        ("voc_index", "VOC index"),
        ("pm1", "PM1"),
        ("pm10", "PM10"),
        ("rssi", "RSSI"),
        ("snr", "SNR"),
        ("uv_index", "UV index"),
        ("soil_ph", "Soil pH"),
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
    spec = sensor_description(key, value)
    assert (readable_name(key), spec.device_class, spec.native_unit_of_measurement) == (
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
    spec = sensor_description(key, 12)
    assert (readable_name(key), spec.device_class, spec.native_unit_of_measurement) == (
        name,
        device_class,
        unit,
    )


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


@pytest.mark.parametrize(
    ("words", "device_class"),
    [
        (("tamper",), BinarySensorDeviceClass.TAMPER),
        (("smoke",), BinarySensorDeviceClass.SMOKE),
        (("leak", "leakage", "flood", "water"), BinarySensorDeviceClass.MOISTURE),
        (("gas",), BinarySensorDeviceClass.GAS),
        (("door",), BinarySensorDeviceClass.DOOR),
        (("window",), BinarySensorDeviceClass.WINDOW),
        (
            ("open", "opening", "contact", "magnet", "reed"),
            BinarySensorDeviceClass.OPENING,
        ),
        (("motion", "pir"), BinarySensorDeviceClass.MOTION),
        (("occupancy", "occupied"), BinarySensorDeviceClass.OCCUPANCY),
        (("presence", "present"), BinarySensorDeviceClass.PRESENCE),
        (("vibration", "shock"), BinarySensorDeviceClass.VIBRATION),
        (("moving",), BinarySensorDeviceClass.MOVING),
        (("heat",), BinarySensorDeviceClass.HEAT),
        (("cold",), BinarySensorDeviceClass.COLD),
        (("alarm", "error", "fault"), BinarySensorDeviceClass.PROBLEM),
    ],
)
def test_every_boolean_word_of_the_readme(
    words: tuple[str, ...], device_class: BinarySensorDeviceClass
) -> None:
    for word in words:
        assert binary_sensor_class(f"{word}_state") is device_class, word


@pytest.mark.parametrize(
    ("key", "device_class"),
    [
        ("low_battery", BinarySensorDeviceClass.BATTERY),
        ("BATT_LOW", BinarySensorDeviceClass.BATTERY),
        ("lowBat", BinarySensorDeviceClass.BATTERY),
        # Low, but not the battery; the battery, but not low.
        ("low_water", BinarySensorDeviceClass.MOISTURE),
        ("low", None),
        ("battery_ok", None),
    ],
)
def test_low_battery_needs_both_words(
    key: str, device_class: BinarySensorDeviceClass | None
) -> None:
    assert binary_sensor_class(key) is device_class


def test_position_roles() -> None:
    """The last word says the role; the words before it group a position's fields."""
    assert position_role("gps_34_latitude") == (("gps", "34"), "latitude")
    assert position_role("gps_longitude") == (("gps",), "longitude")
    assert position_role("gps_altitude") == (("gps",), "altitude")
    assert position_role("location_accuracy") == (("location",), "accuracy")
    assert position_role("Lng") == ((), "longitude")
    assert position_role("alt") == ((), "altitude")
    assert position_role("hdop") == ((), "hdop")
    assert position_role("latitude_2") is None
    assert position_role("temperature") is None
    assert position_role("") is None


def test_only_numbers_named_like_coordinates_are_coordinates() -> None:
    assert is_coordinate("latitude", 48.1)
    assert is_coordinate("gps_lon", 9)
    # Dragino's LON is its LED: "ON".
    assert not is_coordinate("LON", "ON")
    assert not is_coordinate("latitude", True)
    assert not is_coordinate("altitude", 310)
    assert not is_coordinate("temperature", 21.5)


def test_a_position_needs_a_latitude_and_a_longitude() -> None:
    """A latitude alone makes no tracker; the first complete position is the one."""
    assert find_position_keys({"latitude": 48.1, "temperature": 21.5}) is None
    assert find_position_keys({"latitude": 48.1, "longitude": "east"}) is None
    assert find_position_keys({"longitude": 9.2}) is None
    assert find_position_keys(
        {
            "wifi_lat": 1.0,
            "gps_lat": 48.1,
            "gps_latitude": 0.0,
            "gps_lng": 9.2,
            "gps_alt": 310,
            "gps_hdop": 0.9,
        }
    ) == {
        "latitude": "gps_lat",
        "longitude": "gps_lng",
        "altitude": "gps_alt",
        "hdop": "gps_hdop",
    }


@pytest.mark.parametrize(
    ("key", "value", "platform"),
    [
        ("temperature", None, None),
        ("latitude", 48.1, Platform.DEVICE_TRACKER),
        ("LON", "ON", Platform.SENSOR),
        ("door_open", True, Platform.BINARY_SENSOR),
        ("temperature", 21.5, Platform.SENSOR),
        ("status", "ok", Platform.SENSOR),
    ],
)
def test_which_platform_shows_a_field(key: str, value: Any, platform: Platform) -> None:
    assert field_platform(key, value) is platform


def test_numbers() -> None:
    assert is_number(1)
    assert is_number(-0.5)
    assert not is_number(True)
    assert not is_number("1")
    assert not is_number(None)
    assert finite_number("-0.9") == -0.9
    assert finite_number(" 12 ") == 12.0
    for text in ("NaN", "Infinity", "-inf", "x", ""):
        assert finite_number(text) is None, text


# Words a name writes otherwise (field_table.NAME_WORDS), as a user reads them after "X".
NAME_WORDS = {
    "temp": "temperature", "tempc": "temperature", "hum": "humidity",
    "bat": "battery", "batt": "battery", "batv": "battery",
    "vbat": "battery voltage", "alt": "altitude", "fw": "firmware",
    "co": "CO", "nh3": "NH3", "no2": "NO2", "o3": "O3", "h2s": "H2S", "ch4": "CH4",
    "iaq": "IAQ", "sf": "SF", "gps": "GPS", "hdop": "HDOP", "pdop": "PDOP",
    "vdop": "VDOP", "rh": "RH", "ec": "EC", "id": "ID", "eui": "EUI", "led": "LED",
    "adc": "ADC", "pir": "PIR", "sht": "SHT", "ds": "DS", "vdd": "VDD",
}  # fmt: skip
UNIT_WORDS = (
    "s", "sec", "ms", "c", "f", "v", "mv", "pct", "percent", "ppm", "ppb", "hpa",
    "pa", "kpa", "m", "mm", "cm", "db", "dbm", "kwh", "wh", "w", "ma", "lux", "lx",
)  # fmt: skip


@pytest.mark.parametrize(("word", "written"), NAME_WORDS.items())
def test_name_words(word: str, written: str) -> None:
    """Abbreviations are spelled out and acronyms written in capitals."""
    assert readable_name(f"level_{word}") == f"Level {written}"


@pytest.mark.parametrize("unit", UNIT_WORDS)
def test_units_are_left_out_of_names(unit: str) -> None:
    """A unit after the first word is the entity's unit, not part of its name."""
    assert readable_name(f"level_{unit}") == "Level"
    assert readable_name(unit) == unit.capitalize()


def test_run_together_words_and_battery_units() -> None:
    """A quantity run together with three letters or more before it is cut off."""
    assert readable_name("ABCVOLTAGE") == "Abc voltage"
    assert readable_name("ABVOLTAGE") == "Abvoltage"
    assert readable_name("level_v") == "Level"
    assert readable_name("battery_v") == "Battery voltage"
    assert readable_name("v_battery") == "V battery"


@pytest.mark.parametrize(
    "quantity",
    ["voltage", "temperature", "humidity", "pressure", "current", "power", "energy",
     "level", "status"],
)  # fmt: skip
@pytest.mark.parametrize("qualifier", ["", "min", "max", "avg"])
def test_every_run_together_quantity(quantity: str, qualifier: str) -> None:
    """`SOILTEMPERATUREMAX` reads "Soil temperature max", as its decoder meant."""
    key = f"SOIL{quantity}{qualifier}".upper()
    assert readable_name(key) == " ".join(
        word for word in ("Soil", quantity, qualifier) if word
    )
