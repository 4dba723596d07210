"""Turning a decoded payload into entity fields."""

from __future__ import annotations

from typing import Any

# Decoders put unit and class hints here (a community convention); not a field itself.
SENSOR_ATTR_KEY = "_sensor_attr"
# Deeper nesting than this is not a sensor reading but a data dump; it is left out.
MAX_DEPTH = 6
# Arrays are flattened by index (`readings_0`, `readings_1`, ...) when they are short,
# as fixed-size arrays of readings are; longer ones are left out of the entities and
# stay available in the `ttn_mqtt_uplink` event.
MAX_ARRAY_ITEMS = 8


def flatten_payload(decoded: dict[str, Any]) -> dict[str, Any]:
    """Flatten a decoded payload: {"gps_34": {"latitude": 1}} becomes {"gps_34_latitude": 1}.

    Leaves are numbers, strings, booleans and None (unknown).
    """
    fields: dict[str, Any] = {}
    _flatten_into(fields, "", decoded, 0)
    return fields


def _flatten_into(fields: dict[str, Any], prefix: str, value: Any, depth: int) -> None:
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            return
        for key, item in value.items():
            if key == SENSOR_ATTR_KEY and not prefix:
                continue
            _flatten_into(
                fields, f"{prefix}_{key}" if prefix else str(key), item, depth + 1
            )
    elif isinstance(value, list):
        if depth >= MAX_DEPTH or len(value) > MAX_ARRAY_ITEMS:
            return
        for index, item in enumerate(value):
            _flatten_into(fields, f"{prefix}_{index}", item, depth + 1)
    elif prefix:
        fields[prefix] = value
