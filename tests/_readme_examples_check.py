"""Throwaway (README writer): run the README's YAML examples against the simulator."""
from __future__ import annotations

import re
from pathlib import Path

from homeassistant.helpers.script import Script
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import parse_yaml
import pytest
from pytest_homeassistant_custom_component.common import async_mock_service

from .common import async_wait_for

pytestmark = pytest.mark.usefixtures("socket_enabled")

README = (Path(__file__).parent.parent / "README.md").read_text()
BLOCKS = re.findall(r"```yaml\n(.*?)```", README, re.S)
DOOR = "binary_sensor.door_01_door_open"


async def _ready(hass, network):
    network.uplink("door-01", decoded_payload={"door_open": False, "open_count": 1, "battery": 90})
    network.uplink("th-sensor-01")
    await async_wait_for(lambda: (s := hass.states.get(DOOR)) and s.state == "off")
    await async_wait_for(lambda: hass.states.get("sensor.th_sensor_01_temperature"))


async def test_single_actions(hass, init_integration, network) -> None:
    await _ready(hass, network)
    singles = [b for b in BLOCKS if b.startswith("action: ttn_mqtt.send_downlink")]
    print("single action blocks:", len(singles))
    assert len(singles) == 4
    for block in singles:
        before = len(network.downlinks)
        from homeassistant.helpers import config_validation as cv
        script = Script(hass, cv.SCRIPT_SCHEMA([parse_yaml(block)]), "t", "ttn_mqtt")
        from homeassistant.core import Context
        try:
            await script.async_run(context=Context())
        except TypeError as err:
            print("BLOCK FAILED:", err, block)
            continue
        await async_wait_for(lambda: len(network.downlinks) == before + 1)
        print(network.downlinks[-1])


async def test_automations(hass, init_integration, network) -> None:
    await _ready(hass, network)
    notes = async_mock_service(hass, "persistent_notification", "create")
    autos = [parse_yaml(b)["automation"][0] for b in BLOCKS if b.startswith("automation:")]
    assert len(autos) == 2
    confirmed, uplink = autos
    confirmed["actions"][1]["timeout"] = 10
    fragment = next(b for b in BLOCKS if b.startswith("      - wait_for_trigger"))
    anyoutcome = dict(confirmed, alias="any", id="any")
    anyoutcome["actions"] = confirmed["actions"][:1] + parse_yaml(
        "\n".join(l[6:] for l in fragment.splitlines())
    )
    anyoutcome["actions"][1]["timeout"] = 10
    assert await async_setup_component(hass, "automation", {"automation": [confirmed, anyoutcome, uplink]})
    await hass.async_block_till_done()
    network.uplink("door-01", decoded_payload={"door_open": True, "open_count": 2, "battery": 90})
    await async_wait_for(lambda: len(notes) >= 3, timeout=15)
    for call in notes:
        print("NOTE:", repr(call.data["message"]))
    messages = sorted(c.data["message"] for c in notes)
    assert "The buzzer acknowledged." in messages
    assert messages.count("The buzzer acknowledged.") == 2, messages


async def test_any_outcome_nack(hass, init_integration, network) -> None:
    await _ready(hass, network)
    network.devices["door-01"].downlink_behaviour = "nack"
    notes = async_mock_service(hass, "persistent_notification", "create")
    confirmed = [parse_yaml(b)["automation"][0] for b in BLOCKS if b.startswith("automation:")][0]
    fragment = next(b for b in BLOCKS if b.startswith("      - wait_for_trigger"))
    confirmed["actions"] = confirmed["actions"][:1] + parse_yaml(
        "\n".join(l[6:] for l in fragment.splitlines())
    )
    confirmed["actions"][1]["timeout"] = 10
    assert await async_setup_component(hass, "automation", {"automation": [confirmed]})
    await hass.async_block_till_done()
    network.uplink("door-01", decoded_payload={"door_open": True, "open_count": 2, "battery": 90})
    await async_wait_for(lambda: notes, timeout=15)
    print("NACK NOTE:", repr(notes[0].data["message"]))
