"""scripts/demo: what it asks of Home Assistant leaves no trace a user would see."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

SCRIPT = Path(__file__).parent.parent / "scripts" / "demo.py"
WRONG_LOGIN = "Login attempt or request with invalid authentication"


def _demo():
    spec = importlib.util.spec_from_file_location("demo", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_readiness_check_is_no_failed_login(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The demo's "does it answer?" needs no login: no failed attempt, no notification.

    Its old question, the API without a token, is a failed login attempt.
    """
    for component in ("http", "auth", "api"):
        assert await async_setup_component(hass, component, {})
    client = await hass_client_no_auth()
    caplog.set_level(logging.WARNING)

    response = await client.get(_demo().READY_PATH)
    await hass.async_block_till_done()
    assert response.status < 500
    assert WRONG_LOGIN not in caplog.text

    response = await client.get("/api/")
    await hass.async_block_till_done()
    assert response.status == 401
    assert WRONG_LOGIN in caplog.text
