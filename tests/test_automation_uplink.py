"""A YAML automation triggered by a device's uplinks."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import parse_yaml
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_mock_service,
)

from .common import async_wait_for
from .uplinks import uplink_and_wait

pytestmark = pytest.mark.usefixtures("socket_enabled")

AUTOMATION_YAML = """
automation:
  - alias: Front door reported
    triggers:
      - trigger: event
        event_type: ttn_mqtt_uplink
        event_data:
          ttn_device_id: door-01
    actions:
      - action: test.record
        data:
          device: "{{ trigger.event.data.ttn_device_id }}"
          f_cnt: "{{ trigger.event.data.f_cnt }}"
          door_open: "{{ trigger.event.data.decoded_payload.door_open }}"
"""


async def test_uplink_event_triggers_a_yaml_automation(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """The automation runs for door-01's uplink, with its data, and not for others."""
    calls = async_mock_service(hass, "test", "record")
    assert await async_setup_component(hass, "automation", parse_yaml(AUTOMATION_YAML))
    await hass.async_block_till_done()

    await uplink_and_wait(hass, network, "th-sensor-01")
    sent = network.uplink("door-01")
    await async_wait_for(lambda: calls)
    await hass.async_block_till_done()

    assert len(calls) == 1
    up = sent["uplink_message"]
    assert calls[0].data == {
        "device": "door-01",
        "f_cnt": up.get("f_cnt", 0),
        "door_open": up["decoded_payload"]["door_open"],
    }
