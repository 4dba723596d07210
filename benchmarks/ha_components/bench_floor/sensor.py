"""F's sensors: ttn_mqtt's, each field's value straight from the decoded payload."""

from __future__ import annotations

from datetime import datetime

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorStateClass,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity
from homeassistant.util import dt as dt_util

from . import Decoded, Floor, FloorEntity

MEASUREMENT = SensorStateClass.MEASUREMENT
# Field, name, unit, device class, state class: as ttn_mqtt shows the benchmark's.
FIELDS = (
    ("temperature", "Temperature", "°C", SensorDeviceClass.TEMPERATURE, MEASUREMENT),
    ("humidity", "Humidity", "%", SensorDeviceClass.HUMIDITY, MEASUREMENT),
    ("co2", "CO2", "ppm", SensorDeviceClass.CO2, MEASUREMENT),
    ("battery", "Battery", "V", SensorDeviceClass.VOLTAGE, MEASUREMENT),
    ("mode", "Mode", None, None, None),
    ("seq", "Seq", None, None, MEASUREMENT),
)
# ttn_mqtt's radio sensors, disabled by default: in the registry, never added.
RADIO = (
    ("rssi", "RSSI", "dBm", SensorDeviceClass.SIGNAL_STRENGTH, MEASUREMENT),
    ("snr", "SNR", "dB", SensorDeviceClass.SIGNAL_STRENGTH, MEASUREMENT),
    ("spreading_factor", "Spreading factor", None, None, MEASUREMENT),
    ("gateway_count", "Gateways", None, None, MEASUREMENT),
    ("f_cnt", "Frame counter", None, None, SensorStateClass.TOTAL_INCREASING),
    ("consumed_airtime", "Airtime", "s", SensorDeviceClass.DURATION, MEASUREMENT),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: ConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    """Make each device's sensors."""
    floor: Floor = entry.runtime_data

    def make(device_id: str, decoded: Decoded | None) -> list[FloorEntity]:
        sensors: list[FloorEntity] = [
            FieldSensor(floor, device_id, field, decoded) for field in FIELDS
        ]
        sensors.append(LastSeenSensor(floor, device_id, decoded))
        sensors.extend(RadioSensor(floor, device_id, radio) for radio in RADIO)
        return sensors

    floor.add_platform(make, async_add_entities)


class FieldSensor(FloorEntity, SensorEntity, RestoreEntity):
    """A field of the decoded payload."""

    def __init__(
        self,
        floor: Floor,
        device_id: str,
        field: tuple[
            str, str, str | None, SensorDeviceClass | None, SensorStateClass | None
        ],
        decoded: Decoded | None,
    ) -> None:
        self.field, self._attr_name, unit, device_class, state_class = field
        super().__init__(floor, device_id, f"field_{self.field}")
        self._attr_native_unit_of_measurement = unit
        self._attr_device_class = device_class
        self._attr_state_class = state_class
        if decoded is not None:
            self.take(decoded)

    def take(self, decoded: Decoded) -> bool:
        self._attr_native_value = decoded.get(self.field)
        return True

    async def async_added_to_hass(self) -> None:
        """Show the value from before a restart until the next uplink."""
        await super().async_added_to_hass()
        if self._attr_native_value is None and (
            last := await self.async_get_last_state()
        ):
            if last.state in (STATE_UNKNOWN, STATE_UNAVAILABLE):
                return
            self._attr_native_value = (
                last.state if self._attr_state_class is None else float(last.state)
            )


class LastSeenSensor(FloorEntity, SensorEntity, RestoreEntity):
    """When the device's latest uplink came."""

    _attr_name = "Last seen"
    _attr_device_class = SensorDeviceClass.TIMESTAMP
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(self, floor: Floor, device_id: str, decoded: Decoded | None) -> None:
        super().__init__(floor, device_id, "last_seen")
        self._attr_native_value: datetime | None = None
        if decoded is not None:
            self.take(decoded)

    def take(self, decoded: Decoded) -> bool:
        self._attr_native_value = dt_util.utcnow()
        return True

    async def async_added_to_hass(self) -> None:
        """Show the time from before a restart until the next uplink."""
        await super().async_added_to_hass()
        if self._attr_native_value is None and (
            last := await self.async_get_last_state()
        ):
            self._attr_native_value = dt_util.parse_datetime(last.state)


class RadioSensor(FloorEntity, SensorEntity):
    """A radio detail of the uplink; disabled by default, as ttn_mqtt's."""

    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _attr_entity_registry_enabled_default = False

    def __init__(
        self,
        floor: Floor,
        device_id: str,
        radio: tuple[str, str, str | None, SensorDeviceClass | None, SensorStateClass],
    ) -> None:
        key, self._attr_name, unit, device_class, state_class = radio
        super().__init__(floor, device_id, key)
        self._attr_native_unit_of_measurement = unit
        self._attr_device_class = device_class
        self._attr_state_class = state_class
