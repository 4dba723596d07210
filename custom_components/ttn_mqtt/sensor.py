"""Sensors: every decoded field of every device, and what each uplink says of its radio."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
import logging
from typing import Any

from homeassistant.components.sensor import (
    DEVICE_CLASS_STATE_CLASSES,
    DEVICE_CLASS_UNITS,
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
from .entity import (
    FIELD_KEY_PREFIX,
    NewKeys,
    TtnDeviceEntity,
    async_add_device_entities,
)
from .fields import (
    FieldSpec,
    is_number,
    number_from_text,
    readable_name,
    sensor_spec,
)
from .store import TtnDevice

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0

# Home Assistant refuses longer states.
MAX_STATE_LENGTH = 255
# Marks the uplink sensors as made, among field keys: no field has an empty key.
UPLINK_SENSORS_MADE = ""
# A device class that is not a number cannot come from a decoder's hint.
_NOT_NUMERIC = {
    SensorDeviceClass.DATE,
    SensorDeviceClass.ENUM,
    SensorDeviceClass.TIMESTAMP,
}


@dataclass(frozen=True, kw_only=True)
class TtnUplinkSensorDescription(SensorEntityDescription):
    """A sensor of what the network says of a device's uplinks."""

    value_fn: Callable[[TtnDevice], StateType | datetime]
    # Radio details: disabled by default, and made only with the signal_entities option.
    signal: bool = True


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
        value_fn=lambda device: len(device.uplink.gateways) if device.uplink else None,
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
        signal=False,
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
        if with_signal or not description.signal
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
    keys = {description.key for description in UPLINK_SENSORS if description.signal}
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
        """Describe the sensor; signal ones start disabled, as they are rarely wanted."""
        super().__init__(coordinator, device_id, description.key)
        self.entity_description = description
        self._attr_entity_registry_enabled_default = not description.signal

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
        super().__init__(coordinator, device.device_id, f"{FIELD_KEY_PREFIX}{key}")
        self.field = key
        self._attr_name = readable_name(key)
        self._numeric = is_number(value)
        self._warned = False
        if not self._numeric:
            self._attr_translation_key = "text"
            return
        spec = with_hint(sensor_spec(key, value), device.sensor_attr.get(key))
        self._attr_device_class = spec.device_class
        self._attr_native_unit_of_measurement = spec.unit
        self._attr_state_class = spec.state_class
        if spec.device_class is None:
            # Its icon: a device class brings one, the rest get ours (icons.json).
            self._attr_translation_key = (
                "counter"
                if spec.state_class is SensorStateClass.TOTAL_INCREASING
                else "measurement"
            )

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
        if is_number(value):
            return value
        if isinstance(value, str) and (number := number_from_text(value)) is not None:
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


def with_hint(spec: FieldSpec, hint: Any) -> FieldSpec:
    """Apply a decoder's `_sensor_attr` hint over a spec; invalid parts are ignored.

    A hint's device class is dropped when its unit does not fit it, and a state class
    that does not fit the device class is replaced by one that does, as Home Assistant
    would refuse the pair.
    """
    if not isinstance(hint, dict):
        return spec
    device_class = _member(SensorDeviceClass, hint.get("device_class"))
    if device_class in _NOT_NUMERIC:
        device_class = None
    state_class = _member(SensorStateClass, hint.get("state_class"))
    unit = hint.get("unit_of_measurement")
    if not isinstance(unit, str) or not unit:
        unit = None
    if device_class is None and unit is None and state_class is None:
        return spec
    if device_class is None:
        device_class, unit = spec.device_class, unit or spec.unit
    elif unit is None and device_class == spec.device_class:
        unit = spec.unit
    if device_class is not None and unit not in DEVICE_CLASS_UNITS.get(
        device_class, {unit}
    ):
        device_class = None
    state_class = state_class or spec.state_class
    if (
        device_class is not None
        and (allowed := DEVICE_CLASS_STATE_CLASSES.get(device_class)) is not None
        and state_class not in allowed
    ):
        state_class = min(allowed) if allowed else None
    return FieldSpec(device_class, unit, state_class)


def _member[EnumT: (SensorDeviceClass, SensorStateClass)](
    enum: type[EnumT], value: Any
) -> EnumT | None:
    try:
        return enum(value)
    except (ValueError, TypeError):
        return None
