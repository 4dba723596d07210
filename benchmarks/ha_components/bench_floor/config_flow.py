"""F's config flow: none; benchmarks/ha_config.py writes its config entry."""

from __future__ import annotations

from homeassistant.config_entries import ConfigFlow

from . import DOMAIN


class FloorConfigFlow(ConfigFlow, domain=DOMAIN):
    """Home Assistant loads an entry's flow with it; nobody starts this one."""

    VERSION = 1
