"""Downlink reports: ttn_mqtt_downlink events on the bus and each device's Downlink entity."""

from __future__ import annotations

import asyncio
from typing import Any

from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.ttn_mqtt import logbook
from custom_components.ttn_mqtt.const import DOMAIN, EVENT_DOWNLINK
from custom_components.ttn_mqtt.event import TtnDownlinkEvent
from custom_components.ttn_mqtt.protocol import downlink as downlink_module
from custom_components.ttn_mqtt.protocol.messages import parse_application_up

from .common import async_wait_for
from .uplinks import end_device, send_downlink

pytestmark = pytest.mark.usefixtures("socket_enabled")


class Recorder:
    """Collect the ttn_mqtt_downlink events and the event attributes an entity shows."""

    def __init__(self, hass: HomeAssistant, entity_id: str) -> None:
        """Start listening."""
        self.events: list[dict[str, Any]] = []
        self.shown: list[dict[str, Any]] = []
        self._unsubscribe = [
            hass.bus.async_listen(
                EVENT_DOWNLINK,
                callback(lambda event: self.events.append(dict(event.data))),
            ),
            async_track_state_change_event(hass, [entity_id], self._state_changed),
        ]

    @callback  # On the loop, in order: not as an executor job, in a thread.
    def _state_changed(self, event: Event[EventStateChangedData]) -> None:
        if (state := event.data["new_state"]) and state.attributes.get("event_type"):
            self.shown.append(dict(state.attributes))

    def statuses(self) -> list[str]:
        """Return the statuses fired on the bus, in order."""
        return [data["status"] for data in self.events]

    def stop(self) -> None:
        """Stop listening."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()


@pytest.fixture
def recorder(hass: HomeAssistant):
    """Return a factory of recorders, stopped at teardown."""
    recorders: list[Recorder] = []

    def start(entity_id: str) -> Recorder:
        recorders.append(Recorder(hass, entity_id))
        return recorders[-1]

    yield start
    for started in recorders:
        started.stop()


async def test_confirmed_downlink_reports(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, recorder
) -> None:
    """Queued, sent and ack come back on the bus and on the entity, with our id."""
    device_id = await end_device(hass, network, "door-01")
    entity_id = "event.door_01_downlink"
    state = hass.states.get(entity_id)
    assert state.state == "unknown"
    assert state.name == "door-01 Downlink"
    assert state.attributes["event_types"] == [
        "queued",
        "sent",
        "ack",
        "nack",
        "failed",
    ]
    entry = er.async_get(hass).async_get(entity_id)
    assert entry.device_id == device_id
    assert entry.unique_id == "test-app@ttn/door-01/downlink"
    record = recorder(entity_id)

    response = await send_downlink(
        hass, device_id=device_id, f_port=7, payload="0102", confirmed=True
    )
    correlation_id = response["correlation_id"]
    await async_wait_for(lambda: record.statuses() == ["queued", "sent", "ack"])

    for data in record.events:
        assert data["device_id"] == device_id
        assert data["ttn_device_id"] == "door-01"
        assert data["correlation_id"] == correlation_id
        # The server adds ids of its own to ours.
        assert correlation_id in data["correlation_ids"]
        assert len(data["correlation_ids"]) > 1
        assert data["f_port"] == 7
        assert "error_name" not in data
    await async_wait_for(lambda: len(record.shown) == 3)
    assert [shown["event_type"] for shown in record.shown] == ["queued", "sent", "ack"]
    for shown in record.shown:
        assert shown["correlation_id"] == correlation_id
        assert correlation_id in shown["correlation_ids"]
        assert shown["f_port"] == 7
    assert hass.states.get(entity_id).attributes["event_type"] == "ack"


async def test_nack_is_retried_then_fails(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    network,
    recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A nack is not the end: the server sends again, then drops it; we say failed.

    applicationserver.go pushes a nacked downlink again while its attempts last and
    then drops it without a report: the last nack is followed by our failed report.
    """
    monkeypatch.setattr(downlink_module, "CONFIRMED_ATTEMPTS", 2)
    network.devices["th-sensor-01"].downlink_behaviour = "nack"
    device_id = await end_device(hass, network, "th-sensor-01")
    record = recorder("event.th_sensor_01_downlink")

    response = await send_downlink(
        hass, device_id=device_id, payload="01", confirmed=True
    )

    await async_wait_for(lambda: "failed" in record.statuses(), timeout=10)
    statuses = record.statuses()
    assert statuses[0] == "queued"
    assert statuses[-2:] == ["nack", "failed"]
    nacks = [data for data in record.events if data["status"] == "nack"]
    assert [data["attempt"] for data in nacks] == [1, 2, 3]
    failed = record.events[-1]
    assert failed["error_name"] == "max_retries_reached"
    assert failed["correlation_id"] == response["correlation_id"]
    # The entity shows the final report last (the entity may be new with the first).
    await async_wait_for(
        lambda: record.shown and record.shown[-1]["event_type"] == "failed"
    )


async def test_payload_too_long_for_the_data_rate_fails(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, recorder
) -> None:
    """52 bytes pass our check but not a DR0 device's 51: the server reports failed."""
    assert network.devices["gps-tracker-01"].max_downlink_size == 51
    device_id = await end_device(hass, network, "gps-tracker-01")
    entity_id = "event.gps_tracker_01_downlink"
    record = recorder(entity_id)

    response = await send_downlink(hass, device_id=device_id, payload="00" * 52)

    await async_wait_for(lambda: record.statuses() == ["queued", "failed"])
    failed = record.events[-1]
    assert failed["correlation_id"] == response["correlation_id"]
    assert failed["error_name"] == "application_downlink_too_long"
    assert (
        failed["error_message"]
        == "application downlink payload length `52` exceeds maximum '51'"
    )
    await async_wait_for(
        lambda: hass.states.get(entity_id).attributes.get("event_type") == "failed"
    )
    attributes = hass.states.get(entity_id).attributes
    assert attributes["correlation_id"] == response["correlation_id"]
    assert attributes["error_name"] == "application_downlink_too_long"
    assert (
        attributes["error_message"]
        == "application downlink payload length `52` exceeds maximum '51'"
    )


async def test_report_of_a_device_not_seen_before(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, mqtt_watcher
) -> None:
    """A downlink from the console to a silent device: device and entity appear."""
    console = mqtt_watcher("v3/test-app@ttn/devices/+/down/sent")
    assert hass.states.get("event.raw_01_downlink") is None
    events: list[dict[str, Any]] = []
    hass.bus.async_listen(
        EVENT_DOWNLINK, callback(lambda event: events.append(event.data))
    )
    fired: list[dict[str, Any]] = []

    @callback
    def shown(event: Event[EventStateChangedData]) -> None:
        if (state := event.data["new_state"]) and state.attributes.get("event_type"):
            fired.append(dict(state.attributes))

    async_track_state_change_event(hass, ["event.raw_01_downlink"], shown)

    console.publish(
        "v3/test-app@ttn/devices/raw-01/down/push",
        {"downlinks": [{"f_port": 4, "frm_payload": "AQ==", "priority": "NORMAL"}]},
    )

    await console.wait_for()
    await async_wait_for(
        lambda: (
            (state := hass.states.get("event.raw_01_downlink")) is not None
            and state.attributes.get("event_type") == "sent"
        )
    )
    # The state is there before the listeners of its change have run.
    await hass.async_block_till_done()
    state = hass.states.get("event.raw_01_downlink")
    assert state.attributes["f_port"] == 4
    # Each report fired the new entity once, the one that made it included.
    assert [event["status"] for event in events] == ["queued", "sent"]
    assert [shown["event_type"] for shown in fired] == ["queued", "sent"]
    # Not one of ours: no correlation id of ours to match.
    assert state.attributes["correlation_id"] is None
    assert events[0]["correlation_id"] is None
    ha_device_id = init_integration.runtime_data.devices["raw-01"].ha_device_id
    assert ha_device_id is not None
    assert events[0]["device_id"] == ha_device_id
    assert er.async_get(hass).async_get("event.raw_01_downlink").device_id == (
        ha_device_id
    )


async def test_deleted_device_gets_its_entity_back(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    network,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """A device the user deleted comes back, Downlink entity included, when it reports."""
    device_id = await end_device(hass, network, "door-01")
    assert await async_setup_component(hass, "config", {})
    client = await hass_ws_client(hass)

    await client.send_json_auto_id(
        {
            "type": "config/device_registry/remove_config_entry",
            "config_entry_id": init_integration.entry_id,
            "device_id": device_id,
        }
    )
    assert (await client.receive_json())["success"]
    await hass.async_block_till_done()
    assert er.async_get(hass).async_get("event.door_01_downlink") is None

    new_device_id = await end_device(hass, network, "door-01")
    await async_wait_for(
        lambda: er.async_get(hass).async_get("event.door_01_downlink") is not None
    )
    entity = er.async_get(hass).async_get("event.door_01_downlink")
    assert entity.device_id == new_device_id
    assert hass.states.get("event.door_01_downlink").state == "unknown"


async def test_a_failure_keeps_its_cause(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, recorder
) -> None:
    """down/failed with a cause: the event and the entity keep its name and message."""
    network.devices["raw-01"].downlink_behaviour = "fail"
    device_id = await end_device(hass, network, "raw-01")
    record = recorder("event.raw_01_downlink")
    await send_downlink(hass, device_id=device_id, payload="01")

    await async_wait_for(lambda: "failed" in record.statuses())
    failed = record.events[-1]
    assert failed["error_name"] == "schedule"
    assert failed["error_cause_name"] == "too_late"
    assert failed["error_cause_message"] == (
        "too late to transmission scheduled time (delta is `87.512ms`)"
    )
    await async_wait_for(
        lambda: record.shown and record.shown[-1]["event_type"] == "failed"
    )
    assert record.shown[-1]["error_cause_name"] == "too_late"


async def test_the_logbook_says_what_became_of_a_downlink(
    hass: HomeAssistant, init_integration: MockConfigEntry, network, recorder
) -> None:
    """A failed report reads with its reason and cause, not "Detected an event"."""
    described: dict[tuple[str, str], Any] = {}
    logbook.async_describe_events(
        hass,
        lambda domain, event_type, describe: described.update(
            {(domain, event_type): describe}
        ),
    )
    describe = described[(DOMAIN, EVENT_DOWNLINK)]
    network.devices["raw-01"].downlink_behaviour = "fail"
    device_id = await end_device(hass, network, "raw-01")
    record = recorder("event.raw_01_downlink")
    await send_downlink(hass, device_id=device_id, f_port=9, payload="01")
    await async_wait_for(lambda: "failed" in record.statuses())

    events = [describe(Event(EVENT_DOWNLINK, data)) for data in record.events]
    failed = events[-1]
    assert failed["name"] == "raw-01"
    assert failed["entity_id"] == "event.raw_01_downlink"
    assert failed["message"] == (
        "downlink on port 9 failed: failed to schedule (cause: too late to "
        "transmission scheduled time (delta is `87.512ms`))"
    )
    assert events[0]["message"] == "downlink on port 9 queued"


async def test_reports_before_the_new_entity_is_added_are_all_shown(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Queued and sent of a silent device in one go: its new entity shows both.

    The server often publishes them together. When adding the entity they made
    waits (a busy Home Assistant), the second came before the entity was added, and
    it showed only the last.
    """
    added = TtnDownlinkEvent.async_added_to_hass

    async def added_later(entity: TtnDownlinkEvent) -> None:
        await asyncio.sleep(0.05)
        await added(entity)

    monkeypatch.setattr(TtnDownlinkEvent, "async_added_to_hass", added_later)
    recorder = Recorder(hass, "event.raw_01_downlink")
    fleet = init_integration.runtime_data.fleet
    for status in ("downlink_queued", "downlink_sent"):
        fleet.async_apply_message(
            parse_application_up(
                {
                    "end_device_ids": {
                        "device_id": "raw-01",
                        "application_ids": {"application_id": "test-app"},
                    },
                    "received_at": "2026-12-06T04:30:00Z",
                    status: {"f_port": 4, "frm_payload": "AQ==", "priority": "NORMAL"},
                }
            )
        )
    await async_wait_for(lambda: recorder.shown)
    await hass.async_block_till_done()
    assert [shown["event_type"] for shown in recorder.shown] == ["queued", "sent"]
