"""Turning a decoded payload into entity fields."""

from __future__ import annotations

from contextlib import suppress
import math
from typing import Any

# Decoders put unit and class hints here (a community convention); not a field itself.
SENSOR_ATTR_KEY = "_sensor_attr"
# Deeper nesting than this is not a sensor reading but a data dump; it is left out.
MAX_DEPTH = 6
# Arrays are flattened by index (`readings_0`, `readings_1`, ...) when they are short,
# as fixed-size arrays of readings are; longer ones are left out of the entities and
# stay available in the `ttn_mqtt_uplink` event.
MAX_ARRAY_ITEMS = 8

# No real decoder sends this many fields; more would be entities by the thousand (and
# a store that grows with whatever a sender makes up): the rest are left out.
MAX_FIELDS = 200
# Home Assistant's longest state; longer text is cut to it.
MAX_TEXT = 255
# The parts of a `_sensor_attr` hint that are used, each a short text.
HINT_KEYS = ("device_class", "state_class", "unit_of_measurement")
MAX_HINT_TEXT = 64

# SenseCAP decoders send readings as list items such as
# {"measurementId": "4097", "measurementValue": 21.4, "type": "Air Temperature"} whose
# position changes from uplink to uplink: each becomes a top-level field named after
# its measurement (`air_temperature`, or `measurement_<id>` for one not listed here).
MEASUREMENT_ID_KEY = "measurementId"
MEASUREMENT_VALUE_KEY = "measurementValue"
SENSECAP_MEASUREMENTS: dict[str, str] = {
    "4097": "air_temperature",
    "4098": "air_humidity",
    "4099": "light_intensity",
    "4100": "co2",
    "4101": "barometric_pressure",
    "4102": "soil_temperature",
    "4103": "soil_moisture",
    "4104": "wind_direction",
    "4105": "wind_speed",
    "4113": "rain_gauge",
    "4190": "uv_index",
}


def flatten_payload(decoded: dict[str, Any]) -> dict[str, Any]:
    """Flatten a decoded payload: {"gps_34": {"latitude": 1}} becomes {"gps_34_latitude": 1}.

    Leaves are numbers, strings, booleans and None (unknown).
    """
    fields: dict[str, Any] = {}
    if MEASUREMENT_ID_KEY in decoded:
        _flatten_into(fields, "", decoded, 0)
        return fields
    # Most fields are numbers, text or booleans at the top: taken here, on every
    # uplink, without a call each; only nested ones go down the recursion.
    for key, value in decoded.items():
        if key == SENSOR_ATTR_KEY:
            continue
        if isinstance(value, dict | list):
            _flatten_into(fields, key, value, 1)
        elif not key:
            # An empty name cannot be a field; nested, it only names nothing.
            continue
        elif isinstance(value, str):
            fields[key] = value[:MAX_TEXT]
        else:
            fields[key] = value
    return fields


def _flatten_into(fields: dict[str, Any], prefix: str, value: Any, depth: int) -> None:
    if isinstance(value, dict):
        if MEASUREMENT_ID_KEY in value and MEASUREMENT_VALUE_KEY in value:
            _add_measurement(fields, value)
            return
        if depth >= MAX_DEPTH:
            return
        for key, item in value.items():
            if key == SENSOR_ATTR_KEY and not prefix:
                continue
            _flatten_into(
                fields, f"{prefix}_{key}" if prefix else str(key), item, depth + 1
            )
    elif isinstance(value, list):
        if depth >= MAX_DEPTH:
            return
        if len(value) > MAX_ARRAY_ITEMS:
            _add_measurements(fields, value, depth)
            return
        for index, item in enumerate(value):
            _flatten_into(fields, f"{prefix}_{index}", item, depth + 1)
    elif prefix:
        fields[prefix] = value[:MAX_TEXT] if isinstance(value, str) else value


def _add_measurements(fields: dict[str, Any], items: list[Any], depth: int) -> None:
    """Keep the SenseCAP readings of a list too long to flatten by index."""
    for item in items:
        if isinstance(item, list) and depth + 1 < MAX_DEPTH:
            _add_measurements(fields, item, depth + 1)
        elif (
            isinstance(item, dict)
            and MEASUREMENT_ID_KEY in item
            and MEASUREMENT_VALUE_KEY in item
        ):
            _add_measurement(fields, item)


def _add_measurement(fields: dict[str, Any], item: dict[str, Any]) -> None:
    measurement_id = str(item[MEASUREMENT_ID_KEY])
    value = item[MEASUREMENT_VALUE_KEY]
    if isinstance(value, dict | list):
        return
    if isinstance(value, str):
        # Their decoders turn negative readings into text ("-0.9"); "NaN" is unknown.
        with suppress(ValueError):
            value = finite_number(float(value))
    key = SENSECAP_MEASUREMENTS.get(measurement_id, f"measurement_{measurement_id}")
    fields[key] = value


def finite_number(value: Any) -> float | None:
    """Return a field's value as a number: a number, or one a decoder wrote as text.

    "NaN" and "Infinity", which JavaScript decoders write for a missing reading, are
    None, as is anything else: Home Assistant refuses non-finite values.
    """
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


def sensor_hints(raw: Any) -> dict[str, dict[str, str]]:
    """Return the hints of a `_sensor_attr` (field -> hint) in the one shape used.

    Whatever else a decoder puts there is left out: it is stored, and a sender could
    nest it deeper than JSON can be written back.
    """
    if not isinstance(raw, dict):
        return {}
    hints: dict[str, dict[str, str]] = {}
    for field, hint in raw.items():
        if len(hints) >= MAX_FIELDS:
            break
        if not isinstance(field, str) or not isinstance(hint, dict):
            continue
        kept = {
            key: value
            for key in HINT_KEYS
            if isinstance(value := hint.get(key), str) and len(value) <= MAX_HINT_TEXT
        }
        if kept:
            hints[field[:MAX_TEXT]] = kept
    return hints
