"""The LoRaWAN Device Repository's IDs as the device registry shows them."""

from __future__ import annotations

import pytest

from custom_components.ttn_mqtt.device_repository import (
    known_version,
    model_name,
    vendor_name,
)


@pytest.mark.parametrize(
    ("brand_id", "name"),
    [
        ("dragino", "Dragino"),
        ("sensecap", "SenseCAP"),
        ("milesight-iot", "Milesight"),
        ("rakwireless", "RAKwireless"),
        ("the-things-products", "The Things Products"),
        ("digital-matter", "Digital Matter"),
    ],
)
def test_vendor_names(brand_id: str, name: str) -> None:
    """Vendors read as they write themselves; the rest capitalised, word by word."""
    assert vendor_name(brand_id) == name


@pytest.mark.parametrize(
    ("model_id", "name"),
    [
        ("lht65", "LHT65"),
        ("lsn50v2-s31", "LSN50V2-S31"),
        ("em300-th", "EM300-TH"),
        ("ers-co2", "ERS-CO2"),
        ("wifi-lora-32-class-a-otaa", "WiFi-LoRa-32-Class-A-OTAA"),
        ("door-sensor", "Door Sensor"),
    ],
)
def test_model_names(model_id: str, name: str) -> None:
    """Type codes in capitals; a model ID of words reads as words."""
    assert model_name(model_id) == name


def test_placeholder_versions() -> None:
    """The console's "not chosen" is no version; a real one is; no ID is no name."""
    assert known_version("_unknown_hw_version_") is None
    assert known_version("1.0") == "1.0"
    assert known_version(None) is None
    assert vendor_name(None) is None
    assert model_name("") is None
