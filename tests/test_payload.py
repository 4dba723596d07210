"""From a decoded payload to fields: nesting, arrays, SenseCAP readings, decoder hints.

No Home Assistant running; test_sensor.py shows the same fields as entities. The
limits are the README's (six levels, arrays of up to 8 items, 200 fields).
"""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.ttn_mqtt.payload import flatten_payload, sensor_hints

from .uplinks import load_decoder


def _reading(measurement_id: str, value: Any) -> dict[str, Any]:
    """Return a SenseCAP reading as their decoders write it."""
    return {"measurementId": measurement_id, "measurementValue": value, "type": "x"}


def _in_lists(item: Any, lists: int) -> Any:
    for _ in range(lists):
        item = [item]
    return item


def test_flattening() -> None:
    """Nested objects join their keys; short arrays go by index, long ones are left out."""
    assert flatten_payload(
        {
            "gps_34": {"latitude": 1.5, "longitude": 2.5},
            "readings": [1, 2],
            "samples": list(range(20)),
            "_sensor_attr": {"x": {"unit_of_measurement": "cm"}},
            "none": None,
        }
    ) == {
        "gps_34_latitude": 1.5,
        "gps_34_longitude": 2.5,
        "readings_0": 1,
        "readings_1": 2,
        "none": None,
    }


def test_sensor_attr_is_left_out_at_the_top_only() -> None:
    """Below the top it is an ordinary key, as any other a decoder chooses."""
    assert flatten_payload({"probe": {"_sensor_attr": 1}}) == {"probe__sensor_attr": 1}


def test_nesting_of_six_levels_is_kept_seven_are_left_out() -> None:
    six = {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}
    assert flatten_payload(six) == {"a_b_c_d_e_f": 1}
    assert flatten_payload({"z": six}) == {}
    # An array is a level too.
    assert flatten_payload({"a": {"b": {"c": {"d": {"e": [1]}}}}}) == {"a_b_c_d_e_0": 1}
    assert flatten_payload({"a": {"b": {"c": {"d": {"e": {"f": [1]}}}}}}) == {}
    # And so is an index.
    assert flatten_payload({"a": {"b": {"c": {"d": [{"e": 1}]}}}}) == {"a_b_c_d_0_e": 1}
    assert flatten_payload({"a": {"b": {"c": {"d": {"e": [{"f": 1}]}}}}}) == {}


def test_arrays_of_8_items_are_flattened_9_are_left_out() -> None:
    eight = flatten_payload({"readings": list(range(8))})
    assert eight == {f"readings_{index}": index for index in range(8)}
    assert flatten_payload({"readings": list(range(9))}) == {}


def test_text_is_cut_to_a_state_home_assistant_takes() -> None:
    assert flatten_payload({"note": "x" * 300}) == {"note": "x" * 255}


def test_sensecap_measurements_are_named() -> None:
    """SenseCAP readings are fields named after the measurement, wherever they sit."""
    fields = flatten_payload(load_decoder("sensecap_s2120")["decoded_payloads"][0])
    assert fields["air_temperature"] == 18
    assert fields["barometric_pressure"] == 88810
    assert not any(key.startswith("messages_") for key in fields)
    # Their decoders send negative values as text.
    assert flatten_payload({"messages": [_reading("4097", "-0.9")]}) == {
        "air_temperature": -0.9
    }
    assert flatten_payload({"messages": [_reading(4242, 1)]}) == {"measurement_4242": 1}
    # "NaN" is a reading they did not get: unknown, never a number Home Assistant refuses.
    assert flatten_payload({"messages": [_reading("4097", "NaN")]}) == {
        "air_temperature": None
    }
    # A value that is no reading is left out.
    assert flatten_payload({"messages": [_reading("4097", [1])]}) == {}


@pytest.mark.parametrize(
    ("measurement_id", "name"),
    [
        ("4097", "air_temperature"),
        ("4098", "air_humidity"),
        ("4099", "light_intensity"),
        ("4100", "co2"),
        ("4101", "barometric_pressure"),
        ("4102", "soil_temperature"),
        ("4103", "soil_moisture"),
        ("4104", "wind_direction"),
        ("4105", "wind_speed"),
        ("4113", "rain_gauge"),
        ("4190", "uv_index"),
    ],
)
def test_sensecap_measurement_names(measurement_id: str, name: str) -> None:
    """SenseCAP's measurement IDs (their decoders' measurement list), by name."""
    assert flatten_payload({"messages": [_reading(measurement_id, 1)]}) == {name: 1}


def test_sensecap_readings_in_a_long_list() -> None:
    """A list too long to flatten still gives its readings, in lists down to six levels."""
    readings = [
        _reading("4097", 21.4),
        _in_lists(_reading("4098", 55), 4),
        # Seven levels down: left out, as any field that deep.
        _in_lists(_reading("4099", 300), 5),
        # Not readings: a reading's ID or value alone, another object, a number.
        {"measurementId": "4100"},
        {"measurementValue": 612},
        {"type": "x"},
        5,
        [{"measurementId": "4101"}],
        [],
    ]
    assert len(readings) > 8
    assert flatten_payload({"messages": readings}) == {
        "air_temperature": 21.4,
        "air_humidity": 55,
    }


def test_an_object_with_a_measurement_id_only_is_no_reading() -> None:
    assert flatten_payload({"probe": {"measurementId": "4097", "type": "x"}}) == {
        "probe_measurementId": "4097",
        "probe_type": "x",
    }


def test_sensor_hints_keep_the_one_shape_used() -> None:
    """Per field, the device class, state class and unit as short texts; nothing else."""
    raw = {
        "level": {
            "unit_of_measurement": "cm",
            "device_class": "distance",
            "state_class": "measurement",
            "icon": "mdi:water",
        },
        "depth": {"unit_of_measurement": "x" * 64},
        "too_long": {"unit_of_measurement": "x" * 65},
        "not_text": {"device_class": 3},
        "not_an_object": "cm",
        "empty": {},
        7: {"unit_of_measurement": "cm"},
        "n" * 300: {"unit_of_measurement": "cm"},
    }
    assert sensor_hints(raw) == {
        "level": {
            "unit_of_measurement": "cm",
            "device_class": "distance",
            "state_class": "measurement",
        },
        "depth": {"unit_of_measurement": "x" * 64},
        "n" * 255: {"unit_of_measurement": "cm"},
    }
    assert sensor_hints(["level"]) == {}
    assert sensor_hints(None) == {}


def test_sensor_hints_are_capped_at_200_fields() -> None:
    raw = {f"field_{index}": {"unit_of_measurement": "cm"} for index in range(201)}
    hints = sensor_hints(raw)
    assert list(hints) == [f"field_{index}" for index in range(200)]
