"""Sensors: every decoded field of every device, and what each uplink says of its radio."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
import logging
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    SIGNAL_STRENGTH_DECIBELS,
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    EntityCategory,
    Platform,
    UnitOfTime,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .const import CONF_SIGNAL_ENTITIES, DEFAULT_SIGNAL_ENTITIES
from .coordinator import TtnCoordinator, TtnMqttConfigEntry
from .entity import NewKeys, TtnDeviceEntity, async_add_device_entities
from .fields import is_number, sensor_description, text_description
from .models import TtnDevice
from .payload import finite_number

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0

# Home Assistant refuses longer states.
MAX_STATE_LENGTH = 255
# Marks the uplink sensors as made, among field keys: no field has an empty key.
UPLINK_SENSORS_MADE = ""


@dataclass(frozen=True, kw_only=True)
class TtnUplinkSensorDescription(SensorEntityDescription):
    """A sensor of what the network says of a device's uplinks."""

    value_fn: Callable[[TtnDevice], StateType | datetime]
    # Radio details (the sensors disabled by default) are made only with the
    # signal_entities option.
    entity_registry_enabled_default: bool = False


def _best_gateway_value(name: str) -> Callable[[TtnDevice], float | None]:
    def value(device: TtnDevice) -> float | None:
        best = device.uplink.best_gateway if device.uplink else None
        return getattr(best, name) if best else None

    return value


UPLINK_SENSORS: tuple[TtnUplinkSensorDescription, ...] = (
    TtnUplinkSensorDescription(
        key="rssi",
        translation_key="rssi",
        device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_best_gateway_value("rssi"),
    ),
    TtnUplinkSensorDescription(
        key="snr",
        translation_key="snr",
        device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_best_gateway_value("snr"),
    ),
    TtnUplinkSensorDescription(
        key="spreading_factor",
        translation_key="spreading_factor",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda device: (
            device.uplink.spreading_factor if device.uplink else None
        ),
    ),
    TtnUplinkSensorDescription(
        key="gateway_count",
        translation_key="gateway_count",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda device: (
            len(device.uplink.receptions) if device.uplink else None
        ),
    ),
    TtnUplinkSensorDescription(
        key="f_cnt",
        translation_key="f_cnt",
        # It only grows, but for a rejoin: a total that starts again, as Home
        # Assistant reads a lower value. With a state class, it stays out of the
        # logbook, which would otherwise say every uplink's count.
        state_class=SensorStateClass.TOTAL_INCREASING,
        # The server leaves a zero counter out, as after a join.
        value_fn=lambda device: (device.uplink.f_cnt or 0) if device.uplink else None,
    ),
    TtnUplinkSensorDescription(
        key="consumed_airtime",
        translation_key="consumed_airtime",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=3,
        value_fn=lambda device: (
            device.uplink.consumed_airtime if device.uplink else None
        ),
    ),
    TtnUplinkSensorDescription(
        key="last_seen",
        translation_key="last_seen",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_registry_enabled_default=True,
        value_fn=lambda device: device.last_seen,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TtnMqttConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors of every device, now and as devices and fields appear."""
    coordinator = entry.runtime_data
    with_signal = entry.options.get(CONF_SIGNAL_ENTITIES, DEFAULT_SIGNAL_ENTITIES)
    descriptions = tuple(
        description
        for description in UPLINK_SENSORS
        if with_signal or description.entity_registry_enabled_default
    )
    if not with_signal:
        _remove_signal_sensors(hass, entry)
    new_keys = NewKeys()

    @callback
    def new_sensors(device: TtnDevice) -> list[SensorEntity]:
        if device.ha_device_id is None:
            return []
        made = new_keys.made(device)
        entities: list[SensorEntity] = []
        if UPLINK_SENSORS_MADE not in made:
            made.add(UPLINK_SENSORS_MADE)
            entities.extend(
                TtnUplinkSensor(coordinator, device.device_id, description)
                for description in descriptions
            )
        entities.extend(
            TtnFieldSensor(coordinator, device, key, value)
            for key, value in new_keys.new_fields(device, Platform.SENSOR)
        )
        return entities

    async_add_device_entities(entry, async_add_entities, new_sensors)


def _remove_signal_sensors(hass: HomeAssistant, entry: TtnMqttConfigEntry) -> None:
    """Remove the radio sensors of every device once the option turned them off."""
    registry = er.async_get(hass)
    keys = {
        description.key
        for description in UPLINK_SENSORS
        if not description.entity_registry_enabled_default
    }
    for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
        # Unique ids are "<application>/<device id>/<key>"; neither id has a "/".
        parts = entity.unique_id.split("/", 2)
        if entity.domain == Platform.SENSOR and len(parts) == 3 and parts[2] in keys:
            registry.async_remove(entity.entity_id)


class TtnUplinkSensor(TtnDeviceEntity, SensorEntity):
    """A diagnostic sensor of the device's latest uplink: signal, airtime, last seen."""

    entity_description: TtnUplinkSensorDescription
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(
        self,
        coordinator: TtnCoordinator,
        device_id: str,
        description: TtnUplinkSensorDescription,
    ) -> None:
        """Describe the sensor; radio ones start disabled, as they are rarely wanted."""
        super().__init__(coordinator, device_id, description.key)
        self.entity_description = description

    def _refresh(self, device: TtnDevice) -> Hashable:
        value = self.entity_description.value_fn(device)
        self._attr_native_value = value
        return value


class TtnFieldSensor(TtnDeviceEntity, SensorEntity):
    """A field of the decoded payload: a measurement when numeric, else text.

    The kind is fixed by the field's first value. A numeric sensor shows a number sent
    as text ("21.5") as that number; any other text, or a boolean, shows unknown and is
    logged once.
    """

    def __init__(
        self, coordinator: TtnCoordinator, device: TtnDevice, key: str, value: Any
    ) -> None:
        """Describe the field from its name, its first value and the decoder's hints."""
        self._numeric = is_number(value)
        self.entity_description = (
            sensor_description(key, value, device.sensor_attr.get(key))
            if self._numeric
            else text_description(key)
        )
        super().__init__(coordinator, device.device_id, self.entity_description.key)
        self.field = key
        self._warned = False

    def _refresh(self, device: TtnDevice) -> Hashable:
        value = device.fields.get(self.field)
        if value is None:
            pass
        elif self._numeric:
            value = self._number(value)
        elif isinstance(value, str):
            value = value[:MAX_STATE_LENGTH]
        else:
            value = str(value)[:MAX_STATE_LENGTH]
        self._attr_native_value = value
        return value

    def _number(self, value: Any) -> float | None:
        if (number := finite_number(value)) is not None:
            return number
        if not self._warned:
            self._warned = True
            _LOGGER.warning(
                "Field %s of %s was a number and now is %r; shown as unknown "
                "until it is a number again",
                self.field,
                self.device_id,
                value,
            )
        return None
