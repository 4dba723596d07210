"""The share_lorawan option: offered and applied only where Home Assistant has `lorawan`.

No Home Assistant release the tests run on has it yet (2026.11 has; no test harness
for 2026.11 exists): a small fake of `lorawan` stands at the boundary, doing with the
connection what `lorawan.async_register_connection` of 2026.11 does (connection.py
`RegisteredConnection.async_setup`): it listens for the connection's end and
subscribes to every device.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
import logging
import sys
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from lorawan_connection import AddedEvent, DeviceEvent, UplinkEvent
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockModule,
    mock_integration,
)

from custom_components.ttn_mqtt.const import (
    CONF_BACKFILL_HOURS,
    CONF_SHARE_LORAWAN,
)
from ttn_sim import Network
from ttn_sim.devices import SimDevice

from .common import async_wait_for
from .test_lorawan_adapter import S2120_VERSION, WEATHER_EUI, send_s2120_fixture
from .uplinks import uplink_and_wait

pytestmark = pytest.mark.usefixtures("socket_enabled")


class FakeLoRaWan:
    """Home Assistant 2026.11's `lorawan` integration, as far as a connection sees it."""

    def __init__(self) -> None:
        self.registered: list[tuple[str, Any, str | None]] = []
        self.events: list[DeviceEvent] = []
        self.unregistered = 0
        self.disconnected = 0
        # Set, registration fails as it does for an entry registered twice.
        self.refuse = False

    async def async_register_connection(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        *,
        connection: Any,
        configuration_url: str | None = None,
    ) -> Callable[[], None]:
        if self.refuse:
            raise ValueError("A connection is already registered for this entry")
        unsubscribes = [
            connection.on_disconnect(self._disconnected),
            await connection.async_subscribe(brands=None, listener=self.events.append),
        ]
        self.registered.append((entry.entry_id, connection, configuration_url))

        def unregister() -> None:
            self.unregistered += 1
            for unsubscribe in unsubscribes:
                unsubscribe()

        return unregister

    def _disconnected(self) -> None:
        self.disconnected += 1


@pytest.fixture
def lorawan(hass: HomeAssistant) -> FakeLoRaWan:
    """A built-in `lorawan` integration whose module is the fake."""
    fake = FakeLoRaWan()
    module = MockModule("lorawan")
    module.async_register_connection = fake.async_register_connection  # type: ignore[attr-defined]
    mock_integration(hass, module)
    return fake


@pytest.fixture
def shared_entry(config_entry: MockConfigEntry, hass: HomeAssistant) -> MockConfigEntry:
    """The test entry with the share_lorawan option on."""
    hass.config_entries.async_update_entry(
        config_entry, options={CONF_BACKFILL_HOURS: 0, CONF_SHARE_LORAWAN: True}
    )
    return config_entry


async def options_form_fields(hass: HomeAssistant, entry: MockConfigEntry) -> set[str]:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    return {str(marker.schema) for marker in result["data_schema"].schema}


async def set_up(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


# Without `lorawan`: Home Assistant 2025.4 to 2026.10.


async def test_option_hidden_without_lorawan(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A Home Assistant without the lorawan integration is not offered the option."""
    assert "lorawan" not in hass.config.components
    assert await options_form_fields(hass, init_integration) == {
        "signal_entities",
        "stale_hours",
        "backfill_hours",
    }


@pytest.mark.usefixtures("network")
async def test_option_left_on_imports_nothing_without_lorawan(
    hass: HomeAssistant,
    shared_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An entry with the option, on a Home Assistant without lorawan, loads as before.

    Without lorawan, lorawan-connection is not installed: any import of it, or of the
    adapter, fails here.
    """
    monkeypatch.setitem(sys.modules, "lorawan_connection", None)
    monkeypatch.delitem(
        sys.modules, "custom_components.ttn_mqtt.lorawan_adapter", raising=False
    )
    await set_up(hass, shared_entry)
    assert shared_entry.state is ConfigEntryState.LOADED
    assert "has no LoRaWAN integration" in caplog.text
    assert "custom_components.ttn_mqtt.lorawan_adapter" not in sys.modules
    assert CONF_SHARE_LORAWAN not in await options_form_fields(hass, shared_entry)
    await hass.config_entries.async_unload(shared_entry.entry_id)


# With `lorawan` (faked): Home Assistant 2026.11 and later.


@pytest.mark.usefixtures("network")
async def test_option_offered_with_lorawan_and_off_by_default(
    hass: HomeAssistant, config_entry: MockConfigEntry, lorawan: FakeLoRaWan
) -> None:
    """The option is offered, off; an entry without it registers nothing."""
    await set_up(hass, config_entry)
    result = await hass.config_entries.options.async_init(config_entry.entry_id)
    fields = {str(marker.schema): marker for marker in result["data_schema"].schema}
    assert CONF_SHARE_LORAWAN in fields
    assert fields[CONF_SHARE_LORAWAN].default() is False
    assert lorawan.registered == []

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "signal_entities": True,
            "stale_hours": 0,
            "backfill_hours": 0,
            CONF_SHARE_LORAWAN: True,
        },
    )
    await hass.async_block_till_done()
    assert config_entry.options[CONF_SHARE_LORAWAN] is True
    # Saving reloaded the entry, which registered.
    assert [entry_id for entry_id, *_ in lorawan.registered] == [config_entry.entry_id]
    await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()


async def test_entry_registers_and_unregisters(
    hass: HomeAssistant,
    shared_entry: MockConfigEntry,
    network: Network,
    lorawan: FakeLoRaWan,
) -> None:
    """With the option, the entry is a connection of stack tts until it unloads."""
    await set_up(hass, shared_entry)
    assert "lorawan" in hass.config.components
    ((entry_id, connection, url),) = lorawan.registered
    assert entry_id == shared_entry.entry_id
    assert connection.stack_type == "tts"
    assert url == "https://127.0.0.1/console/applications/test-app"

    sent = await uplink_and_wait(hass, network, "th-sensor-01")
    added, uplink = lorawan.events
    assert isinstance(added, AddedEvent)
    assert added.descriptor.network_id == shared_entry.entry_id
    assert isinstance(uplink, UplinkEvent)
    assert uplink.data == base64.b64decode(sent["uplink_message"]["frm_payload"])

    await hass.config_entries.async_unload(shared_entry.entry_id)
    await hass.async_block_till_done()
    assert lorawan.unregistered == 1
    # Unregistered before the connection closed: its end was not announced.
    assert lorawan.disconnected == 0
    lorawan.events.clear()
    network.uplink("th-sensor-01")
    await hass.async_block_till_done()
    assert lorawan.events == []


@pytest.mark.usefixtures("network")
async def test_a_failed_registration_leaves_the_entry_working(
    hass: HomeAssistant,
    shared_entry: MockConfigEntry,
    lorawan: FakeLoRaWan,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """lorawan refusing the connection is logged; the entry runs without sharing."""
    lorawan.refuse = True
    with caplog.at_level(logging.ERROR):
        await set_up(hass, shared_entry)
    assert shared_entry.state is ConfigEntryState.LOADED
    assert "Could not share the devices of test-app" in caplog.text
    await hass.config_entries.async_unload(shared_entry.entry_id)


async def test_lorawan_that_fails_to_set_up_shares_nothing(
    hass: HomeAssistant,
    shared_entry: MockConfigEntry,
    network: Network,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A lorawan integration that does not set up leaves the entry as it was."""

    async def fail(hass: HomeAssistant, config: Any) -> bool:
        return False

    mock_integration(hass, MockModule("lorawan", async_setup=fail))
    await set_up(hass, shared_entry)
    assert shared_entry.state is ConfigEntryState.LOADED
    assert "could not be set up" in caplog.text
    await hass.config_entries.async_unload(shared_entry.entry_id)


# A device that a LoRaWAN device integration took.


def field_entities(hass: HomeAssistant, entry: MockConfigEntry) -> set[str]:
    return {
        entity.entity_id
        for entity in er.async_entries_for_config_entry(
            er.async_get(hass), entry.entry_id
        )
        if "/weather-01/field_" in entity.unique_id
    }


async def test_a_taken_device_keeps_diagnostics_but_not_its_fields(
    hass: HomeAssistant,
    shared_entry: MockConfigEntry,
    network: Network,
    lorawan: FakeLoRaWan,
) -> None:
    """SenseCAP's integration adds the station: its readings are SenseCAP's, not ours.

    Until it lets the device go: then the entry reloads, and our fields are back.
    """
    network.add_device(
        SimDevice("weather-01", WEATHER_EUI, version_ids=dict(S2120_VERSION), f_port=3)
    )
    await set_up(hass, shared_entry)
    await send_s2120_fixture(hass, network)
    assert "sensor.weather_01_air_temperature" in field_entities(hass, shared_entry)

    # What sensecap_lorawan's DeviceManager registers for a device of our connection.
    sensecap = MockConfigEntry(domain="sensecap_lorawan")
    sensecap.add_to_hass(hass)
    registry = dr.async_get(hass)
    taken = registry.async_get_or_create(
        config_entry_id=sensecap.entry_id,
        identifiers={
            ("sensecap_lorawan", f"{shared_entry.entry_id}:{WEATHER_EUI.lower()}")
        },
        name="weather-01",
    )
    await hass.async_block_till_done()
    assert field_entities(hass, shared_entry) == set()
    assert hass.states.get("sensor.weather_01_air_temperature") is None
    assert hass.states.get("sensor.weather_01_last_seen") is not None
    # Other devices keep theirs.
    await uplink_and_wait(hass, network, "th-sensor-01")
    assert hass.states.get("sensor.th_sensor_01_temperature") is not None

    # Uplinks bring no field back, a new field neither.
    await send_s2120_fixture(hass, network)
    await uplink_and_wait(
        hass,
        network,
        "weather-01",
        decoded_payload={"err": 0, "new_reading": 5},
        f_port=3,
    )
    assert field_entities(hass, shared_entry) == set()

    # Set up again, they are not made either.
    await hass.config_entries.async_reload(shared_entry.entry_id)
    await hass.async_block_till_done()
    assert field_entities(hass, shared_entry) == set()

    registry.async_remove_device(taken.id)
    await hass.async_block_till_done()
    await async_wait_for(
        lambda: hass.states.get("sensor.weather_01_air_temperature") is not None
    )
    assert shared_entry.state is ConfigEntryState.LOADED
    await hass.config_entries.async_unload(shared_entry.entry_id)
    await hass.async_block_till_done()
