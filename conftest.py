"""Root conftest: import our custom_components before the harness's own testing_config package can shadow it."""

import custom_components  # noqa: F401


# Fixtures that set the integration up against the simulated application. They build on
# tests/conftest.py's broker, ttn_app and network fixtures.
import pytest  # noqa: E402
from pytest_homeassistant_custom_component.common import MockConfigEntry  # noqa: E402

from custom_components.ttn_mqtt.const import (  # noqa: E402
    CONF_API_KEY,
    CONF_APP_EUI,
    CONF_APP_ID,
    CONF_HOST,
    CONF_PORT,
    CONF_TENANT,
    CONF_USE_TLS,
    DOMAIN,
)
from custom_components.ttn_mqtt.coordinator import TtnCoordinator  # noqa: E402


@pytest.fixture(autouse=True)
def fast_reconnect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reconnect within a fraction of a second in tests, not after seconds."""
    monkeypatch.setattr(
        TtnCoordinator,
        "session_overrides",
        {"backoff_min": 0.2, "backoff_max": 1.0, "keepalive": 5, "connect_timeout": 5.0},
    )


@pytest.fixture
def config_entry(hass, broker, ttn_app) -> MockConfigEntry:
    """Return a config entry for the simulated application, added to hass."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=ttn_app.app_id,
        unique_id=f"127.0.0.1/{ttn_app.app_id}@{ttn_app.tenant}",
        data={
            CONF_HOST: "127.0.0.1",
            CONF_PORT: broker.port,
            CONF_USE_TLS: False,
            CONF_TENANT: ttn_app.tenant,
            CONF_APP_ID: ttn_app.app_id,
            CONF_APP_EUI: "70B3D57ED0000000",
            CONF_API_KEY: ttn_app.api_key,
        },
    )
    entry.add_to_hass(hass)
    return entry


@pytest.fixture
async def init_integration(hass, config_entry, network) -> MockConfigEntry:
    """Set the integration up against the broker; unload it at teardown."""
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    yield config_entry
    if config_entry.state.recoverable:
        await hass.config_entries.async_unload(config_entry.entry_id)
        await hass.async_block_till_done()
