"""What a decoded field is, judged from its name: platform, unit, device class, name.

Decoders in TTN's device repository name the same quantity in many ways (`temperature`,
`TempC_SHT`, `temperature_3` from Cayenne LPP, `BatV`). A name is cut into lowercase
words (`TempC_SHT` -> temp, c, sht); then the field table (field_table.py) is looked up with the whole
name and with its endings (`soil_temperature` -> `temperature`), first with every
word and then without channel numbers and sensor tags (`_3`, `_SHT`). The first hit
wins. Everything here is computed once per field, not once per uplink.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from functools import lru_cache
import re
from typing import Any, TypeIs

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntityDescription,
)
from homeassistant.components.sensor import (
    DEVICE_CLASS_STATE_CLASSES,
    DEVICE_CLASS_UNITS,
    SensorDeviceClass,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import Platform

from .field_table import (
    BATTERY_WORDS,
    BINARY_SENSOR_WORDS,
    MEASUREMENT,
    NAME_WORDS,
    NOISE_WORDS,
    POSITION_ROLES,
    SENSOR_FIELDS,
    TRAILING_QUALIFIERS,
    TRAILING_QUANTITIES,
    UNIT_WORDS,
    SensorRule,
)

# Decoded fields get this before their key in unique ids, so that a field named like a
# fixed entity (`rssi`, `last_seen`) never takes that entity's id.
FIELD_KEY_PREFIX = "field_"
# A device class that is not a number cannot come from a decoder's hint.
_NOT_NUMERIC = {
    SensorDeviceClass.DATE,
    SensorDeviceClass.ENUM,
    SensorDeviceClass.TIMESTAMP,
}

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# Words are letters and digits of any script; `_` and everything else separates them.
_NOT_WORD = re.compile(r"[\W_]+")
_PM25 = re.compile(r"pm2[._]5", re.IGNORECASE)
# A unit with a channel number run together, as Dragino's `TempC1` (temp, c, 1).
_UNIT_AND_CHANNEL = re.compile(r"(c|f|v|mv)(\d+)")


def _cut(word: str) -> tuple[str, ...]:
    """Cut a run-together word into the words it is made of, when it is one."""
    if (unit := _UNIT_AND_CHANNEL.fullmatch(word)) is not None:
        return unit.groups()
    if word in SENSOR_FIELDS:
        return (word,)
    for quantity in TRAILING_QUANTITIES:
        if word.endswith(quantity) and len(word) - len(quantity) >= 3:
            return (*_cut(word[: -len(quantity)]), quantity)
    for qualifier in TRAILING_QUALIFIERS:
        if word.endswith(qualifier):
            words = _cut(word[: -len(qualifier)])
            if words[-1] in TRAILING_QUANTITIES:
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


def sensor_description(
    key: str, value: float, hint: Mapping[str, str] | None = None
) -> SensorEntityDescription:
    """Describe a numeric field's sensor from its name, first reading and hint.

    The reading picks between ranges (millivolts or volts); the decoder's
    `_sensor_attr` hint goes over what the name says.
    """
    rule = _sensor_rule(key)
    # Not isinstance: Home Assistant builds descriptions of a twin class.
    shown = MEASUREMENT if rule is None else rule(value) if callable(rule) else rule
    shown = _with_hint(shown, hint)
    translation_key = None
    if shown.device_class is None:
        # Its icon: a device class brings one, the rest get ours (icons.json).
        translation_key = (
            "counter"
            if shown.state_class is SensorStateClass.TOTAL_INCREASING
            else "measurement"
        )
    return replace(
        shown,
        key=f"{FIELD_KEY_PREFIX}{key}",
        name=readable_name(key),
        translation_key=translation_key,
    )


def text_description(key: str) -> SensorEntityDescription:
    """Describe the sensor of a field whose first value is not a number."""
    return SensorEntityDescription(
        key=f"{FIELD_KEY_PREFIX}{key}", name=readable_name(key), translation_key="text"
    )


def binary_sensor_description(
    key: str, hint: Mapping[str, str] | None = None
) -> BinarySensorEntityDescription:
    """Describe a boolean field's sensor: its class from the hint, else from its name."""
    device_class = hinted(BinarySensorDeviceClass, hint) or binary_sensor_class(key)
    return BinarySensorEntityDescription(
        key=f"{FIELD_KEY_PREFIX}{key}",
        name=readable_name(key),
        device_class=device_class,
        # For its icons (icons.json).
        translation_key=None if device_class else "flag",
    )


def hinted[EnumT: (SensorDeviceClass, SensorStateClass, BinarySensorDeviceClass)](
    enum: type[EnumT], hint: Mapping[str, str] | None, part: str = "device_class"
) -> EnumT | None:
    """Return a part of a decoder's `_sensor_attr` hint as a member of enum, if it is one."""
    if not hint or (text := hint.get(part)) is None:
        return None
    try:
        return enum(text)
    except ValueError:
        return None


def _with_hint(
    shown: SensorEntityDescription, hint: Mapping[str, str] | None
) -> SensorEntityDescription:
    """Apply a decoder's `_sensor_attr` hint; invalid parts are ignored.

    A hint's device class is dropped when its unit does not fit it, and a state class
    that does not fit the device class is replaced by one that does, as Home Assistant
    would refuse the pair.
    """
    if not hint:
        return shown
    device_class = hinted(SensorDeviceClass, hint)
    if device_class in _NOT_NUMERIC:
        device_class = None
    state_class = hinted(SensorStateClass, hint, "state_class")
    unit = hint.get("unit_of_measurement") or None
    if device_class is None and unit is None and state_class is None:
        return shown
    if device_class is None:
        device_class = shown.device_class
        unit = unit or shown.native_unit_of_measurement
    elif unit is None and device_class == shown.device_class:
        unit = shown.native_unit_of_measurement
    if device_class is not None and unit not in DEVICE_CLASS_UNITS.get(
        device_class, {unit}
    ):
        device_class = None
    if state_class is None and shown.state_class is not None:
        # A member already; Home Assistant 2025.4 types it as text too.
        state_class = SensorStateClass(shown.state_class)
    if (
        device_class is not None
        and (allowed := DEVICE_CLASS_STATE_CLASSES.get(device_class)) is not None
        and state_class not in allowed
    ):
        state_class = min(allowed) if allowed else None
    return replace(
        shown,
        device_class=device_class,
        native_unit_of_measurement=unit,
        # Home Assistant 2026 types the field as the enum only.
        state_class=None if state_class is None else SensorStateClass(state_class),
    )


@lru_cache(maxsize=4096)
def binary_sensor_class(key: str) -> BinarySensorDeviceClass | None:
    """Return the device class of a boolean field from its name."""
    words = set(field_words(key))
    if "low" in words and words & BATTERY_WORDS:
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
    if words and (role := POSITION_ROLES.get(words[-1])) is not None:
        return words[:-1], role
    return None


def is_coordinate_name(key: str) -> bool:
    """Return whether a field's name is that of a latitude or longitude."""
    position = position_role(key)
    return position is not None and position[1] in ("latitude", "longitude")


def is_coordinate(key: str, value: Any) -> bool:
    """Return whether a field is a latitude or longitude, shown by the tracker only.

    Only numbers count: Dragino's `LON` is its LED ("ON"), not a longitude.
    """
    return is_number(value) and is_coordinate_name(key)


def is_number(value: Any) -> TypeIs[int | float]:
    """Return whether a field's value is a number (booleans are not).

    JSON has no NaN or infinity (orjson refuses 1e999), so a parsed number is finite.
    """
    return isinstance(value, int | float) and not isinstance(value, bool)


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


def assign_platforms(platforms: dict[str, str], fields: Mapping[str, Any]) -> None:
    """Decide which platform shows each new field, once, by its first known value.

    A field that changes type later keeps its platform: it never gets a second entity.
    """
    for key, value in fields.items():
        if key not in platforms and (platform := field_platform(key, value)):
            platforms[key] = platform


@lru_cache(maxsize=4096)
def readable_name(key: str) -> str:
    """Name a field after its key: `battery_voltage` -> "Battery voltage".

    Units are left out (`uptime_s` -> "Uptime"), abbreviations spelled out and
    acronyms in capitals (`TempC_SHT` -> "Temperature SHT", `hdop` -> "HDOP").
    """
    kept: list[str] = []
    for word in field_words(key):
        if not kept or word not in UNIT_WORDS:
            kept.append(NAME_WORDS.get(word, word))
        elif word in ("v", "mv") and kept[-1] == "battery":
            kept.append("voltage")  # `BatV`: a battery's voltage, not its charge
    name = " ".join(kept) or key
    return name[:1].upper() + name[1:]
