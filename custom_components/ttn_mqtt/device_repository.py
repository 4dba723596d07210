"""The LoRaWAN Device Repository's make and model IDs as people write them.

An uplink's `version_ids` name a device by the repository's IDs: lower-case slugs
such as `dragino` and `lht65`, and `_unknown_hw_version_` (what the console writes
when the hardware version was not chosen). The device registry shows "LHT65" by
"Dragino" and no hardware version instead.
"""

from __future__ import annotations

from functools import lru_cache

# Vendors whose names are not their ID capitalised, as the vendors write them. From
# the repository's vendor/index.yaml (TheThingsNetwork/lorawan-devices), shortened to
# the brand on the product.
VENDOR_NAMES = {
    "1m2m": "1M2M",
    "abeeway": "Abeeway",
    "elsys": "ELSYS",
    "globalsat": "GlobalSat",
    "imbuildings": "IMBUILDINGS",
    "kerlink": "Kerlink",
    "mcf88": "MCF88",
    "mclimate": "MClimate",
    "milesight-iot": "Milesight",
    "mydevices": "myDevices",
    "nke-watteco": "NKE Watteco",
    "rakwireless": "RAKwireless",
    "sensecap": "SenseCAP",
    "stmicroelectronics": "STMicroelectronics",
    "tektelic": "TEKTELIC",
    "the-things-products": "The Things Products",
    "ttn": "The Things Network",
}

# Words of model IDs written otherwise than in capitals or capitalised.
_MODEL_WORDS = {
    "lora": "LoRa",
    "lorawan": "LoRaWAN",
    "wifi": "WiFi",
    "otaa": "OTAA",
    "abp": "ABP",
    "sensecap": "SenseCAP",
}


def known_version(version: str | None) -> str | None:
    """Return a version, or None for the console's "not chosen" (`_unknown_hw_version_`)."""
    if version is None or version.startswith("_unknown"):
        return None
    return version


@lru_cache(maxsize=256)
def vendor_name(brand_id: str | None) -> str | None:
    """Return a vendor's name from its ID: `dragino` -> "Dragino"."""
    if not brand_id:
        return None
    if (name := VENDOR_NAMES.get(brand_id)) is not None:
        return name
    return " ".join(word.capitalize() for word in brand_id.split("-") if word)


@lru_cache(maxsize=256)
def model_name(model_id: str | None) -> str | None:
    """Return a model's name from its ID: `lht65` -> "LHT65", `lsn50v2-s31` -> "LSN50V2-S31".

    In a type code (an ID with a digit), words with a digit and short words are in
    capitals; other words are capitalised. An ID without a digit reads as words
    ("Door Sensor").
    """
    if not model_id:
        return None
    words = [word for word in model_id.split("-") if word]
    coded = any(_has_digit(word) for word in words)
    names = [
        _MODEL_WORDS.get(word)
        or (
            word.upper()
            if coded and (len(word) <= 3 or _has_digit(word))
            else word.capitalize()
        )
        for word in words
    ]
    return ("-" if coded else " ").join(names) or model_id


def _has_digit(word: str) -> bool:
    return any(character.isdigit() for character in word)
