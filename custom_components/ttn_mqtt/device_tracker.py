"""Device trackers: where each device with a position is, from its payload or uplink."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from homeassistant.components.device_tracker import SourceType, TrackerEntity
from homeassistant.const import ATTR_GPS_ACCURACY, ATTR_LATITUDE, ATTR_LONGITUDE
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .coordinator import TtnCoordinator, TtnMqttConfigEntry
from .entity import NewKeys, TtnDeviceEntity, async_add_device_entities
from .fields import find_position_keys, is_number
from .models import TtnDevice
from .payload import finite_number
from .protocol.messages import Location

PARALLEL_UPDATES = 0

TRACKER_KEY = "location"

# A GPS module's horizontal accuracy is about its HDOP times the error of one range
# to a satellite, some 5 m for the receivers of LoRaWAN trackers.
HDOP_METRES = 5.0

type Position = tuple[float, float, float | None, float | None, float | None]


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TtnMqttConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a tracker for each device once it reports a position."""
    coordinator = entry.runtime_data
    new_keys = NewKeys()
    # How many fields a device had when last searched for a position: most devices
    # have none, and their fields rarely change, so most uplinks skip the search.
    searched: dict[str, tuple[TtnDevice, int]] = {}

    @callback
    def new_tracker(device: TtnDevice) -> list[TtnDeviceTracker]:
        if device.ha_device_id is None:
            return []
        made = new_keys.made(device)
        if made:
            return []
        has_locations = (
            _solved_position(device) is not None or _uplink_position(device) is not None
        )
        if not has_locations:
            search = (device, len(device.fields))
            if searched.get(device.device_id) == search:
                return []
            searched[device.device_id] = search
        if has_locations or find_position_keys(device.fields) is not None:
            made.add(TRACKER_KEY)
            return [TtnDeviceTracker(coordinator, device.device_id)]
        return []

    async_add_device_entities(entry, async_add_entities, new_tracker)


class TtnDeviceTracker(TtnDeviceEntity, TrackerEntity, RestoreEntity):
    """The device's position.

    From the decoded payload when it carries latitude and longitude (top level, or
    nested like Cayenne's `gps_1`), else from a location solver's latest result
    (`location/solved`, e.g. LoRa Cloud), else from the uplink's `locations`. Latitude 0 and
    longitude 0 together are what GPS modules send without a fix: the last position
    stays. Accuracy is taken in metres from an `accuracy` field or location; a GPS
    `hdop` (no unit) is an attribute, and gives an estimate when nothing else does.
    With neither, the accuracy is Home Assistant's 0, which it reads as "not given".
    """

    _attr_translation_key = "location"
    _attr_source_type = SourceType.GPS
    # A tracker's position is what the device is for, not a detail of it. (mypy takes
    # the type from BaseTrackerEntity's DIAGNOSTIC; Entity allows None.)
    _attr_entity_category = None  # type: ignore[assignment]
    # The fix's quality changes with every uplink and says nothing afterwards: the
    # recorder leaves it out (the position and its accuracy stay in the history).
    _unrecorded_attributes = frozenset({"hdop"})

    def __init__(self, coordinator: TtnCoordinator, device_id: str) -> None:
        """Attach the tracker to its end device."""
        super().__init__(coordinator, device_id, TRACKER_KEY)
        self._keys: dict[str, str] | None = None
        self._attr_extra_state_attributes = {}

    async def async_added_to_hass(self) -> None:
        """Follow the device; with no position now (no fix), show the last one shown."""
        await super().async_added_to_hass()
        if self._attr_latitude is not None:
            return
        # The stored fields hold the latest uplink's 0, 0, not the fix before it.
        last = await self.async_get_last_state()
        if last is None:
            return
        latitude = last.attributes.get(ATTR_LATITUDE)
        longitude = last.attributes.get(ATTR_LONGITUDE)
        if is_number(latitude) and is_number(longitude):
            self._attr_latitude = latitude
            self._attr_longitude = longitude
            self._attr_location_accuracy = last.attributes.get(ATTR_GPS_ACCURACY, 0)
            self._shown = self._snapshot()

    def _refresh(self, device: TtnDevice) -> Hashable:
        position = self._payload_position(device)
        if position is None and self._keys is None:
            # A payload with a position of its own that has no fix now keeps the
            # last one: a solved or registered location would make it jump.
            position = _solved_position(device) or _uplink_position(device)
        if position is not None:
            latitude, longitude, altitude, accuracy, hdop = position
            self._attr_latitude = latitude
            self._attr_longitude = longitude
            if accuracy is None and hdop is not None:
                accuracy = hdop * HDOP_METRES
            self._attr_location_accuracy = round(accuracy) if accuracy else 0
            attributes: dict[str, Any] = {}
            if altitude is not None:
                attributes["altitude"] = altitude
            if hdop is not None:
                attributes["hdop"] = hdop
            if attributes != self._attr_extra_state_attributes:
                self._attr_extra_state_attributes = attributes
        return (
            self._attr_latitude,
            self._attr_longitude,
            self._attr_location_accuracy,
            tuple(self._attr_extra_state_attributes.values()),
        )

    def _payload_position(self, device: TtnDevice) -> Position | None:
        fields = device.fields
        if self._keys is None:
            self._keys = find_position_keys(fields)
            if self._keys is None:
                return None
        keys = self._keys
        latitude = finite_number(fields.get(keys["latitude"]))
        longitude = finite_number(fields.get(keys["longitude"]))
        if latitude is None or longitude is None or not _valid(latitude, longitude):
            return None
        return (
            latitude,
            longitude,
            _optional(fields, keys.get("altitude")),
            _optional(fields, keys.get("accuracy")),
            _optional(fields, keys.get("hdop")),
        )


def _solved_position(device: TtnDevice) -> Position | None:
    if device.solved_location is None:
        return None
    return _position(device.solved_location)


def _uplink_position(device: TtnDevice) -> Position | None:
    if device.uplink is None:
        return None
    for location in device.uplink.locations.values():
        if (position := _position(location)) is not None:
            return position
    return None


def _position(location: Location) -> Position | None:
    if not _valid(location.latitude, location.longitude):
        return None
    return (
        location.latitude,
        location.longitude,
        location.altitude,
        location.accuracy,
        None,
    )


def _valid(latitude: float, longitude: float) -> bool:
    return (
        -90 <= latitude <= 90
        and -180 <= longitude <= 180
        and (latitude, longitude) != (0, 0)
    )


def _optional(fields: Mapping[str, Any], key: str | None) -> float | None:
    return None if key is None else finite_number(fields.get(key))
