"""The field table: decoder field names by meaning, and the words of names.

Names found in decoders of TTN's device repository (lorawan-devices); fields.py
looks a field up here. Data only: what a name maps to is the table's whole content.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from homeassistant.components.binary_sensor import BinarySensorDeviceClass
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    DEGREE,
    LIGHT_LUX,
    PERCENTAGE,
    SIGNAL_STRENGTH_DECIBELS,
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    UV_INDEX,
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


def _sensor(
    device_class: SensorDeviceClass | None = None,
    unit: str | None = None,
    state_class: SensorStateClass | None = SensorStateClass.MEASUREMENT,
) -> SensorEntityDescription:
    """Return how a kind of numeric field is shown; fields.py adds key and name."""
    return SensorEntityDescription(
        key="",
        device_class=device_class,
        native_unit_of_measurement=unit,
        state_class=state_class,
    )


MEASUREMENT = _sensor()
COUNTER = _sensor(state_class=SensorStateClass.TOTAL_INCREASING)

_TEMPERATURE = _sensor(SensorDeviceClass.TEMPERATURE, UnitOfTemperature.CELSIUS)
_HUMIDITY = _sensor(SensorDeviceClass.HUMIDITY, PERCENTAGE)
_VOLTS = _sensor(SensorDeviceClass.VOLTAGE, UnitOfElectricPotential.VOLT)
_MILLIVOLTS = _sensor(SensorDeviceClass.VOLTAGE, UnitOfElectricPotential.MILLIVOLT)
_BATTERY = _sensor(SensorDeviceClass.BATTERY, PERCENTAGE)
_ILLUMINANCE = _sensor(SensorDeviceClass.ILLUMINANCE, LIGHT_LUX)
_CO2 = _sensor(SensorDeviceClass.CO2, PARTS_PER_MILLION)
# TVOC is sent in ppb by the common sensor chips (SGP30, SGP40 index aside).
_TVOC = _sensor(SensorDeviceClass.VOLATILE_ORGANIC_COMPOUNDS_PARTS, PARTS_PER_BILLION)
_DISTANCE = _sensor(SensorDeviceClass.DISTANCE, UnitOfLength.MILLIMETERS)
_WATER = _sensor(
    SensorDeviceClass.WATER, UnitOfVolume.LITERS, SensorStateClass.TOTAL_INCREASING
)
_ENERGY = _sensor(
    SensorDeviceClass.ENERGY,
    UnitOfEnergy.KILO_WATT_HOUR,
    SensorStateClass.TOTAL_INCREASING,
)
_POWER = _sensor(SensorDeviceClass.POWER, UnitOfPower.WATT)
_CURRENT = _sensor(SensorDeviceClass.CURRENT, UnitOfElectricCurrent.AMPERE)
_RSSI = _sensor(SensorDeviceClass.SIGNAL_STRENGTH, SIGNAL_STRENGTH_DECIBELS_MILLIWATT)
_SNR = _sensor(SensorDeviceClass.SIGNAL_STRENGTH, SIGNAL_STRENGTH_DECIBELS)
_MOISTURE = _sensor(SensorDeviceClass.MOISTURE, PERCENTAGE)
_PM = MICROGRAMS_PER_CUBIC_METER


def _battery(value: float) -> SensorEntityDescription:
    """Battery: millivolts above 100, volts for a small fraction, else percent."""
    if value > 100:
        return _MILLIVOLTS
    if isinstance(value, float) and value < 5:
        return _VOLTS
    return _BATTERY


def _battery_voltage(value: float) -> SensorEntityDescription:
    return _MILLIVOLTS if value > 100 else _VOLTS


def _pressure_spec(
    device_class: SensorDeviceClass,
) -> Callable[[float], SensorEntityDescription]:
    """Pressure: Pa, hPa or kPa by magnitude; air is about 101325 Pa = 1013 hPa = 101 kPa."""

    def spec(value: float) -> SensorEntityDescription:
        if value >= 20000:
            return _sensor(device_class, UnitOfPressure.PA)
        if value >= 300:
            return _sensor(device_class, UnitOfPressure.HPA)
        if value >= 30:
            return _sensor(device_class, UnitOfPressure.KPA)
        return MEASUREMENT

    return spec


type SensorRule = SensorEntityDescription | Callable[[float], SensorEntityDescription]

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
        _sensor(SensorDeviceClass.TEMPERATURE, UnitOfTemperature.FAHRENHEIT),
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
    **dict.fromkeys(("pm2_5", "pm25"), _sensor(SensorDeviceClass.PM25, _PM)),
    "pm10": _sensor(SensorDeviceClass.PM10, _PM),
    **dict.fromkeys(("pm1", "pm1_0"), _sensor(SensorDeviceClass.PM1, _PM)),
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
        _sensor(SensorDeviceClass.CONDUCTIVITY, UnitOfConductivity.MICROSIEMENS_PER_CM),
    ),
    "ph": _sensor(SensorDeviceClass.PH),
    **dict.fromkeys(
        ("sound", "noise", "sound_level", "laeq"),
        _sensor(SensorDeviceClass.SOUND_PRESSURE, UnitOfSoundPressure.DECIBEL),
    ),
    "wind_speed": _sensor(SensorDeviceClass.WIND_SPEED, UnitOfSpeed.METERS_PER_SECOND),
    "wind_direction": _sensor(
        SensorDeviceClass.WIND_DIRECTION, DEGREE, SensorStateClass.MEASUREMENT_ANGLE
    ),
    **dict.fromkeys(
        ("rain_gauge", "rain_rate", "rainfall_rate"),
        _sensor(
            SensorDeviceClass.PRECIPITATION_INTENSITY,
            UnitOfVolumetricFlux.MILLIMETERS_PER_HOUR,
        ),
    ),
    "uv_index": _sensor(unit=UV_INDEX),
    **dict.fromkeys(
        ("uptime", "uptime_s"),
        _sensor(
            SensorDeviceClass.DURATION,
            UnitOfTime.SECONDS,
            SensorStateClass.TOTAL_INCREASING,
        ),
    ),
    **dict.fromkeys(
        ("altitude", "alt"), _sensor(SensorDeviceClass.DISTANCE, UnitOfLength.METERS)
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
BATTERY_WORDS = frozenset(("battery", "bat", "batt"))

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
POSITION_ROLES: Mapping[str, str] = {
    **dict.fromkeys(LATITUDE_WORDS, "latitude"),
    **dict.fromkeys(LONGITUDE_WORDS, "longitude"),
    "altitude": "altitude",
    "alt": "altitude",
    "accuracy": "accuracy",
    "hdop": "hdop",
}

# Quantities that decoders write run together with what they measure in upper case
# (`BATTERYVOLTAGE`, `FENCEVOLTAGE`): such a word is cut before them.
TRAILING_QUANTITIES = (
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
TRAILING_QUALIFIERS = ("min", "max", "avg")


# Units that decoders add to a name (`uptime_s`, `BatV`, `TempC1`): the entity shows
# its unit apart, so the name leaves them out (unless the name is only a unit).
UNIT_WORDS = frozenset(
    (
        "s", "sec", "ms", "c", "f", "v", "mv", "pct", "percent", "ppm", "ppb",
        "hpa", "pa", "kpa", "m", "mm", "cm", "db", "dbm", "kwh", "wh", "w", "ma",
        "lux", "lx",
    )
)  # fmt: skip
# Words written otherwise in a name: abbreviations spelled out, acronyms in capitals.
NAME_WORDS: Mapping[str, str] = {
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
