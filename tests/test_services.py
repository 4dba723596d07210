"""The send_downlink and clear_downlink_queue actions, against the simulated network."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, SupportsResponse
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.service import async_get_all_descriptions
from homeassistant.util.yaml import load_yaml_dict, parse_yaml
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.ttn_mqtt import downlink_sender
from custom_components.ttn_mqtt.const import DOMAIN, EVENT_DOWNLINK
from custom_components.ttn_mqtt.protocol.downlink import MAX_DECODED_DEPTH, Priority

from .common import async_wait_for
from .translation_scan import SOURCE
from .uplinks import end_device, send_downlink

pytestmark = pytest.mark.usefixtures("socket_enabled")

PUSH_TOPICS = "v3/test-app@ttn/devices/+/down/push"
CONNECTIVITY = "binary_sensor.test_app_connection"


async def test_confirmed_downlink_json_on_the_broker(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, mqtt_watcher
) -> None:
    """A confirmed hex downlink arrives as exactly the JSON The Things Stack expects."""
    device_id = await end_device(hass, network, "door-01")
    watcher = mqtt_watcher(PUSH_TOPICS)

    response = await send_downlink(
        hass,
        device_id=device_id,
        f_port=15,
        payload="be:ef 01",
        confirmed=True,
        priority="high",
    )

    correlation_id = response["correlation_id"]
    assert correlation_id.startswith("ttn_mqtt:")
    topic, body = await watcher.wait_for()
    assert topic == "v3/test-app@ttn/devices/door-01/down/push"
    assert body == {
        "downlinks": [
            {
                "f_port": 15,
                "frm_payload": "vu8B",
                "priority": "HIGH",
                "confirmed": True,
                "correlation_ids": [correlation_id],
                # Ours, so that the last nack can be told (the server's default).
                "confirmed_retry": {"max_attempts": 8},
            }
        ]
    }


async def test_defaults(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, mqtt_watcher
) -> None:
    """Without options: f_port 1, the server's priority, unconfirmed, pushed; hex."""
    device_id = await end_device(hass, network, "th-sensor-01")
    watcher = mqtt_watcher(PUSH_TOPICS)

    await hass.services.async_call(
        DOMAIN,
        "send_downlink",
        {"device_id": device_id, "payload": "00"},
        blocking=True,
    )

    _, body = await watcher.wait_for()
    (downlink,) = body["downlinks"]
    assert downlink["f_port"] == 1
    assert downlink["frm_payload"] == "AA=="
    # Left to the server, whose default (LOWEST) is the API's (lorawan.proto).
    assert "priority" not in downlink
    assert downlink["confirmed"] is False


async def test_base64_payload_replaces_the_queue(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, mqtt_watcher
) -> None:
    """A base64 payload in replace mode goes to down/replace and becomes the whole queue."""
    network.auto_send = False
    device_id = await end_device(hass, network, "multi-01")
    watcher = mqtt_watcher("v3/test-app@ttn/devices/+/down/#")
    await send_downlink(hass, device_id=device_id, payload="01")
    await send_downlink(hass, device_id=device_id, payload="02")
    await async_wait_for(lambda: len(network.queue("multi-01")) == 2)

    response = await send_downlink(
        hass,
        device_id=device_id,
        payload="AA==",
        payload_format="base64",
        mode="replace",
    )

    topic, body = await watcher.wait_for("/down/replace")
    assert topic == "v3/test-app@ttn/devices/multi-01/down/replace"
    assert body["downlinks"][0]["frm_payload"] == "AA=="
    await async_wait_for(lambda: len(network.queue("multi-01")) == 1)
    (queued,) = network.queue("multi-01")
    assert queued["frm_payload"] == "AA=="
    assert response["correlation_id"] in queued["correlation_ids"]


async def test_decoded_payload(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, mqtt_watcher
) -> None:
    """A decoded payload is sent for the server's encoder, without frm_payload."""
    device_id = await end_device(hass, network, "door-01")
    watcher = mqtt_watcher(PUSH_TOPICS)

    response = await send_downlink(
        hass,
        device_id=device_id,
        f_port=3,
        decoded_payload={"led": "on", "interval": 600},
    )

    _, body = await watcher.wait_for()
    assert body == {
        "downlinks": [
            {
                "f_port": 3,
                "decoded_payload": {"led": "on", "interval": 600},
                "confirmed": False,
                "correlation_ids": [response["correlation_id"]],
            }
        ]
    }


async def test_decoded_payload_written_in_yaml(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, mqtt_watcher
) -> None:
    """A decoded payload from a YAML script, whose keys are a str subclass, is sent."""
    device_id = await end_device(hass, network, "door-01")
    watcher = mqtt_watcher(PUSH_TOPICS)
    decoded = parse_yaml("led: 'on'\nschedule:\n  interval: 600\n")

    await send_downlink(hass, device_id=device_id, f_port=3, decoded_payload=decoded)

    _, body = await watcher.wait_for()
    assert body["downlinks"][0]["decoded_payload"] == {
        "led": "on",
        "schedule": {"interval": 600},
    }


async def test_clear_downlink_queue(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, mqtt_watcher
) -> None:
    """Clearing publishes an empty replace; the server's queue is then empty."""
    network.auto_send = False
    device_id = await end_device(hass, network, "door-01")
    await send_downlink(hass, device_id=device_id, payload="01")
    await async_wait_for(lambda: len(network.queue("door-01")) == 1)
    watcher = mqtt_watcher("v3/test-app@ttn/devices/+/down/replace")

    await hass.services.async_call(
        DOMAIN, "clear_downlink_queue", {"device_id": device_id}, blocking=True
    )

    topic, body = await watcher.wait_for()
    assert topic == "v3/test-app@ttn/devices/door-01/down/replace"
    assert body == {"downlinks": []}
    await async_wait_for(lambda: network.queue("door-01") == [])


async def test_action_fields(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The actions' fields, defaults and device selector are as documented."""
    descriptions = (await async_get_all_descriptions(hass))[DOMAIN]

    fields = descriptions["send_downlink"]["fields"]
    assert list(fields) == [
        "device_id",
        "f_port",
        "payload",
        "payload_format",
        "decoded_payload",
        "confirmed",
        "priority",
        "mode",
    ]
    assert fields["device_id"]["required"] is True
    # Home Assistant 2026.x fills the selector's other keys with their defaults.
    device_selector = fields["device_id"]["selector"]["device"]
    assert device_selector["filter"] == [{"integration": DOMAIN}]
    assert device_selector.get("multiple", False) is False
    assert fields["f_port"]["default"] == 1
    assert fields["f_port"]["selector"]["number"]["min"] == 1
    assert fields["f_port"]["selector"]["number"]["max"] == 223
    assert fields["payload_format"]["default"] == "hex"
    assert fields["payload_format"]["selector"]["select"]["options"] == [
        "hex",
        "base64",
    ]
    assert "object" in fields["decoded_payload"]["selector"]
    assert fields["confirmed"]["default"] is False
    # Lower case, as Home Assistant wants selector options; the server's names are
    # upper case, and either is accepted.
    assert "default" not in fields["priority"]
    assert fields["priority"]["selector"]["select"]["options"] == [
        priority.value.lower() for priority in Priority
    ]
    assert fields["mode"]["default"] == "push"
    assert fields["mode"]["selector"]["select"]["options"] == ["push", "replace"]
    assert list(descriptions["clear_downlink_queue"]["fields"]) == ["device_id"]
    assert (
        hass.services.supports_response(DOMAIN, "send_downlink")
        is SupportsResponse.OPTIONAL
    )


# Validation: each mistake is refused with its own translated message, and nothing
# reaches the broker.


async def assert_refused(
    hass: HomeAssistant, network, key: str, message: str, **data: Any
) -> None:
    """The call raises a translated ServiceValidationError and publishes nothing."""
    with pytest.raises(ServiceValidationError) as err:
        await send_downlink(hass, **data)
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == key
    assert str(err.value) == message
    assert network.downlinks == []


NOT_JSON = (
    "The decoded payload cannot be sent as JSON: use only objects, lists, text, "
    "numbers, true, false and null, nested at most 251 levels"
)


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"a": 1}
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("fields", "key", "message"),
    [
        (
            {"payload": "0g"},
            "invalid_hex",
            "The payload is not valid hex: write pairs of hex digits, optionally "
            "separated by spaces or colons, such as 01 ff",
        ),
        (
            {"payload": "A==", "payload_format": "base64"},
            "invalid_base64",
            "The payload is not valid base64",
        ),
        (
            {"payload": "01", "f_port": 0},
            "invalid_f_port",
            "FPort 0 is out of range: use 1 to 223",
        ),
        (
            {"payload": "01", "f_port": 224},
            "invalid_f_port",
            "FPort 224 is out of range: use 1 to 223",
        ),
        (
            {"payload": "00" * 243},
            "payload_too_long",
            "The payload is 243 bytes: a downlink carries at most 242",
        ),
        (
            {"payload": "01", "decoded_payload": {"led": "on"}},
            "payload_xor_decoded",
            "Give either a payload or a decoded payload, not both and not neither",
        ),
        (
            {},
            "payload_xor_decoded",
            "Give either a payload or a decoded payload, not both and not neither",
        ),
        (
            {"decoded_payload": ["on"]},
            "decoded_not_object",
            "The decoded payload must be an object of keys and values",
        ),
        (
            {"payload": "01", "f_port": 1.9},
            "invalid_f_port",
            "FPort 1.9 is out of range: use 1 to 223",
        ),
        (
            {"payload": "01", "f_port": True},
            "invalid_f_port",
            "FPort True is out of range: use 1 to 223",
        ),
        (
            {"decoded_payload": {"levels": {1, 2}}},
            "decoded_not_json",
            NOT_JSON,
        ),
        (
            {"decoded_payload": _nested(300)},
            "decoded_not_json",
            NOT_JSON,
        ),
        (
            {"decoded_payload": {"text": "x" * 4096}},
            "decoded_too_large",
            "The decoded payload is too large: at most 4096 bytes of JSON are sent "
            "to the server's downlink formatter",
        ),
    ],
    ids=[
        "invalid_hex",
        "invalid_base64",
        "f_port_0",
        "f_port_224",
        "payload_too_long",
        "both_payloads",
        "neither_payload",
        "decoded_not_object",
        "f_port_not_whole",
        "f_port_bool",
        "decoded_set",
        "decoded_too_deep",
        "decoded_too_large",
    ],
)
@pytest.mark.usefixtures("init_integration")
async def test_invalid_downlink(
    hass: HomeAssistant,
    network,
    fields: dict[str, Any],
    key: str,
    message: str,
) -> None:
    """An invalid downlink is refused before anything is published."""
    device_id = await end_device(hass, network, "door-01")
    await assert_refused(hass, network, key, message, device_id=device_id, **fields)


async def test_largest_payload_on_the_highest_f_port_is_accepted(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, mqtt_watcher
) -> None:
    """The most any data rate carries, 242 bytes, on the last application FPort, 223."""
    device_id = await end_device(hass, network, "th-sensor-01")
    watcher = mqtt_watcher(PUSH_TOPICS)
    await send_downlink(hass, device_id=device_id, payload="ab" * 242, f_port=223)
    _, body = await watcher.wait_for()
    assert body["downlinks"][0]["f_port"] == 223
    assert base64.b64decode(body["downlinks"][0]["frm_payload"]) == b"\xab" * 242


async def test_the_deepest_decoded_payload_said_is_sent(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, mqtt_watcher
) -> None:
    """As deep as the error message allows is published; one level more is refused."""
    device_id = await end_device(hass, network, "th-sensor-01")
    watcher = mqtt_watcher(PUSH_TOPICS)
    deepest = _nested(MAX_DECODED_DEPTH - 1)
    await assert_refused(
        hass,
        network,
        "decoded_not_json",
        NOT_JSON,
        device_id=device_id,
        decoded_payload={"a": deepest},
    )
    await send_downlink(hass, device_id=device_id, decoded_payload=deepest)
    _, body = await watcher.wait_for()
    assert body["downlinks"][0]["decoded_payload"] == deepest


async def test_unknown_device(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """A device id that is in no registry is refused."""
    await assert_refused(
        hass,
        network,
        "unknown_device",
        "There is no device with ID 0123456789abcdef",
        device_id="0123456789abcdef",
        payload="01",
    )


async def test_a_forged_device_identifier_is_refused(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """A registry device of ours whose identifier is no TTN device ID makes no topic."""
    coordinator = init_integration.runtime_data
    forged = dr.async_get(hass).async_get_or_create(
        config_entry_id=init_integration.entry_id,
        identifiers={coordinator.device_identifier("door-01/../#")},
    )
    await assert_refused(
        hass,
        network,
        "invalid_end_device",
        f"{forged.name or forged.id} does not name a valid end device ID of The "
        "Things Stack, so "
        "no downlink can be sent to it: its registry entry was changed outside this "
        "integration",
        device_id=forged.id,
        payload="01",
    )


async def test_device_of_another_integration(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """A device of another integration is refused, by name."""
    other = MockConfigEntry(domain="hue")
    other.add_to_hass(hass)
    lamp = dr.async_get(hass).async_get_or_create(
        config_entry_id=other.entry_id,
        identifiers={("hue", "lamp")},
        name="Kitchen lamp",
    )
    await assert_refused(
        hass,
        network,
        "not_ttn_device",
        "Kitchen lamp is not a device of The Things Network (MQTT)",
        device_id=lamp.id,
        payload="01",
    )


async def test_application_device(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """The application's own device is no downlink target."""
    coordinator = init_integration.runtime_data
    await assert_refused(
        hass,
        network,
        "not_end_device",
        "test-app is an application on The Things Network, not an end device: "
        "choose one of its end devices",
        device_id=coordinator.fleet.application_device_id,
        payload="01",
    )


async def test_entry_not_loaded(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """A device of an unloaded entry is refused, naming the application."""
    device_id = await end_device(hass, network, "door-01")
    await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.NOT_LOADED

    await assert_refused(
        hass,
        network,
        "entry_not_loaded",
        "The Things Network application test-app is not loaded",
        device_id=device_id,
        payload="01",
    )


async def test_not_connected_raises_and_sends_nothing_later(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    network,
    broker,
    mqtt_watcher,
) -> None:
    """While disconnected the call fails; after reconnecting, only later downlinks leave."""
    coordinator = init_integration.runtime_data
    device_id = await end_device(hass, network, "door-01")

    broker.kill()
    await async_wait_for(lambda: not coordinator.connected)
    assert hass.states.get(CONNECTIVITY).state == "off"
    with pytest.raises(HomeAssistantError) as err:
        await send_downlink(hass, device_id=device_id, payload="01")
    assert not isinstance(err.value, ServiceValidationError)
    assert err.value.translation_key == "not_connected"
    assert str(err.value) == (
        "Not connected to The Things Stack at 127.0.0.1: the downlink to door-01 "
        "was not sent"
    )

    broker.restart()
    # Watching before the integration reconnects: a downlink kept from before would
    # be published right after its reconnect, ahead of the next one.
    watcher = mqtt_watcher(PUSH_TOPICS)
    await async_wait_for(lambda: coordinator.connected, timeout=10)
    response = await send_downlink(hass, device_id=device_id, payload="02")
    _, body = await watcher.wait_for()
    assert body["downlinks"][0]["correlation_ids"] == [response["correlation_id"]]
    assert len(watcher.messages) == 1


async def test_a_downlink_the_server_never_answers_fails_as_no_answer(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    network,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Refused before queueing (only logged by the server): a failed report of ours.

    The simulated server, as The Things Stack, publishes nothing for a downlink its
    formatter cannot encode; here its queue request handling is switched off.
    """
    monkeypatch.setattr(downlink_sender, "ANSWER_TIMEOUT", 0.5)
    monkeypatch.setattr(network, "_handle_request", lambda *args: None)
    device_id = await end_device(hass, network, "door-01")
    reports = async_capture_events(hass, EVENT_DOWNLINK)

    response = await send_downlink(hass, device_id=device_id, decoded_payload={"x": 1})

    await async_wait_for(lambda: reports)
    (report,) = reports
    assert report.data["status"] == "failed"
    assert report.data["error_name"] == "no_answer"
    assert report.data["correlation_id"] == response["correlation_id"]
    assert "did not answer within 0.5 s" in report.data["error_message"]


async def test_an_answered_downlink_gets_no_no_answer(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    network,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once the server reported the downlink queued, the bound no longer applies."""
    monkeypatch.setattr(downlink_sender, "ANSWER_TIMEOUT", 0.5)
    device_id = await end_device(hass, network, "door-01")
    reports = async_capture_events(hass, EVENT_DOWNLINK)
    await send_downlink(hass, device_id=device_id, payload="01")
    await async_wait_for(lambda: reports)
    await asyncio.sleep(1)
    assert "failed" not in [report.data["status"] for report in reports]
    assert not init_integration.runtime_data.downlinks._unanswered


async def test_device_picker_offers_end_devices_only(
    hass: HomeAssistant, init_integration: MockConfigEntry, network
) -> None:
    """The actions' device picker lists devices with a Downlink entity: end devices.

    The frontend filters on the selector's `entity` filter; the application's own
    device, which takes no downlink, has no entity that passes it.
    """
    services = load_yaml_dict(str(SOURCE / "services.yaml"))
    entity_filters = {
        str(services[name]["fields"]["device_id"]["selector"]["device"]["entity"])
        for name in ("send_downlink", "clear_downlink_queue")
    }
    assert entity_filters == {str([{"integration": DOMAIN, "domain": "event"}])}

    coordinator = init_integration.runtime_data
    end_device_id = await end_device(hass, network, "door-01")
    registry = er.async_get(hass)

    def passes(device_id: str) -> bool:
        return any(
            entity.platform == DOMAIN and entity.domain == "event"
            for entity in er.async_entries_for_device(registry, device_id)
        )

    await async_wait_for(lambda: passes(end_device_id))
    assert not passes(coordinator.fleet.application_device_id)
