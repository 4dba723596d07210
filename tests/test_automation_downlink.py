"""End to end: a YAML automation sends a downlink when a door opens, and waits for its ack."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import parse_yaml
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .common import async_wait_for

pytestmark = pytest.mark.usefixtures("socket_enabled")

DOOR = "binary_sensor.door_01_door_open"

AUTOMATION = """
alias: "Door open: buzz"
triggers:
  - trigger: state
    entity_id: binary_sensor.door_01_door_open
    to: "on"
actions:
  - action: ttn_mqtt.send_downlink
    data:
      device_id: "{{ device_id('binary_sensor.door_01_door_open') }}"
      f_port: 5
      payload: "01"
      confirmed: true
    response_variable: downlink
  - wait_for_trigger:
      - trigger: event
        event_type: ttn_mqtt_downlink
        event_data:
          correlation_id: "{{ downlink.correlation_id }}"
          status: ack
    timeout: 10
    continue_on_timeout: false
  - event: door_buzzer_acknowledged
    event_data:
      correlation_id: "{{ downlink.correlation_id }}"
"""


def door(is_open: bool) -> dict[str, Any]:
    """Return what door-01's payload formatter makes of a contact report."""
    return {"door_open": is_open, "open_count": 12, "battery": 97}


async def test_door_opens_downlink_acknowledged(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """Opening the door sends exactly one confirmed downlink, and the ack reaches the automation."""
    coordinator = init_integration.runtime_data
    network.uplink("door-01", decoded_payload=door(False))
    await async_wait_for(
        lambda: (state := hass.states.get(DOOR)) and state.state == "off"
    )
    assert await async_setup_component(
        hass, "automation", {"automation": [parse_yaml(AUTOMATION)]}
    )
    acknowledged: list[dict[str, Any]] = []
    hass.bus.async_listen(
        "door_buzzer_acknowledged",
        callback(lambda event: acknowledged.append(event.data)),
    )

    network.uplink("door-01", decoded_payload=door(True))

    await async_wait_for(lambda: acknowledged)
    correlation_id = acknowledged[0]["correlation_id"]
    assert correlation_id.startswith("ttn_mqtt:")
    ((device_id, mode, body),) = network.downlinks
    assert (device_id, mode) == ("door-01", "push")
    assert body == {
        "downlinks": [
            {
                "f_port": 5,
                "frm_payload": "AQ==",
                "confirmed": True,
                "correlation_ids": [correlation_id],
                "confirmed_retry": {"max_attempts": 8},
            }
        ]
    }
    assert coordinator.devices["door-01"].last_downlink.status == "ack"

    # Closing the door sends nothing; the next opening sends the next downlink.
    network.uplink("door-01", decoded_payload=door(False))
    await async_wait_for(lambda: hass.states.get(DOOR).state == "off")
    network.uplink("door-01", decoded_payload=door(True))
    await async_wait_for(lambda: len(acknowledged) == 2)
    assert len(network.downlinks) == 2
    assert acknowledged[1]["correlation_id"] != correlation_id
