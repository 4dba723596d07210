"""The config flow: add, check, re-authenticate, reconfigure and tune an application."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Iterator
import json
import logging
from pathlib import Path
import re
import socket
import ssl
from typing import Any

from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResult, FlowResultType, section
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)
from yarl import URL

from custom_components.ttn_mqtt import config_flow, flow_forms, key_check, link
from custom_components.ttn_mqtt.compat import device_config_entry_ids, vol
from custom_components.ttn_mqtt.const import (
    CONF_API_KEY,
    CONF_APP_EUI,
    CONF_APP_ID,
    CONF_BACKFILL_HOURS,
    CONF_CA_PEM,
    CONF_HOST,
    CONF_PORT,
    CONF_SIGNAL_ENTITIES,
    CONF_STALE_HOURS,
    CONF_TENANT,
    CONF_USE_TLS,
    DEFAULT_HOST,
    DOMAIN,
    EVENT_UPLINK,
)
from custom_components.ttn_mqtt.flow_forms import (
    OPTIONS_SCHEMA,
    REAUTH_SCHEMA,
    SECTION_CONNECTION,
)
from custom_components.ttn_mqtt.key_check import identity_server_url
from custom_components.ttn_mqtt.protocol.auth_info import RIGHT_DOWN_WRITE
from ttn_sim import Application, Broker, Network, generate_api_key
from ttn_sim.certs import generate_tls_material

from .auth_info_server import AuthInfoServer
from .common import async_wait_for, registry_device

TRANSLATIONS = json.loads(
    (
        Path(__file__).parent.parent / "custom_components/ttn_mqtt/translations/en.json"
    ).read_text()
)
PLACEHOLDER = re.compile(r"\{(\w+)\}")
USER = "test-app@ttn"


@pytest.fixture(autouse=True)
async def auth_info(
    socket_enabled: None, monkeypatch: pytest.MonkeyPatch
) -> AsyncGenerator[AuthInfoServer]:
    """Point the flow's key look-ups at a local auth_info server."""
    server = AuthInfoServer()
    await server.start()
    monkeypatch.setattr(key_check, "identity_server_url", lambda host: URL(server.url))
    yield server
    await server.stop()


@pytest.fixture(autouse=True)
async def unload_entries(hass: HomeAssistant) -> AsyncGenerator[None]:
    """Unload what a test set up, so that no session thread outlives it."""
    yield
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state is ConfigEntryState.LOADED:
            await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


@pytest.fixture
def open_source_broker(socket_enabled: None, ttn_app: Application) -> Iterator[Broker]:
    """A second server: The Things Stack Open Source (no tenant), same app and key."""
    with Broker([Application(ttn_app.app_id, "", api_key=ttn_app.api_key)]) as running:
        yield running


def closed_port() -> int:
    """Return a loopback port nothing listens on: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def user_input(broker: Broker, ttn_app: Application, **changes: Any) -> dict[str, Any]:
    """Return what a user types for the simulated application, with some changes."""
    values = {
        CONF_HOST: "127.0.0.1",
        CONF_PORT: broker.port,
        CONF_USE_TLS: False,
        CONF_TENANT: ttn_app.tenant,
        CONF_APP_ID: ttn_app.app_id,
        CONF_API_KEY: ttn_app.api_key,
    }
    values.update(changes)
    return {key: value for key, value in values.items() if value is not None}


def assert_translated(result: FlowResult, flow: str = "config") -> None:
    """Every text shown for this result exists and gets the placeholders it names."""
    texts = TRANSLATIONS[flow]
    shown: list[str] = []
    if result["type"] is FlowResultType.ABORT:
        shown.append(texts["abort"][result["reason"]])
    else:
        assert result["type"] is FlowResultType.FORM
        step = texts["step"][result["step_id"]]
        shown += [step["title"], step["description"]]
        for marker, value in result["data_schema"].schema.items():
            if isinstance(value, section):
                texts_of = step["sections"][marker.schema]
                shown.append(texts_of["name"])
                fields = value.schema.schema
            else:
                texts_of, fields = step, [marker]
            for field in fields:
                shown += [
                    texts_of["data"][field.schema],
                    texts_of["data_description"][field.schema],
                ]
        shown += [texts["error"][error] for error in (result["errors"] or {}).values()]
    given = set(result["description_placeholders"] or {})
    for text in shown:
        assert text.strip()
        assert set(PLACEHOLDER.findall(text)) <= given, text


def form_fields(schema: vol.Schema) -> list[str]:
    """Return the fields of a form in order, those of its sections in their place."""
    names: list[str] = []
    for marker, value in schema.schema.items():
        if isinstance(value, section):
            names += form_fields(value.schema)
        else:
            names.append(marker.schema)
    return names


def suggested(result: FlowResult) -> dict[str, Any]:
    """Return the values a form is filled with (suggested, else defaults), flat."""

    def values_of(schema: vol.Schema) -> dict[str, Any]:
        values = {}
        for marker, value in schema.schema.items():
            if isinstance(value, section):
                values.update(values_of(value.schema))
            elif marker.description and "suggested_value" in marker.description:
                values[marker.schema] = marker.description["suggested_value"]
            elif marker.default is not vol.UNDEFINED:
                values[marker.schema] = marker.default()
        return values

    return values_of(result["data_schema"])


def as_form_input(schema: vol.Schema, values: dict[str, Any]) -> dict[str, Any]:
    """Return flat values as the frontend sends them: a section's fields nested."""
    form_input = dict(values)
    for marker, value in schema.schema.items():
        if isinstance(value, section):
            form_input[marker.schema] = {
                field: form_input.pop(field)
                for field in form_fields(value.schema)
                if field in form_input
            }
    return form_input


async def start_user_flow(hass: HomeAssistant) -> FlowResult:
    """Start adding an application."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert_translated(result)
    return result


async def configure(
    hass: HomeAssistant, result: FlowResult, values: dict[str, Any]
) -> FlowResult:
    """Submit flat values to a form, as the frontend would."""
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], as_form_input(result["data_schema"], values)
    )


async def reauth_flow(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    """Wait for the entry's re-authentication flow and return it."""
    await async_wait_for(
        lambda: list(entry.async_get_active_flows(hass, {SOURCE_REAUTH}))
    )
    (flow,) = entry.async_get_active_flows(hass, {SOURCE_REAUTH})
    return flow


# Adding an application.


async def test_user_form_shows_the_ttn_defaults(hass: HomeAssistant) -> None:
    """The form offers the clusters, port 8883 with TLS and tenant ttn, in order.

    Port, TLS and the CA, which most users never change, wait in a collapsed section.
    """
    result = await start_user_flow(hass)
    assert [marker.schema for marker in result["data_schema"].schema] == [
        CONF_HOST,
        CONF_TENANT,
        SECTION_CONNECTION,
        CONF_APP_ID,
        CONF_APP_EUI,
        CONF_API_KEY,
    ]
    connection = result["data_schema"].schema[SECTION_CONNECTION]
    assert connection.options["collapsed"] is True
    assert form_fields(connection.schema) == [CONF_PORT, CONF_USE_TLS, CONF_CA_PEM]
    assert suggested(result) == {
        CONF_HOST: DEFAULT_HOST,
        CONF_PORT: 8883,
        CONF_USE_TLS: True,
        CONF_TENANT: "ttn",
    }
    host_selector = result["data_schema"].schema[CONF_HOST].config
    assert host_selector["custom_value"] is True
    assert host_selector["options"] == [
        "eu1.cloud.thethings.network",
        "nam1.cloud.thethings.network",
        "au1.cloud.thethings.network",
    ]
    api_key_selector = result["data_schema"].schema[CONF_API_KEY].config
    assert api_key_selector["type"] == "password"
    assert api_key_selector["autocomplete"] == "off"


async def test_user_flow_creates_an_entry_that_receives_uplinks(
    hass: HomeAssistant, broker: Broker, network: Network, ttn_app: Application
) -> None:
    """Values pasted from the console are cleaned, checked by connecting, and work."""
    result = await start_user_flow(hass)
    result = await configure(
        hass,
        result,
        user_input(
            broker,
            ttn_app,
            **{
                CONF_HOST: " mqtts://127.0.0.1:8883/console ",
                CONF_APP_EUI: "70-b3-d5-7e-d0-00-00-00",
                CONF_API_KEY: f"{ttn_app.api_key}\n",
            },
        ),
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "test-app"
    assert result["data"] == {
        CONF_HOST: "127.0.0.1",
        CONF_PORT: broker.port,
        CONF_USE_TLS: False,
        CONF_TENANT: "ttn",
        CONF_APP_ID: "test-app",
        CONF_APP_EUI: "70B3D57ED0000000",
        CONF_API_KEY: ttn_app.api_key,
    }
    entry = result["result"]
    assert entry.unique_id == f"127.0.0.1/{USER}"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    events = async_capture_events(hass, EVENT_UPLINK)
    network.uplink("th-sensor-01", decoded_payload={"temperature": 21.5})
    await async_wait_for(lambda: events)
    registry = dr.async_get(hass)
    device = registry_device(hass, (DOMAIN, f"{USER}/th-sensor-01"))
    assert device_config_entry_ids(device) == {entry.entry_id}
    application = registry.async_get(device.via_device_id)
    assert application.name == "test-app"
    assert application.serial_number == "70B3D57ED0000000"


async def test_open_source_entry_has_no_tenant(
    hass: HomeAssistant, open_source_broker: Broker, ttn_app: Application
) -> None:
    """An emptied tenant field means The Things Stack Open Source: username `app`."""
    result = await start_user_flow(hass)
    values = user_input(open_source_broker, ttn_app, **{CONF_TENANT: None})
    result = await configure(hass, result, values)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_TENANT] == ""
    assert CONF_APP_EUI not in result["data"]
    assert result["result"].unique_id == "127.0.0.1/test-app"
    await hass.async_block_till_done()
    # Once for the check, once for the setup.
    assert open_source_broker.count_connects("test-app") == 2


async def test_a_host_of_one_label_is_a_host(
    hass: HomeAssistant, broker: Broker, ttn_app: Application
) -> None:
    """`localhost`, or a container's `mosquitto`: a name of one label is a host too."""
    result = await start_user_flow(hass)
    result = await configure(
        hass, result, user_input(broker, ttn_app, **{CONF_HOST: "LocalHost:1883"})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_HOST] == "localhost"
    await hass.async_block_till_done()


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        (CONF_HOST, "https://", "invalid_host"),
        (CONF_HOST, "my server.example.com", "invalid_host"),
        (CONF_HOST, "192.168.1.300", "invalid_host"),
        (CONF_TENANT, "The_Tenant", "invalid_tenant"),
        (CONF_APP_ID, "My_App", "invalid_app_id"),
        (CONF_APP_ID, "test-app/#", "invalid_app_id"),
        (CONF_APP_EUI, "70B3D57ED00000", "invalid_app_eui"),
        (CONF_API_KEY, "NNSXS.ABC", "invalid_api_key"),
        (CONF_API_KEY, "NNSXS.ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFG", "api_key_id"),
        (CONF_API_KEY, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFG", "api_key_id"),
    ],
)
async def test_user_input_errors_are_caught_before_connecting(
    hass: HomeAssistant,
    *,
    broker: Broker,
    ttn_app: Application,
    field: str,
    value: str,
    error: str,
) -> None:
    """A bad field gets its own error, nothing typed is lost, and fixing it succeeds."""
    result = await start_user_flow(hass)
    typed = user_input(broker, ttn_app, **{CONF_APP_EUI: "70B3D57ED0000000"})
    typed[field] = value
    result = await configure(hass, result, typed)

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {field: error}
    assert_translated(result)
    assert suggested(result) == typed
    assert broker.count_connects(USER) == 0

    result = await configure(
        hass, result, user_input(broker, ttn_app, **{CONF_APP_EUI: "70B3D57ED0000000"})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_tls_against_an_untrusted_certificate_cannot_connect(
    hass: HomeAssistant, broker: Broker, ttn_app: Application
) -> None:
    """TLS is verified: the simulator's own CA is not trusted, so nothing is saved."""
    result = await start_user_flow(hass)
    result = await configure(
        hass,
        result,
        user_input(broker, ttn_app, **{CONF_PORT: broker.tls_port, CONF_USE_TLS: True}),
    )

    assert result["errors"] == {"base": "cannot_connect"}
    assert result["description_placeholders"]["port"] == str(broker.tls_port)
    assert_translated(result)
    assert not hass.config_entries.async_entries(DOMAIN)


# A self-hosted stack's own CA, in the connection details.


async def test_the_section_opens_where_it_matters(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    broker: Broker,
    ttn_app: Application,
) -> None:
    """Collapsed when the defaults fit; open for an entry that does not use them, or
    when one of its fields has an error."""
    result = await config_entry.start_reconfigure_flow(hass)
    # The test entry uses plain MQTT on the broker's port.
    assert (
        result["data_schema"].schema[SECTION_CONNECTION].options["collapsed"] is False
    )

    result = await start_user_flow(hass)
    values = user_input(broker, ttn_app, **{CONF_USE_TLS: True, CONF_CA_PEM: "my CA"})
    result = await configure(hass, result, values)
    assert result["errors"] == {SECTION_CONNECTION: "invalid_ca"}
    assert (
        result["data_schema"].schema[SECTION_CONNECTION].options["collapsed"] is False
    )


async def test_ca_field_waits_in_the_connection_section(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    """A multi-line field after the TLS switch, in both steps, whatever the mode.

    Home Assistant 2026.6 removed advanced mode from its UI: the field is in the
    collapsed section, not hidden.
    """
    for result in (
        await start_user_flow(hass),
        await config_entry.start_reconfigure_flow(hass),
    ):
        connection = result["data_schema"].schema[SECTION_CONNECTION]
        assert form_fields(connection.schema) == [CONF_PORT, CONF_USE_TLS, CONF_CA_PEM]
        assert connection.schema.schema[CONF_CA_PEM].config["multiline"] is True
        assert CONF_CA_PEM not in suggested(result)
        assert_translated(result)


async def test_tls_with_own_ca_creates_an_entry_that_receives_uplinks(
    hass: HomeAssistant, broker: Broker, network: Network, ttn_app: Application
) -> None:
    """The server's CA pasted in the form is stored and trusted, at setup too."""
    ca_pem = broker.ca_file.read_text()
    result = await start_user_flow(hass)
    values = user_input(
        broker,
        ttn_app,
        **{
            CONF_PORT: broker.tls_port,
            CONF_USE_TLS: True,
            CONF_CA_PEM: f"\n  {ca_pem}\n\n",
        },
    )
    result = await configure(hass, result, values)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_CA_PEM] == ca_pem.strip()
    entry = result["result"]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    events = async_capture_events(hass, EVENT_UPLINK)
    network.uplink("door-01", decoded_payload={"door_open": True})
    await async_wait_for(lambda: events)
    assert events[0].data["ttn_device_id"] == "door-01"
    assert events[0].data["decoded_payload"] == {"door_open": True}


async def test_empty_ca_field_stores_nothing(
    hass: HomeAssistant, broker: Broker, ttn_app: Application
) -> None:
    """Blanks in the CA field are no CA: the entry trusts the system's certificates."""
    result = await start_user_flow(hass)
    result = await configure(
        hass, result, user_input(broker, ttn_app, **{CONF_CA_PEM: " \n "})
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert CONF_CA_PEM not in result["data"]


@pytest.mark.parametrize(
    "make_ca",
    [
        pytest.param(lambda ca: "my CA", id="not_pem"),
        pytest.param(lambda ca: ca[: len(ca) // 2], id="cut_short"),
        pytest.param(lambda ca: ca.replace("\n", "", 3), id="line_breaks_lost"),
        pytest.param(lambda ca: f"CA für mein Netz\n{ca}", id="not_ascii"),
        pytest.param(
            lambda ca: ca + generate_tls_material().server_key_pem.decode(),
            id="with_a_private_key",
        ),
    ],
)
async def test_invalid_ca_is_caught_before_connecting(
    hass: HomeAssistant,
    broker: Broker,
    ttn_app: Application,
    make_ca: Callable[[str], str],
) -> None:
    """A CA that is not PEM certificates alone is invalid_ca; nothing typed is lost."""
    ca_pem = broker.ca_file.read_text()
    typed = user_input(
        broker,
        ttn_app,
        **{
            CONF_PORT: broker.tls_port,
            CONF_USE_TLS: True,
            CONF_CA_PEM: make_ca(ca_pem),
        },
    )
    result = await start_user_flow(hass)
    result = await configure(hass, result, typed)

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {SECTION_CONNECTION: "invalid_ca"}
    assert_translated(result)
    assert suggested(result) == typed
    assert broker.count_connects(USER) == 0

    result = await configure(hass, result, {**typed, CONF_CA_PEM: ca_pem})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_CA_PEM] == ca_pem.strip()


async def test_refused_connection_then_recovery(
    hass: HomeAssistant, broker: Broker, ttn_app: Application
) -> None:
    """A port where nothing listens is cannot_connect; the right port then works."""
    port = closed_port()
    result = await start_user_flow(hass)
    result = await configure(hass, result, user_input(broker, ttn_app, port=port))

    assert result["errors"] == {"base": "cannot_connect"}
    assert result["description_placeholders"]["host"] == "127.0.0.1"
    assert result["description_placeholders"]["port"] == str(port)
    assert_translated(result)
    assert suggested(result)[CONF_PORT] == port

    result = await configure(hass, result, user_input(broker, ttn_app))
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_silent_server_times_out(
    hass: HomeAssistant,
    broker: Broker,
    ttn_app: Application,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server that accepts the connection but never answers is cannot_connect."""
    monkeypatch.setattr(link, "CONNECT_TIMEOUT", 0.3)
    with socket.socket() as silent:
        # Connections complete in the backlog; nothing ever reads or answers them.
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        result = await start_user_flow(hass)
        result = await configure(
            hass, result, user_input(broker, ttn_app, port=silent.getsockname()[1])
        )

    assert result["errors"] == {"base": "cannot_connect"}
    result = await configure(hass, result, user_input(broker, ttn_app))
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_wrong_key_is_invalid_auth(
    hass: HomeAssistant,
    broker: Broker,
    ttn_app: Application,
    auth_info: AuthInfoServer,
) -> None:
    """A key the server refuses (CONNACK 5) is invalid_auth, naming the application."""
    result = await start_user_flow(hass)
    result = await configure(
        hass, result, user_input(broker, ttn_app, api_key=generate_api_key())
    )

    assert result["errors"] == {"base": "invalid_auth"}
    assert result["description_placeholders"]["app_id"] == "test-app"
    assert_translated(result)
    # The API was asked whose key it is, and did not know it.
    assert auth_info.requests == 1
    assert broker.count_refused() == 1

    result = await configure(hass, result, user_input(broker, ttn_app))
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_a_key_that_may_not_send_downlinks_is_accepted_with_a_warning(
    hass: HomeAssistant,
    broker: Broker,
    ttn_app: Application,
    auth_info: AuthInfoServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Read alone is enough for entities; the log says downlinks cannot be sent."""
    auth_info.keys[ttn_app.api_key] = ttn_app.app_id
    auth_info.rights[ttn_app.api_key] = ["RIGHT_APPLICATION_TRAFFIC_READ"]
    result = await start_user_flow(hass)
    result = await configure(hass, result, user_input(broker, ttn_app))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert "may not send downlinks" in caplog.text
    assert ttn_app.api_key not in caplog.text


async def test_wrong_key_without_an_http_api_is_invalid_auth(
    hass: HomeAssistant,
    broker: Broker,
    ttn_app: Application,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When the host's HTTPS API cannot say whose the key is, it stays invalid_auth."""
    monkeypatch.setattr(key_check, "identity_server_url", identity_server_url)
    result = await start_user_flow(hass)
    result = await configure(
        hass, result, user_input(broker, ttn_app, api_key=generate_api_key())
    )
    assert result["errors"] == {"base": "invalid_auth"}


async def test_key_of_another_application_is_named_over_https_with_own_ca(
    hass: HomeAssistant,
    broker: Broker,
    ttn_app: Application,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A self-hosted stack's CA is trusted by the key look-up as by MQTT."""
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(broker.workdir / "server.pem", broker.workdir / "server.key")
    server = AuthInfoServer()
    await server.start(tls)
    monkeypatch.setattr(key_check, "identity_server_url", lambda host: URL(server.url))
    other_key = generate_api_key()
    server.keys[other_key] = "other-app"
    result = await start_user_flow(hass)
    values = user_input(
        broker,
        ttn_app,
        **{
            CONF_PORT: broker.tls_port,
            CONF_USE_TLS: True,
            CONF_CA_PEM: broker.ca_file.read_text(),
            CONF_API_KEY: other_key,
        },
    )
    result = await configure(hass, result, values)
    await server.stop()

    assert result["errors"] == {"base": "wrong_application"}
    assert server.requests == 1


async def test_key_of_another_application_is_named(
    hass: HomeAssistant,
    broker: Broker,
    ttn_app: Application,
    auth_info: AuthInfoServer,
) -> None:
    """A key of another application says which one it belongs to."""
    other_key = generate_api_key()
    auth_info.keys[other_key] = "other-app"
    result = await start_user_flow(hass)
    result = await configure(
        hass, result, user_input(broker, ttn_app, api_key=other_key)
    )

    assert result["errors"] == {"base": "wrong_application"}
    assert result["description_placeholders"]["key_app_id"] == "other-app"
    assert result["description_placeholders"]["app_id"] == "test-app"
    assert_translated(result)


async def test_key_without_read_rights_is_missing_rights(
    hass: HomeAssistant, broker: Broker, ttn_app: Application, auth_info: AuthInfoServer
) -> None:
    """A key that connects, and whose subscription is granted, but receives nothing.

    The Things Stack grants any subscription of the right shape and filters what it
    delivers (mystique publishing.go): only auth_info tells.
    """
    write_only = Application(
        "write-only-app", "ttn", rights=frozenset({RIGHT_DOWN_WRITE})
    )
    auth_info.keys[write_only.api_key] = write_only.app_id
    auth_info.rights[write_only.api_key] = sorted(write_only.rights)
    broker.replace_application(write_only)
    await hass.async_add_executor_job(broker.restart)

    result = await start_user_flow(hass)
    result = await configure(
        hass,
        result,
        user_input(
            broker, ttn_app, app_id=write_only.app_id, api_key=write_only.api_key
        ),
    )

    assert result["errors"] == {"base": "missing_rights"}
    assert result["description_placeholders"]["app_id"] == "write-only-app"
    assert_translated(result)
    assert broker.count_connects("write-only-app@ttn") == 1

    result = await configure(hass, result, user_input(broker, ttn_app))
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_unexpected_error_is_unknown(
    hass: HomeAssistant,
    broker: Broker,
    ttn_app: Application,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug anywhere in connecting shows `unknown` and logs the traceback."""

    async def broken(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(config_flow, "async_connect_once", broken)
    result = await start_user_flow(hass)
    result = await configure(hass, result, user_input(broker, ttn_app))

    assert result["errors"] == {"base": "unknown"}
    assert_translated(result)
    assert "boom" in caplog.text


async def test_same_application_with_another_host_is_refused(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    broker: Broker,
    ttn_app: Application,
) -> None:
    """An application set up with one server is not set up again with another."""
    result = await start_user_flow(hass)
    result = await configure(
        hass, result, user_input(broker, ttn_app, host="127.0.0.2")
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured_with_another_host"
    assert result["description_placeholders"]["host"] == "127.0.0.1"
    assert_translated(result)
    assert broker.count_connects(USER) == 0


async def test_same_application_twice_is_already_configured(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    broker: Broker,
    ttn_app: Application,
) -> None:
    """An application and tenant on a host can be added once; nothing connects."""
    result = await start_user_flow(hass)
    result = await configure(
        hass, result, user_input(broker, ttn_app, host="https://127.0.0.1/")
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert_translated(result)
    assert broker.count_connects(USER) == 0


# Re-authentication.


async def revoke_key(hass: HomeAssistant, broker: Broker, ttn_app: Application) -> str:
    """Replace the application's key on the server, as revoking it in the console."""
    new_key = generate_api_key()
    broker.replace_application(Application(ttn_app.app_id, ttn_app.tenant, new_key))
    await hass.async_add_executor_job(broker.restart)
    return new_key


async def test_revoked_key_leads_to_reauth_and_back(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    broker: Broker,
    network: Network,
    ttn_app: Application,
) -> None:
    """A key revoked while running asks for a new key only, and uplinks flow again."""
    entry = init_integration
    new_key = await revoke_key(hass, broker, ttn_app)

    flow = await reauth_flow(hass, entry)
    result = await hass.config_entries.flow.async_configure(flow["flow_id"])
    assert result["step_id"] == "reauth_confirm"
    assert [marker.schema for marker in result["data_schema"].schema] == [CONF_API_KEY]
    assert result["description_placeholders"]["app_id"] == "test-app"
    assert result["description_placeholders"]["host"] == "127.0.0.1"
    assert_translated(result)

    result = await configure(hass, result, {CONF_API_KEY: "NNSXS.ABC"})
    assert result["errors"] == {CONF_API_KEY: "invalid_api_key"}
    assert_translated(result)

    result = await configure(hass, result, {CONF_API_KEY: ttn_app.api_key})
    assert result["errors"] == {"base": "invalid_auth"}
    assert_translated(result)

    result = await configure(hass, result, {CONF_API_KEY: f" {new_key} "})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert_translated(result)
    await hass.async_block_till_done()

    assert entry.data[CONF_API_KEY] == new_key
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.connected
    events = async_capture_events(hass, EVENT_UPLINK)
    network.uplink("door-01")
    await async_wait_for(lambda: events)


async def test_reauth_with_the_same_key_connects_again(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    broker: Broker,
    network: Network,
    ttn_app: Application,
) -> None:
    """A key refused for a while and entered again unchanged reconnects the entry.

    Nothing in the entry changes, so no update listener runs: the flow reloads it.
    """
    entry = init_integration
    await revoke_key(hass, broker, ttn_app)
    flow = await reauth_flow(hass, entry)
    # The key is valid again (restored on the server) and typed in as it was.
    broker.replace_application(ttn_app)
    await hass.async_add_executor_job(broker.restart)
    connects = broker.count_connects(USER)

    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_API_KEY: ttn_app.api_key}
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    await async_wait_for(lambda: entry.runtime_data.connected)
    # Once for the check, once for the reload.
    assert broker.count_connects(USER) == connects + 2
    events = async_capture_events(hass, EVENT_UPLINK)
    network.uplink("door-01")
    await async_wait_for(lambda: events)


async def test_reconfigure_with_a_new_key_uses_it_at_once(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    broker: Broker,
    network: Network,
    ttn_app: Application,
) -> None:
    """A new key saved by reconfigure is the session's key, without a restart.

    From Home Assistant 2026.12 the flow's own reload no longer runs for an entry
    with an update listener; the listener applies the new data.
    """
    entry = init_integration
    old_session = entry.runtime_data.session
    new_key = generate_api_key()
    # The key is replaced in the console; the running session is refused.
    broker.replace_application(Application(ttn_app.app_id, ttn_app.tenant, new_key))
    await hass.async_add_executor_job(broker.restart)
    await async_wait_for(lambda: broker.count_refused() > 0)

    result = await entry.start_reconfigure_flow(hass)
    result = await configure(hass, result, {**suggested(result), CONF_API_KEY: new_key})
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.session is not old_session
    assert entry.runtime_data.settings.api_key == new_key
    await async_wait_for(lambda: entry.runtime_data.connected)
    events = async_capture_events(hass, EVENT_UPLINK)
    network.uplink("door-01")
    await async_wait_for(lambda: events)


async def test_reauth_with_a_key_of_another_application_aborts(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    broker: Broker,
    ttn_app: Application,
    auth_info: AuthInfoServer,
) -> None:
    """A key of another application ends re-authentication with a reason naming both."""
    await revoke_key(hass, broker, ttn_app)
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_ERROR

    other_key = generate_api_key()
    auth_info.keys[other_key] = "other-app"
    flow = await reauth_flow(hass, config_entry)
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_API_KEY: other_key}
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_application"
    assert result["description_placeholders"]["key_app_id"] == "other-app"
    assert_translated(result)
    assert config_entry.data[CONF_API_KEY] == ttn_app.api_key
    # As the reason says: reloading the entry asks for the key again.
    assert not list(config_entry.async_get_active_flows(hass, {SOURCE_REAUTH}))
    await hass.config_entries.async_reload(config_entry.entry_id)
    await reauth_flow(hass, config_entry)


# Reconfiguring.


async def test_reconfigure_moves_the_entry_to_another_server(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    open_source_broker: Broker,
    broker: Broker,
    ttn_app: Application,
) -> None:
    """Port, tenant and key change once checked; the entry reloads."""
    entry = init_integration
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    assert_translated(result)
    # Filled with the entry's values, except the key, which never leaves the server.
    assert suggested(result) == {
        CONF_HOST: "127.0.0.1",
        CONF_PORT: broker.port,
        CONF_USE_TLS: False,
        CONF_TENANT: "ttn",
    }

    result = await configure(hass, result, {CONF_HOST: "not a host", CONF_PORT: 1})
    assert result["errors"] == {CONF_HOST: "invalid_host"}
    assert_translated(result)

    port = closed_port()
    result = await configure(
        hass,
        result,
        {
            CONF_HOST: "127.0.0.1",
            CONF_PORT: port,
            CONF_USE_TLS: False,
            CONF_API_KEY: ttn_app.api_key,
        },
    )
    assert result["errors"] == {"base": "cannot_connect"}
    assert result["description_placeholders"]["port"] == str(port)
    assert_translated(result)

    # Tenant emptied (Open Source) and key left empty: the key stays.
    result = await configure(
        hass,
        result,
        {
            CONF_HOST: "127.0.0.1",
            CONF_PORT: open_source_broker.port,
            CONF_USE_TLS: False,
        },
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert_translated(result)
    await hass.async_block_till_done()

    assert entry.data[CONF_PORT] == open_source_broker.port
    assert entry.data[CONF_TENANT] == ""
    assert entry.data[CONF_API_KEY] == ttn_app.api_key
    assert entry.data[CONF_APP_EUI] == "70B3D57ED0000000"
    assert entry.unique_id == "127.0.0.1/test-app"
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.connected
    # Once for the check, once for the reload: reconfiguring reloads only once.
    assert open_source_broker.count_connects("test-app") == 2


async def test_reconfigure_onto_another_entry_aborts(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    open_source_broker: Broker,
) -> None:
    """Reconfiguring into an application with an entry of its own aborts at once."""
    MockConfigEntry(
        domain=DOMAIN,
        unique_id="127.0.0.1/test-app",
        data={**config_entry.data, CONF_TENANT: ""},
    ).add_to_hass(hass)
    result = await config_entry.start_reconfigure_flow(hass)
    result = await configure(
        hass,
        result,
        {
            CONF_HOST: "127.0.0.1",
            CONF_PORT: open_source_broker.port,
            CONF_USE_TLS: False,
        },
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert open_source_broker.count_connects("test-app") == 0
    assert config_entry.unique_id == f"127.0.0.1/{USER}"


async def test_reconfigure_keeps_or_removes_the_ca(
    hass: HomeAssistant, config_entry: MockConfigEntry, broker: Broker
) -> None:
    """The stored CA stays when left as shown; an emptied field removes it."""
    ca_pem = broker.ca_file.read_text().strip()
    tls = {
        CONF_HOST: "127.0.0.1",
        CONF_PORT: broker.tls_port,
        CONF_USE_TLS: True,
        CONF_TENANT: "ttn",
    }
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, **tls, CONF_CA_PEM: ca_pem}
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.LOADED

    # The form shows the stored CA; left as it is, it stays.
    result = await config_entry.start_reconfigure_flow(hass)
    assert suggested(result)[CONF_CA_PEM] == ca_pem
    result = await configure(hass, result, suggested(result))
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert config_entry.data[CONF_CA_PEM] == ca_pem

    # A bad CA is refused; an emptied field (the frontend then sends no value)
    # removes the CA: the system does not trust this server, and plain MQTT works.
    result = await config_entry.start_reconfigure_flow(hass)
    result = await configure(hass, result, {**tls, CONF_CA_PEM: "my CA"})
    assert result["errors"] == {SECTION_CONNECTION: "invalid_ca"}
    assert_translated(result)
    result = await configure(hass, result, tls)
    assert result["errors"] == {"base": "cannot_connect"}
    plain = {**tls, CONF_PORT: broker.port, CONF_USE_TLS: False}
    result = await configure(hass, result, {**plain, CONF_CA_PEM: ""})
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert CONF_CA_PEM not in config_entry.data
    assert config_entry.data[CONF_PORT] == broker.port
    assert config_entry.state is ConfigEntryState.LOADED


# Options.


async def test_options_are_saved_and_reload_the_entry(
    hass: HomeAssistant, init_integration: MockConfigEntry, broker: Broker
) -> None:
    """Signal entities, staleness and catching up are options; saving them reloads."""
    entry = init_integration
    before = entry.runtime_data
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "init"
    assert_translated(result, "options")
    # The fixture's entry has the catch-up off (the simulator has no storage).
    assert suggested(result) == {
        CONF_SIGNAL_ENTITIES: True,
        CONF_STALE_HOURS: 0,
        CONF_BACKFILL_HOURS: 0,
    }

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_SIGNAL_ENTITIES: False, CONF_STALE_HOURS: 6, CONF_BACKFILL_HOURS: 12},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()

    assert entry.options == {
        CONF_SIGNAL_ENTITIES: False,
        CONF_STALE_HOURS: 6,
        CONF_BACKFILL_HOURS: 12,
    }
    assert all(
        type(entry.options[key]) is int
        for key in (CONF_STALE_HOURS, CONF_BACKFILL_HOURS)
    )
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data is not before
    # Reloaded once.
    assert broker.count_connects(USER) == 2

    # The form shows the saved options next time.
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert suggested(result) == dict(entry.options)


# The API key stays out of the log.


async def test_api_key_never_appears_in_the_log(
    hass: HomeAssistant,
    broker: Broker,
    network: Network,
    ttn_app: Application,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Through a failed and a good flow, setup, uplinks, revocation and reauth."""
    caplog.set_level(logging.DEBUG)
    wrong_key = generate_api_key()
    result = await start_user_flow(hass)
    result = await configure(
        hass, result, user_input(broker, ttn_app, api_key=wrong_key)
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await configure(hass, result, user_input(broker, ttn_app))
    entry = result["result"]
    await hass.async_block_till_done()
    network.uplink("th-sensor-01")

    new_key = await revoke_key(hass, broker, ttn_app)
    flow = await reauth_flow(hass, entry)
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_API_KEY: new_key}
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.runtime_data.connected
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()

    assert len(caplog.records) > 10
    for key in (ttn_app.api_key, wrong_key, new_key):
        # The secret part alone, too: a log line must not carry it in any form.
        secret = key.rsplit(".", 1)[1]
        assert secret not in caplog.text
        for record in caplog.records:
            assert secret not in record.getMessage()
            assert secret not in repr(record.args)


def test_every_field_and_error_has_a_text() -> None:
    """Each field has a label and a description; each error and abort a text."""
    config = TRANSLATIONS["config"]
    for step_id, schema in (
        ("user", flow_forms.user_schema()),
        ("reconfigure", flow_forms.reconfigure_schema()),
        ("reauth_confirm", REAUTH_SCHEMA),
    ):
        step = config["step"][step_id]
        for marker, value in schema.schema.items():
            texts, fields = step, [marker]
            if isinstance(value, section):
                texts, fields = step["sections"][marker.schema], value.schema.schema
                assert texts["name"]
            for field in fields:
                assert texts["data"][field.schema]
                assert texts["data_description"][field.schema]
    init = TRANSLATIONS["options"]["step"]["init"]
    for marker in OPTIONS_SCHEMA.schema:
        assert init["data"][marker.schema]
        assert init["data_description"][marker.schema]
    assert set(config["error"]) >= {
        "invalid_auth",
        "cannot_connect",
        "invalid_host",
        "invalid_app_id",
        "invalid_app_eui",
        "invalid_api_key",
        "invalid_ca",
        "api_key_id",
        "missing_rights",
        "unknown",
    }
    assert (
        "Read application traffic"
        in config["step"]["user"]["data_description"]["api_key"]
    )
    assert (
        "Write downlink application traffic"
        in config["step"]["user"]["data_description"]["api_key"]
    )
    assert (
        "does not need it to connect"
        in config["step"]["user"]["data_description"]["app_eui"]
    )
