"""The Identity Server's device list, parsed without Home Assistant."""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.ttn_mqtt.protocol.end_devices import (
    PAGE_SIZE,
    ListedDevice,
    end_devices_path,
    end_devices_query,
    parse_end_devices,
)
from custom_components.ttn_mqtt.protocol.errors import TtnParseError
from custom_components.ttn_mqtt.protocol.messages import VersionIds

# Shaped as EndDeviceRegistry.List answers with the field mask name,version_ids.
LISTED: dict[str, Any] = {
    "end_devices": [
        {
            "ids": {
                "device_id": "th-sensor-01",
                "application_ids": {"application_id": "test-app"},
                "dev_eui": "A840410000000001",
                "join_eui": "70B3D57ED0000000",
            },
            "created_at": "2026-11-02T10:00:00.000Z",
            "updated_at": "2026-11-02T10:00:00.000Z",
            "name": "Kitchen",
            "version_ids": {
                "brand_id": "dragino",
                "model_id": "lht65",
                "hardware_version": "_unknown_hw_version_",
                "firmware_version": "1.8",
                "band_id": "EU_863_870",
            },
        },
        # An ABP device without a DevEUI, nameless, of no known make.
        {"ids": {"device_id": "abp-01", "application_ids": {"application_id": "a"}}},
    ]
}


def test_path_and_query() -> None:
    """One page of the name and make and model of each device."""
    assert end_devices_path("test-app") == "/api/v3/applications/test-app/devices"
    assert end_devices_query(3) == {
        "field_mask": "name,version_ids",
        "limit": str(PAGE_SIZE),
        "page": "3",
    }
    with pytest.raises(ValueError, match="invalid application id"):
        end_devices_path("../auth_info")


def test_parse_a_page() -> None:
    """Each device with its DevEUI (upper case), name and make and model."""
    page = parse_end_devices(LISTED)
    assert page.entries == 2
    assert page.devices == [
        ListedDevice(
            "th-sensor-01",
            "A840410000000001",
            "Kitchen",
            VersionIds("dragino", "lht65", "_unknown_hw_version_", "1.8"),
        ),
        ListedDevice("abp-01", None, None, None),
    ]


def test_an_empty_application() -> None:
    """The server leaves an empty list out."""
    page = parse_end_devices({})
    assert (page.devices, page.entries) == ([], 0)


@pytest.mark.parametrize("body", [None, [], "x", {"end_devices": {}}])
def test_not_a_list(body: Any) -> None:
    """What is not a device list raises TtnParseError, nothing else."""
    with pytest.raises(TtnParseError):
        parse_end_devices(body)


@pytest.mark.parametrize(
    "entry",
    [
        None,
        "th-sensor-01",
        {},
        {"ids": None},
        {"ids": {"device_id": 7}},
        {"ids": {"device_id": "Not_An_ID"}},
    ],
)
def test_entries_without_a_device_id_are_left_out(entry: Any) -> None:
    """They count as entries of the page (for paging), not as devices."""
    page = parse_end_devices({"end_devices": [entry]})
    assert (page.devices, page.entries) == ([], 1)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("dev_eui", "a8-40-41-00-00-00-00-01", ("A840410000000001", None, None)),
        ("dev_eui", "not an eui", (None, None, None)),
        ("dev_eui", 7, (None, None, None)),
        ("name", "", (None, None, None)),
        ("name", 7, (None, None, None)),
        ("version_ids", "dragino", (None, None, None)),
    ],
)
def test_odd_fields_become_none(field: str, value: Any, expected: tuple) -> None:
    """A DevEUI, name or make and model that is not one is left out of the device."""
    entry: dict[str, Any] = {"ids": {"device_id": "node-1"}}
    if field == "dev_eui":
        entry["ids"]["dev_eui"] = value
    else:
        entry[field] = value
    (device,) = parse_end_devices({"end_devices": [entry]}).devices
    assert (device.dev_eui, device.name, device.version_ids) == expected
