"""What a decoded field is, judged from its name: platform, unit, device class, name.

Decoders in TTN's device repository name the same quantity in many ways (`temperature`,
`TempC_SHT`, `temperature_3` from Cayenne LPP, `BatV`). A name is cut into lowercase
words (`TempC_SHT` -> temp, c, sht); then the table below is looked up with the whole
name and with its endings (`soil_temperature` -> `temperature`), first with every
word and then without channel numbers and sensor tags (`_3`, `_SHT`). The first hit
wins. Everything here is computed once per field, not once per uplink.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
import math
import re
from typing import Any, TypeIs

from homeassistant.components.binary_sensor import BinarySensorDeviceClass
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorStateClass,
)
from homeassistant.const import (
    DEGREE,
    LIGHT_LUX,
    PERCENTAGE,
    SIGNAL_STRENGTH_DECIBELS,
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    UV_INDEX,
    Platform,
    UnitOfConductivity,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfLength,
    UnitOfPower,
    UnitOfPressure,
    UnitOfSoundPressure,
    UnitOfSpeed,
    UnitOfTemperature,
    UnitOfTime,
    UnitOfVolume,
    UnitOfVolumetricFlux,
)

from .compat import MICROGRAMS_PER_CUBIC_METER, PARTS_PER_BILLION, PARTS_PER_MILLION


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """How a numeric field is shown."""

    device_class: SensorDeviceClass | None = None
    unit: str | None = None
    state_class: SensorStateClass | None = SensorStateClass.MEASUREMENT


MEASUREMENT = FieldSpec()
COUNTER = FieldSpec(state_class=SensorStateClass.TOTAL_INCREASING)

_TEMPERATURE = FieldSpec(SensorDeviceClass.TEMPERATURE, UnitOfTemperature.CELSIUS)
_HUMIDITY = FieldSpec(SensorDeviceClass.HUMIDITY, PERCENTAGE)
_VOLTS = FieldSpec(SensorDeviceClass.VOLTAGE, UnitOfElectricPotential.VOLT)
_MILLIVOLTS = FieldSpec(SensorDeviceClass.VOLTAGE, UnitOfElectricPotential.MILLIVOLT)
_BATTERY = FieldSpec(SensorDeviceClass.BATTERY, PERCENTAGE)
_ILLUMINANCE = FieldSpec(SensorDeviceClass.ILLUMINANCE, LIGHT_LUX)
_CO2 = FieldSpec(SensorDeviceClass.CO2, PARTS_PER_MILLION)
# TVOC is sent in ppb by the common sensor chips (SGP30, SGP40 index aside).
_TVOC = FieldSpec(SensorDeviceClass.VOLATILE_ORGANIC_COMPOUNDS_PARTS, PARTS_PER_BILLION)
_DISTANCE = FieldSpec(SensorDeviceClass.DISTANCE, UnitOfLength.MILLIMETERS)
_WATER = FieldSpec(
    SensorDeviceClass.WATER, UnitOfVolume.LITERS, SensorStateClass.TOTAL_INCREASING
)
_ENERGY = FieldSpec(
    SensorDeviceClass.ENERGY,
    UnitOfEnergy.KILO_WATT_HOUR,
    SensorStateClass.TOTAL_INCREASING,
)
_POWER = FieldSpec(SensorDeviceClass.POWER, UnitOfPower.WATT)
_CURRENT = FieldSpec(SensorDeviceClass.CURRENT, UnitOfElectricCurrent.AMPERE)
_RSSI = FieldSpec(SensorDeviceClass.SIGNAL_STRENGTH, SIGNAL_STRENGTH_DECIBELS_MILLIWATT)
_SNR = FieldSpec(SensorDeviceClass.SIGNAL_STRENGTH, SIGNAL_STRENGTH_DECIBELS)
_MOISTURE = FieldSpec(SensorDeviceClass.MOISTURE, PERCENTAGE)
_PM = MICROGRAMS_PER_CUBIC_METER


def _battery(value: float) -> FieldSpec:
    """Battery: millivolts above 100, volts for a small fraction, else percent."""
    if value > 100:
        return _MILLIVOLTS
    if isinstance(value, float) and value < 5:
        return _VOLTS
    return _BATTERY


def _battery_voltage(value: float) -> FieldSpec:
    return _MILLIVOLTS if value > 100 else _VOLTS


def _pressure_spec(device_class: SensorDeviceClass) -> Callable[[float], FieldSpec]:
    """Pressure: Pa, hPa or kPa by magnitude; air is about 101325 Pa = 1013 hPa = 101 kPa."""

    def spec(value: float) -> FieldSpec:
        if value >= 20000:
            return FieldSpec(device_class, UnitOfPressure.PA)
        if value >= 300:
            return FieldSpec(device_class, UnitOfPressure.HPA)
        if value >= 30:
            return FieldSpec(device_class, UnitOfPressure.KPA)
        return MEASUREMENT

    return spec


type SensorRule = FieldSpec | Callable[[float], FieldSpec]

_PRESSURE = _pressure_spec(SensorDeviceClass.PRESSURE)
_AIR_PRESSURE = _pressure_spec(SensorDeviceClass.ATMOSPHERIC_PRESSURE)

# Field names found in TTN device-repository decoders, by meaning.
SENSOR_FIELDS: Mapping[str, SensorRule] = {
    **dict.fromkeys(
        (
            "temperature",
            "temp",
            "temp_c",
            "tempc",
            "temperature_c",
            "celsius",
        ),
        _TEMPERATURE,
    ),
    **dict.fromkeys(
        ("temp_f", "tempf", "temperature_f", "fahrenheit"),
        FieldSpec(SensorDeviceClass.TEMPERATURE, UnitOfTemperature.FAHRENHEIT),
    ),
    **dict.fromkeys(
        ("humidity", "hum", "rh", "relative_humidity", "air_humidity"), _HUMIDITY
    ),
    **dict.fromkeys(
        ("battery", "bat", "batt", "battery_level", "bat_level", "battery_percentage"),
        _battery,
    ),
    **dict.fromkeys(
        ("bat_v", "batv", "battery_v", "battery_voltage", "vbat", "v_bat", "bat_volt"),
        _battery_voltage,
    ),
    **dict.fromkeys(("battery_mv", "bat_mv", "vdd"), _MILLIVOLTS),
    **dict.fromkeys(("voltage", "volt", "volts"), _VOLTS),
    "pressure": _PRESSURE,
    **dict.fromkeys(
        (
            "barometric_pressure",
            "air_pressure",
            "atmospheric_pressure",
            "baro",
            "barometer",
        ),
        _AIR_PRESSURE,
    ),
    **dict.fromkeys(("co2", "co2_ppm", "carbon_dioxide"), _CO2),
    **dict.fromkeys(("tvoc", "voc", "vocs"), _TVOC),
    **dict.fromkeys(
        (
            "illuminance",
            "illumination",
            "light",
            "lux",
            "luminosity",
            "light_intensity",
            "light_lux",
        ),
        _ILLUMINANCE,
    ),
    **dict.fromkeys(("pm2_5", "pm25"), FieldSpec(SensorDeviceClass.PM25, _PM)),
    "pm10": FieldSpec(SensorDeviceClass.PM10, _PM),
    **dict.fromkeys(("pm1", "pm1_0"), FieldSpec(SensorDeviceClass.PM1, _PM)),
    **dict.fromkeys(("distance", "dist"), _DISTANCE),
    **dict.fromkeys(("water", "water_volume", "water_meter", "volume"), _WATER),
    **dict.fromkeys(("energy", "active_energy", "total_energy", "kwh"), _ENERGY),
    **dict.fromkeys(("power", "active_power"), _POWER),
    **dict.fromkeys(("current", "amps"), _CURRENT),
    **dict.fromkeys(
        ("count", "counter", "pulse", "pulses", "impulses", "times"), COUNTER
    ),
    "rssi": _RSSI,
    "snr": _SNR,
    **dict.fromkeys(("moisture", "soil_moisture"), _MOISTURE),
    **dict.fromkeys(
        ("conductivity", "ec", "electrical_conductivity"),
        FieldSpec(
            SensorDeviceClass.CONDUCTIVITY, UnitOfConductivity.MICROSIEMENS_PER_CM
        ),
    ),
    "ph": FieldSpec(SensorDeviceClass.PH),
    **dict.fromkeys(
        ("sound", "noise", "sound_level", "laeq"),
        FieldSpec(SensorDeviceClass.SOUND_PRESSURE, UnitOfSoundPressure.DECIBEL),
    ),
    "wind_speed": FieldSpec(
        SensorDeviceClass.WIND_SPEED, UnitOfSpeed.METERS_PER_SECOND
    ),
    "wind_direction": FieldSpec(
        SensorDeviceClass.WIND_DIRECTION, DEGREE, SensorStateClass.MEASUREMENT_ANGLE
    ),
    **dict.fromkeys(
        ("rain_gauge", "rain_rate", "rainfall_rate"),
        FieldSpec(
            SensorDeviceClass.PRECIPITATION_INTENSITY,
            UnitOfVolumetricFlux.MILLIMETERS_PER_HOUR,
        ),
    ),
    "uv_index": FieldSpec(unit=UV_INDEX),
    **dict.fromkeys(
        ("uptime", "uptime_s"),
        FieldSpec(
            SensorDeviceClass.DURATION,
            UnitOfTime.SECONDS,
            SensorStateClass.TOTAL_INCREASING,
        ),
    ),
    **dict.fromkeys(
        ("altitude", "alt"), FieldSpec(SensorDeviceClass.DISTANCE, UnitOfLength.METERS)
    ),
}

# Boolean fields, by the first of these words found in the name.
BINARY_SENSOR_WORDS: tuple[tuple[str, BinarySensorDeviceClass], ...] = (
    ("tamper", BinarySensorDeviceClass.TAMPER),
    ("smoke", BinarySensorDeviceClass.SMOKE),
    ("leak", BinarySensorDeviceClass.MOISTURE),
    ("leakage", BinarySensorDeviceClass.MOISTURE),
    ("flood", BinarySensorDeviceClass.MOISTURE),
    ("water", BinarySensorDeviceClass.MOISTURE),
    ("gas", BinarySensorDeviceClass.GAS),
    ("door", BinarySensorDeviceClass.DOOR),
    ("window", BinarySensorDeviceClass.WINDOW),
    ("open", BinarySensorDeviceClass.OPENING),
    ("opening", BinarySensorDeviceClass.OPENING),
    ("contact", BinarySensorDeviceClass.OPENING),
    ("magnet", BinarySensorDeviceClass.OPENING),
    ("reed", BinarySensorDeviceClass.OPENING),
    ("motion", BinarySensorDeviceClass.MOTION),
    ("pir", BinarySensorDeviceClass.MOTION),
    ("occupancy", BinarySensorDeviceClass.OCCUPANCY),
    ("occupied", BinarySensorDeviceClass.OCCUPANCY),
    ("presence", BinarySensorDeviceClass.PRESENCE),
    ("present", BinarySensorDeviceClass.PRESENCE),
    ("vibration", BinarySensorDeviceClass.VIBRATION),
    ("shock", BinarySensorDeviceClass.VIBRATION),
    ("moving", BinarySensorDeviceClass.MOVING),
    ("heat", BinarySensorDeviceClass.HEAT),
    ("cold", BinarySensorDeviceClass.COLD),
    ("alarm", BinarySensorDeviceClass.PROBLEM),
    ("error", BinarySensorDeviceClass.PROBLEM),
    ("fault", BinarySensorDeviceClass.PROBLEM),
)
_BATTERY_WORDS = frozenset(("battery", "bat", "batt"))

# Channel numbers and sensor tags, left out for the second look-up.
NOISE_WORDS = frozenset(
    (
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
    )
)

LATITUDE_WORDS = frozenset(("latitude", "lat"))
LONGITUDE_WORDS = frozenset(("longitude", "lon", "lng"))
_POSITION_ROLES: Mapping[str, str] = {
    **dict.fromkeys(LATITUDE_WORDS, "latitude"),
    **dict.fromkeys(LONGITUDE_WORDS, "longitude"),
    "altitude": "altitude",
    "alt": "altitude",
    "accuracy": "accuracy",
    "hdop": "hdop",
}

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# Words are letters and digits of any script; `_` and everything else separates them.
_NOT_WORD = re.compile(r"[\W_]+")
_PM25 = re.compile(r"pm2[._]5", re.IGNORECASE)
# A unit with a channel number run together, as Dragino's `TempC1` (temp, c, 1).
_UNIT_AND_CHANNEL = re.compile(r"(c|f|v|mv)(\d+)")
# Quantities that decoders write run together with what they measure in upper case
# (`BATTERYVOLTAGE`, `FENCEVOLTAGE`): such a word is cut before them.
_TRAILING_QUANTITIES = (
    "voltage",
    "temperature",
    "humidity",
    "pressure",
    "current",
    "power",
    "energy",
    "level",
    "status",
)


# What may follow such a quantity, run together too (`FENCEVOLTAGEMAX`).
_TRAILING_QUALIFIERS = ("min", "max", "avg")


def _cut(word: str) -> tuple[str, ...]:
    """Cut a run-together word into the words it is made of, when it is one."""
    if (unit := _UNIT_AND_CHANNEL.fullmatch(word)) is not None:
        return unit.groups()
    if word in SENSOR_FIELDS:
        return (word,)
    for quantity in _TRAILING_QUANTITIES:
        if word.endswith(quantity) and len(word) - len(quantity) >= 3:
            return (*_cut(word[: -len(quantity)]), quantity)
    for qualifier in _TRAILING_QUALIFIERS:
        if word.endswith(qualifier):
            words = _cut(word[: -len(qualifier)])
            if words[-1] in _TRAILING_QUANTITIES:
                return (*words, qualifier)
    return (word,)


@lru_cache(maxsize=4096)
def field_words(key: str) -> tuple[str, ...]:
    """Cut a field name into lowercase words: `TempC_SHT` -> ("temp", "c", "sht").

    `TempC1` -> ("temp", "c", "1") and `BATTERYVOLTAGE` -> ("battery", "voltage").
    """
    text = _PM25.sub("pm25", _CAMEL.sub("_", key)).lower()
    return tuple(part for word in _NOT_WORD.split(text) if word for part in _cut(word))


def _lookups(key: str) -> Iterator[str]:
    words = field_words(key)
    meaningful = tuple(
        word for word in words if not word.isdigit() and word not in NOISE_WORDS
    )
    for sequence in (words, meaningful):
        for start in range(len(sequence)):
            yield "_".join(sequence[start:])


@lru_cache(maxsize=4096)
def _sensor_rule(key: str) -> SensorRule | None:
    for name in _lookups(key):
        if (rule := SENSOR_FIELDS.get(name)) is not None:
            return rule
    return None


def sensor_spec(key: str, value: float) -> FieldSpec:
    """Return how a numeric field is shown; value is its first reading, for the ranges."""
    rule = _sensor_rule(key)
    if rule is None:
        return MEASUREMENT
    return rule if isinstance(rule, FieldSpec) else rule(value)


@lru_cache(maxsize=4096)
def binary_sensor_class(key: str) -> BinarySensorDeviceClass | None:
    """Return the device class of a boolean field from its name."""
    words = set(field_words(key))
    if "low" in words and words & _BATTERY_WORDS:
        return BinarySensorDeviceClass.BATTERY
    for word, device_class in BINARY_SENSOR_WORDS:
        if word in words:
            return device_class
    return None


@lru_cache(maxsize=4096)
def position_role(key: str) -> tuple[tuple[str, ...], str] | None:
    """Return (what comes before, role) when a field is part of a position.

    `gps_34_latitude` -> (("gps", "34"), "latitude"); fields with the same prefix
    form one position.
    """
    words = field_words(key)
    if words and (role := _POSITION_ROLES.get(words[-1])) is not None:
        return words[:-1], role
    return None


def is_coordinate(key: str, value: Any) -> bool:
    """Return whether a field is a latitude or longitude, shown by the tracker only.

    Only numbers count: Dragino's `LON` is its LED ("ON"), not a longitude.
    """
    position = position_role(key)
    return (
        position is not None
        and position[1] in ("latitude", "longitude")
        and is_number(value)
    )


def is_number(value: Any) -> TypeIs[int | float]:
    """Return whether a field's value is a number (booleans are not).

    JSON has no NaN or infinity (orjson refuses 1e999), so a parsed number is finite.
    """
    return isinstance(value, int | float) and not isinstance(value, bool)


def number_from_text(text: str) -> float | None:
    """Return the number a decoder wrote as text ("-0.9"), or None.

    "NaN" and "Infinity", which JavaScript decoders write for a missing reading, are
    None too: Home Assistant refuses non-finite values.
    """
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def find_position_keys(fields: Mapping[str, Any]) -> dict[str, str] | None:
    """Return the keys of the first position among the fields, by role, or None."""
    groups: dict[tuple[str, ...], dict[str, str]] = {}
    for key, value in fields.items():
        if (position := position_role(key)) is not None and is_number(value):
            groups.setdefault(position[0], {}).setdefault(position[1], key)
    for roles in groups.values():
        if "latitude" in roles and "longitude" in roles:
            return roles
    return None


def field_platform(key: str, value: Any) -> Platform | None:
    """Return the platform that shows a field, or None while its value is unknown."""
    if value is None:
        return None
    if is_coordinate(key, value):
        return Platform.DEVICE_TRACKER
    if isinstance(value, bool):
        return Platform.BINARY_SENSOR
    return Platform.SENSOR


# Units that decoders add to a name (`uptime_s`, `BatV`, `TempC1`): the entity shows
# its unit apart, so the name leaves them out (unless the name is only a unit).
_UNIT_WORDS = frozenset(
    (
        "s", "sec", "ms", "c", "f", "v", "mv", "pct", "percent", "ppm", "ppb",
        "hpa", "pa", "kpa", "m", "mm", "cm", "db", "dbm", "kwh", "wh", "w", "ma",
        "lux", "lx",
    )
)  # fmt: skip
# Words written otherwise in a name: abbreviations spelled out, acronyms in capitals.
_NAME_WORDS: Mapping[str, str] = {
    "temp": "temperature",
    "tempc": "temperature",
    "hum": "humidity",
    "bat": "battery",
    "batt": "battery",
    "batv": "battery",
    "vbat": "battery voltage",
    "alt": "altitude",
    "fw": "firmware",
    "pm25": "PM2.5",
    "ph": "pH",
    **{
        word: word.upper()
        for word in (
            "co2", "co", "tvoc", "voc", "pm1", "pm10", "nh3", "no2", "o3", "h2s",
            "ch4", "iaq", "rssi", "snr", "sf", "gps", "hdop", "pdop", "vdop", "uv",
            "rh", "ec", "id", "eui", "led", "adc", "pir", "sht", "ds", "vdd",
        )
    },
}  # fmt: skip


@lru_cache(maxsize=4096)
def readable_name(key: str) -> str:
    """Name a field after its key: `battery_voltage` -> "Battery voltage".

    Units are left out (`uptime_s` -> "Uptime"), abbreviations spelled out and
    acronyms in capitals (`TempC_SHT` -> "Temperature SHT", `hdop` -> "HDOP").
    """
    kept: list[str] = []
    for word in field_words(key):
        if not kept or word not in _UNIT_WORDS:
            kept.append(_NAME_WORDS.get(word, word))
        elif word in ("v", "mv") and kept[-1] == "battery":
            kept.append("voltage")  # `BatV`: a battery's voltage, not its charge
    name = " ".join(kept) or key
    return name[:1].upper() + name[1:]
