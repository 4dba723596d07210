"""The entry as a LoRaWAN connection (lorawan-connection), without Home Assistant's `lorawan`.

The adapter runs on a real entry against the simulated application; the device models
that read it are lorawan-connection's and sensecap-lorawan's, as Home Assistant 2026.11's
`lorawan` and `sensecap_lorawan` integrations use them.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util.unit_conversion import PressureConverter, SpeedConverter
from lorawan_connection import (
    AckEvent,
    AddedEvent,
    ConnectionUnavailable,
    DeviceCollection,
    DeviceEvent,
    Downlink,
    DownlinkError,
    GatewayReception,
    JoinEvent,
    RemovedEvent,
    UpdatedEvent,
    UplinkEvent,
)
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from sensecap_lorawan import S2120, SenseCapDeviceCollection

from custom_components.ttn_mqtt.lorawan_adapter import TtnMqttConnection
from custom_components.ttn_mqtt.protocol.messages import parse_application_up
from ttn_sim import Network
from ttn_sim.devices import SimDevice

from .common import async_wait_for
from .uplinks import end_device, load_decoder, uplink_and_wait

pytestmark = pytest.mark.usefixtures("socket_enabled")

# The S2120 as TTN's device repository names it (vendor/sensecap/index.yaml), and as
# sensecap-lorawan's S2120 model is matched.
S2120_VERSION = {
    "brand_id": "sensecap",
    "model_id": "sensecaps2120-8-in-1",
    "hardware_version": "1.0",
    "firmware_version": "1.0",
    "band_id": "EU_863_870",
}
WEATHER_EUI = "2CF7F1C0440000A1"

# Our sensor's object id, the model's attribute and its unit, and the converter from
# that unit to the one our sensor shows (Home Assistant converts wind and pressure).
S2120_READINGS: tuple[tuple[str, str, str | None, Any], ...] = (
    ("air_temperature", "temperature", "°C", None),
    ("air_humidity", "humidity", "%", None),
    ("light_intensity", "illuminance", "lx", None),
    ("uv_index", "uv_index", None, None),
    ("wind_speed", "wind_speed", "m/s", SpeedConverter),
    ("wind_direction", "wind_direction", "°", None),
    ("rain_gauge", "rainfall", "mm/h", None),
    ("barometric_pressure", "pressure", "Pa", PressureConverter),
)


@pytest.fixture
async def connection(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> AsyncIterator[TtnMqttConnection]:
    """The adapter on the running entry, closed after the test."""
    adapter = TtnMqttConnection(init_integration.runtime_data)
    adapter.start()
    yield adapter
    adapter.close()


@pytest.fixture
def weather_station(network: Network) -> SimDevice:
    """A SenseCAP S2120 weather station, added to the simulated application."""
    device = SimDevice(
        "weather-01", WEATHER_EUI, version_ids=dict(S2120_VERSION), f_port=3
    )
    network.add_device(device)
    return device


async def send_s2120_fixture(hass: HomeAssistant, network: Network) -> dict[str, Any]:
    """Send the recorded S2120 uplink: its bytes, and what TTN's decoder made of them."""
    fixture = load_decoder("sensecap_s2120")
    (decoded,) = fixture["decoded_payloads"]
    frm_payload = base64.b64encode(bytes.fromhex(decoded["payload"])).decode()
    return await uplink_and_wait(
        hass,
        network,
        "weather-01",
        decoded_payload=decoded,
        f_port=fixture["f_port"],
        frm_payload=frm_payload,
    )


def recorder(
    events: list[DeviceEvent],
) -> Callable[[DeviceEvent], None]:
    return events.append


@pytest.mark.usefixtures("weather_station")
async def test_sensecap_decodes_what_our_entities_show(
    hass: HomeAssistant, network: Network, connection: TtnMqttConnection
) -> None:
    """sensecap-lorawan's S2120, fed by the adapter, reads what our sensors show."""
    collection = SenseCapDeviceCollection(connection)
    await collection.async_setup()
    added: list[Any] = []
    collection.subscribe_device_added(added.append)

    await send_s2120_fixture(hass, network)

    (device,) = added
    assert isinstance(device, S2120)
    assert device.descriptor.dev_eui == WEATHER_EUI.lower()
    assert device.descriptor.name == "weather-01"
    compared = 0
    for object_id, attribute, unit, converter in S2120_READINGS:
        state = hass.states.get(f"sensor.weather_01_{object_id}")
        assert state is not None, object_id
        value = getattr(device, attribute)
        assert value is not None, attribute
        shown_unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
        if converter is not None:
            value = converter.convert(value, unit, shown_unit)
        else:
            assert shown_unit == unit or (unit is None and shown_unit == "UV index")
        # Home Assistant rounds a converted value (6.5 km/h for 1.8 m/s) in 2025.4.
        assert float(state.state) == pytest.approx(value, rel=0.01, abs=1e-9), object_id
        compared += 1
    assert compared == len(S2120_READINGS)
    collection.close()


async def test_devices_uplinks_and_joins(
    hass: HomeAssistant, network: Network, connection: TtnMqttConnection
) -> None:
    """Each device is added once, then every uplink (bytes, port, gateways) and join."""
    events: list[DeviceEvent] = []
    await connection.async_subscribe(listener=recorder(events))
    assert events == []  # No device has reported yet.

    sent = await uplink_and_wait(hass, network, "th-sensor-01")
    added, uplink = events
    assert isinstance(added, AddedEvent)
    descriptor = added.descriptor
    assert (descriptor.network_id, descriptor.stack) == (
        hass.config_entries.async_entries("ttn_mqtt")[0].entry_id,
        "tts",
    )
    assert (descriptor.dev_eui, descriptor.name, descriptor.application_id) == (
        "a840410000000001",
        "th-sensor-01",
        "test-app",
    )
    assert (descriptor.brand_id, descriptor.model_id) == ("dragino", "lht65")
    assert descriptor.manufacturer == "Dragino"
    assert descriptor.model
    message = sent["uplink_message"]
    assert isinstance(uplink, UplinkEvent)
    assert uplink.descriptor == descriptor
    assert uplink.data == base64.b64decode(message["frm_payload"])
    assert uplink.f_port == message["f_port"] == 2
    assert uplink.receptions == tuple(
        GatewayReception(rx["gateway_ids"]["gateway_id"], rx.get("rssi"), rx.get("snr"))
        for rx in message["rx_metadata"]
    )
    assert uplink.received_at.isoformat().startswith(sent["received_at"][:19])

    events.clear()
    await uplink_and_wait(hass, network, "th-sensor-01")
    assert [type(event) for event in events] == [UplinkEvent]

    events.clear()
    join = network.join("th-sensor-01")
    await async_wait_for(lambda: len(events) == 1)
    (joined,) = events
    assert isinstance(joined, JoinEvent)
    assert joined.dev_eui == "a840410000000001"
    assert joined.dev_addr == join["end_device_ids"]["dev_addr"].lower()


async def test_uplinks_fetched_back_are_delivered(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    network: Network,
    connection: TtnMqttConnection,
) -> None:
    """An uplink the catch-up fetched back reaches the subscribers like a live one."""
    events: list[DeviceEvent] = []
    await connection.async_subscribe(listener=recorder(events))
    missed = network.build_uplink("multi-01")
    # As StorageCatchUp applies what the Storage Integration returns.
    init_integration.runtime_data.fleet.async_apply_message(
        parse_application_up(missed), backfilled=True
    )
    added, uplink = events
    assert isinstance(added, AddedEvent)
    assert added.descriptor.brand_id is None
    assert isinstance(uplink, UplinkEvent)
    assert uplink.data == base64.b64decode(missed["uplink_message"]["frm_payload"])


async def test_a_late_subscriber_gets_each_device_and_its_latest_uplink(
    hass: HomeAssistant, network: Network, connection: TtnMqttConnection
) -> None:
    """A device integration set up after the uplinks still reads the latest one."""
    await uplink_and_wait(hass, network, "door-01")
    sent = await uplink_and_wait(hass, network, "door-01")
    events: list[DeviceEvent] = []
    await connection.async_subscribe(listener=recorder(events))
    added, uplink = events
    assert isinstance(added, AddedEvent)
    assert added.descriptor.name == "door-01"
    assert isinstance(uplink, UplinkEvent)
    assert uplink.data == base64.b64decode(sent["uplink_message"]["frm_payload"])


async def test_restored_devices_are_described_at_start(
    hass: HomeAssistant, init_integration: MockConfigEntry, network: Network
) -> None:
    """After a reload, the devices stored with their last uplink are there at once."""
    await uplink_and_wait(hass, network, "th-sensor-01")
    await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    adapter = TtnMqttConnection(init_integration.runtime_data)
    events: list[DeviceEvent] = []
    await adapter.async_subscribe(listener=recorder(events))
    assert [type(event) for event in events] == [AddedEvent, UplinkEvent]
    assert events[0].dev_eui == "a840410000000001"
    adapter.close()


@pytest.mark.usefixtures("weather_station")
async def test_brands_select_devices(
    hass: HomeAssistant, network: Network, connection: TtnMqttConnection
) -> None:
    """A subscriber for one brand hears of that brand's devices only."""
    sensecap: list[DeviceEvent] = []
    await connection.async_subscribe(
        brands=frozenset({("tts", "sensecap")}), listener=recorder(sensecap)
    )
    await uplink_and_wait(hass, network, "th-sensor-01")
    await send_s2120_fixture(hass, network)
    assert [type(event) for event in sensecap] == [AddedEvent, UplinkEvent]
    assert {event.dev_eui for event in sensecap} == {WEATHER_EUI.lower()}


async def test_a_device_first_known_by_its_join_is_added_again_with_its_brand(
    hass: HomeAssistant, network: Network, connection: TtnMqttConnection
) -> None:
    """Device integrations are discovered by an added device's brand, learnt later."""
    events: list[DeviceEvent] = []
    await connection.async_subscribe(listener=recorder(events))
    network.join("th-sensor-01")
    await async_wait_for(lambda: len(events) == 2)
    added, joined = events
    assert isinstance(added, AddedEvent)
    assert added.descriptor.brand_id is None
    assert isinstance(joined, JoinEvent)

    events.clear()
    await uplink_and_wait(hass, network, "th-sensor-01")
    again, uplink = events
    assert isinstance(again, AddedEvent)
    assert again.descriptor.brand_id == "dragino"
    assert isinstance(uplink, UplinkEvent)

    # A later change of model is an update.
    events.clear()
    await uplink_and_wait(
        hass,
        network,
        "th-sensor-01",
        version_ids={"brand_id": "dragino", "model_id": "lht52"},
    )
    assert [type(event) for event in events] == [UpdatedEvent, UplinkEvent]
    assert events[0].descriptor.model_id == "lht52"


async def test_confirmed_downlink_is_acknowledged(
    hass: HomeAssistant, network: Network, connection: TtnMqttConnection
) -> None:
    """A device model's confirmed downlink goes out through the entry and is acked."""
    collection = DeviceCollection(connection)
    await collection.async_setup()
    await uplink_and_wait(hass, network, "th-sensor-01")
    device = collection.devices["a840410000000001"]
    events: list[DeviceEvent] = []
    await connection.async_subscribe(listener=recorder(events))
    events.clear()

    await device.async_send_downlink(data=b"\x01\x02", f_port=5)

    device_id, mode, body = network.downlinks[-1]
    assert (device_id, mode) == ("th-sensor-01", "push")
    (sent,) = body["downlinks"]
    assert base64.b64decode(sent["frm_payload"]) == b"\x01\x02"
    assert (sent["f_port"], sent["confirmed"]) == (5, True)
    (ack,) = [event for event in events if isinstance(event, AckEvent)]
    assert ack.acknowledged
    assert ack.queue_item_id in sent["correlation_ids"]
    collection.close()


async def test_unconfirmed_and_failed_downlinks(
    hass: HomeAssistant, network: Network, connection: TtnMqttConnection
) -> None:
    """An unconfirmed downlink waits for nothing; a failed confirmed one raises."""
    collection = DeviceCollection(connection)
    await collection.async_setup()
    await uplink_and_wait(hass, network, "th-sensor-01")
    device = collection.devices["a840410000000001"]

    await device.async_send_downlink(data=b"\x07", f_port=9, wait_for_ack=False)
    await async_wait_for(lambda: len(network.downlinks) == 1)
    assert network.downlinks[0][2]["downlinks"][0]["confirmed"] is False

    network.devices["th-sensor-01"].downlink_behaviour = "fail"
    with pytest.raises(DownlinkError, match="did not acknowledge"):
        await device.async_send_downlink(data=b"\x08", f_port=9)
    collection.close()


async def test_downlinks_the_adapter_refuses(
    hass: HomeAssistant, network: Network, connection: TtnMqttConnection
) -> None:
    """Unknown devices, expiry (which TTS lacks) and oversized payloads are refused."""
    await uplink_and_wait(hass, network, "th-sensor-01")
    with pytest.raises(DownlinkError, match="Unknown device"):
        await connection.async_send_downlink(Downlink("0011223344556677", 1, b"\x00"))
    with pytest.raises(DownlinkError, match="expiry"):
        await connection.async_send_downlink(
            Downlink(
                "a840410000000001",
                1,
                b"\x00",
                expires_at=datetime.now(UTC),
            )
        )
    with pytest.raises(DownlinkError, match="242"):
        await connection.async_send_downlink(
            Downlink("a840410000000001", 1, bytes(243))
        )
    assert network.downlinks == []


async def test_offline_downlink_is_refused(
    hass: HomeAssistant, broker, network: Network, connection: TtnMqttConnection
) -> None:
    """Without a connection to the server, a downlink is refused, not lost."""
    await uplink_and_wait(hass, network, "th-sensor-01")
    coordinator = hass.config_entries.async_entries("ttn_mqtt")[0].runtime_data
    await hass.async_add_executor_job(coordinator.session.stop)
    with pytest.raises(DownlinkError, match="Not connected"):
        await connection.async_send_downlink(Downlink("a840410000000001", 1, b"\x00"))


async def test_a_deleted_device_is_removed(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    network: Network,
    connection: TtnMqttConnection,
    hass_ws_client,
) -> None:
    """A device the user deletes leaves the connection; its next uplink adds it again."""
    assert await async_setup_component(hass, "config", {})
    ha_device_id = await end_device(hass, network, "door-01")
    await hass.async_block_till_done()
    events: list[DeviceEvent] = []
    await connection.async_subscribe(listener=recorder(events))
    events.clear()
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "config/device_registry/remove_config_entry",
            "device_id": ha_device_id,
            "config_entry_id": init_integration.entry_id,
        }
    )
    assert (await client.receive_json())["success"]
    await hass.async_block_till_done()
    (removed,) = events
    assert isinstance(removed, RemovedEvent)
    assert removed.descriptor.name == "door-01"

    events.clear()
    await uplink_and_wait(hass, network, "door-01")
    assert [type(event) for event in events] == [AddedEvent, UplinkEvent]


async def test_closing_ends_the_connection(
    hass: HomeAssistant, network: Network, connection: TtnMqttConnection
) -> None:
    """When the entry unloads, subscribers hear of it, and nothing more comes."""
    lost: list[bool] = []
    connection.on_disconnect(lambda: lost.append(True))
    events: list[DeviceEvent] = []
    await connection.async_subscribe(listener=recorder(events))
    connection.close()
    assert lost == [True]
    await uplink_and_wait(hass, network, "th-sensor-01")
    assert events == []
    with pytest.raises(ConnectionUnavailable):
        await connection.async_subscribe(listener=recorder(events))
    with pytest.raises(ConnectionUnavailable):
        connection.on_disconnect(lambda: None)
    with pytest.raises(DownlinkError):
        await connection.async_send_downlink(Downlink("a840410000000001", 1, b""))


async def test_what_cannot_be_described_or_read_is_left_out(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    network: Network,
    connection: TtnMqttConnection,
) -> None:
    """A device without a valid DevEUI is not shared; bytes that are not base64 neither.

    Our own entities are unaffected by either.
    """
    events: list[DeviceEvent] = []
    await connection.async_subscribe(listener=recorder(events))
    coordinator = init_integration.runtime_data
    for dev_eui in (None, "not-an-eui"):
        message = network.build_uplink("raw-01")
        if dev_eui is None:
            del message["end_device_ids"]["dev_eui"]
        else:
            message["end_device_ids"]["dev_eui"] = dev_eui
        coordinator.fleet.async_apply_message(parse_application_up(message))
    assert events == []
    assert "raw-01" in coordinator.devices

    await uplink_and_wait(hass, network, "door-01", frm_payload="not base64!")
    assert [type(event) for event in events] == [AddedEvent]
    assert hass.states.get("binary_sensor.door_01_door_open") is not None


@pytest.mark.usefixtures("weather_station")
async def test_a_brand_changed_away_is_removed_for_its_subscribers(
    hass: HomeAssistant, network: Network, connection: TtnMqttConnection
) -> None:
    """A device whose brand is no longer followed leaves that subscriber; unsubscribing ends all."""
    sensecap: list[DeviceEvent] = []
    everything: list[DeviceEvent] = []
    await send_s2120_fixture(hass, network)
    await connection.async_subscribe(
        brands=frozenset({("tts", "sensecap")}), listener=recorder(sensecap)
    )
    unsubscribe = await connection.async_subscribe(listener=recorder(everything))
    sensecap.clear()
    everything.clear()

    await uplink_and_wait(
        hass,
        network,
        "weather-01",
        version_ids={"brand_id": "dragino", "model_id": "lht65"},
    )
    (removed,) = sensecap
    assert isinstance(removed, RemovedEvent)
    assert removed.descriptor.brand_id == "sensecap"
    assert [type(event) for event in everything] == [UpdatedEvent, UplinkEvent]

    unsubscribe()
    unsubscribe()  # Harmless twice.
    everything.clear()
    await uplink_and_wait(hass, network, "weather-01")
    assert everything == []


async def test_a_filtered_subscriber_gets_only_its_brands_inventory(
    hass: HomeAssistant, network: Network, connection: TtnMqttConnection
) -> None:
    """Devices of other brands are not replayed to a subscriber for one brand."""
    await uplink_and_wait(hass, network, "th-sensor-01")
    sensecap: list[DeviceEvent] = []
    await connection.async_subscribe(
        brands=frozenset({("tts", "sensecap")}), listener=recorder(sensecap)
    )
    assert sensecap == []
