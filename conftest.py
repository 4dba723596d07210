"""Root conftest.

It imports our `custom_components` package before anything can import the test harness's
own `testing_config/custom_components`, which would shadow it. It also holds the fixtures
that set the integration up against the simulated application (tests/conftest.py has the
broker, ttn_app and network fixtures they build on).
"""

import asyncio
from collections.abc import AsyncGenerator, Generator
import logging
from typing import Any

from homeassistant import block_async_io
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import frame
from homeassistant.util import loop as ha_loop
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

import custom_components  # noqa: F401
from custom_components.ttn_mqtt.const import (
    CONF_API_KEY,
    CONF_APP_EUI,
    CONF_APP_ID,
    CONF_BACKFILL_HOURS,
    CONF_HOST,
    CONF_PORT,
    CONF_TENANT,
    CONF_USE_TLS,
    DOMAIN,
)
from custom_components.ttn_mqtt.protocol import session

_raise_for_blocking_call = ha_loop.raise_for_blocking_call


def _raise_for_integration_calls(*args: Any, **kwargs: Any) -> None:
    """Check the calls made in the running event loop on behalf of an integration.

    Test code and sync fixtures (which start and stop mosquitto) also run on the
    loop's thread; their blocking is the test's business, not the integration's.
    """
    try:
        asyncio.get_running_loop()
        frame.get_integration_frame()
    except (RuntimeError, frame.MissingIntegrationFrame):
        return
    _raise_for_blocking_call(*args, **kwargs)


# Home Assistant turns on its detection of blocking calls in the event loop at startup,
# but the test harness does not: turn it on, and fail a test that trips it.
ha_loop.raise_for_blocking_call = _raise_for_integration_calls
block_async_io.enable()


def _is_complaint(record: logging.LogRecord) -> bool:
    """Return whether Home Assistant complains of us in this log record.

    A blocking call in the event loop, a use of a deprecated API reported by its
    `frame.report_usage` (it names the integration, and becomes a defect in the
    release it names), or a listener removed twice.
    """
    message = record.getMessage()
    return (
        "blocking call" in message
        or (record.name == frame.__name__ and DOMAIN in message)
        or ("deprecat" in message.lower() and DOMAIN in message)
        or "Unable to remove unknown job listener" in message
    )


@pytest.fixture(autouse=True)
def no_complaints(caplog: pytest.LogCaptureFixture) -> Generator[None]:
    """Fail a test in which Home Assistant complained of the integration."""
    yield
    complaints = [
        record.getMessage()
        for when in ("setup", "call", "teardown")
        for record in caplog.get_records(when)
        if _is_complaint(record)
    ]
    assert not complaints


@pytest.fixture(autouse=True)
def fast_reconnect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reconnect within a fraction of a second in tests, not after seconds."""
    monkeypatch.setattr(session, "BACKOFF_MIN", 0.2)
    monkeypatch.setattr(session, "BACKOFF_MAX", 1.0)
    monkeypatch.setattr(session, "KEEPALIVE", 5)
    monkeypatch.setattr(session, "ATTEMPT_TIMEOUT", 5.0)


@pytest.fixture
def config_entry(hass: HomeAssistant, broker, ttn_app, auth_info) -> MockConfigEntry:
    """Return a config entry for the simulated application, added to hass."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=ttn_app.app_id,
        unique_id=f"127.0.0.1/{ttn_app.uid}",
        data={
            CONF_HOST: "127.0.0.1",
            CONF_PORT: broker.port,
            CONF_USE_TLS: False,
            CONF_TENANT: ttn_app.tenant,
            CONF_APP_ID: ttn_app.app_id,
            CONF_APP_EUI: "70B3D57ED0000000",
            CONF_API_KEY: ttn_app.api_key,
        },
        # The simulated application has no Storage Integration: tests of the
        # catch-up (tests/test_backfill.py) turn it on against a local server.
        options={CONF_BACKFILL_HOURS: 0},
    )
    entry.add_to_hass(hass)
    return entry


@pytest.fixture
async def init_integration(
    hass: HomeAssistant, config_entry: MockConfigEntry, network
) -> AsyncGenerator[MockConfigEntry]:
    """Set the integration up against the broker; unload it at teardown."""
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    yield config_entry
    if config_entry.state is ConfigEntryState.LOADED:
        await hass.config_entries.async_unload(config_entry.entry_id)
        await hass.async_block_till_done()
