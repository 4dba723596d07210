"""Fixtures: a TTS-like mosquitto, the simulated network server and MQTT watchers.

Home Assistant's test harness blocks sockets; every fixture here that talks to the
broker asks for `socket_enabled` (only 127.0.0.1 is reachable anyway).
"""

from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from yarl import URL

from custom_components.ttn_mqtt import key_check
from ttn_sim import Application, Broker, Network

from .auth_info_server import AuthInfoServer
from .common import MqttWatcher


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(request: pytest.FixtureRequest) -> None:
    """Let Home Assistant load custom_components/ in every test that runs it.

    A test of the protocol layer or the field tables starts no Home Assistant.
    """
    if "hass" in request.fixturenames:
        request.getfixturevalue("enable_custom_integrations")


@pytest.fixture
def ttn_app() -> Application:
    """The application the tests use: `test-app@ttn`, with a fresh API key."""
    return Application("test-app", "ttn")


@pytest.fixture
def broker(socket_enabled: None, ttn_app: Application) -> Iterator[Broker]:
    """A running broker that knows `ttn_app`; stopped (and its files removed) after the test."""
    with Broker([ttn_app]) as running:
        yield running


@pytest.fixture
def network(broker: Broker, ttn_app: Application) -> Iterator[Network]:
    """The simulated network server of `ttn_app`, with the default devices and a fixed seed."""
    with Network(broker, ttn_app, seed=1234) as running:
        yield running


@pytest.fixture
def mqtt_watcher(broker: Broker) -> Iterator[Callable[..., MqttWatcher]]:
    """Return a factory of started `MqttWatcher`s; all are stopped after the test.

    `mqtt_watcher(topic="#", username=None, password=None)`: without a username the
    watcher connects as the network superuser and sees everything.
    """
    watchers: list[MqttWatcher] = []

    def start_watcher(
        topic: str = "#", username: str | None = None, password: str | None = None
    ) -> MqttWatcher:
        watcher = MqttWatcher(broker, topic, username, password)
        watcher.start()
        watchers.append(watcher)
        return watcher

    yield start_watcher
    for watcher in watchers:
        watcher.stop()


@pytest.fixture
def app_watcher(
    mqtt_watcher: Callable[..., MqttWatcher], ttn_app: Application
) -> MqttWatcher:
    """What the application's own API key sees on `v3/<uid>/#` (and may publish)."""
    return mqtt_watcher(f"v3/{ttn_app.uid}/#", ttn_app.username, ttn_app.api_key)


@pytest.fixture
async def auth_info(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AuthInfoServer]:
    """The Identity Server's auth_info of the broker's applications, asked by the code."""
    server = AuthInfoServer(broker)
    await server.start()
    monkeypatch.setattr(key_check, "identity_server_url", lambda host: URL(server.url))
    yield server
    await server.stop()
