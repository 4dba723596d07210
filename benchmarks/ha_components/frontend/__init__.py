"""Turns Home Assistant's frontend off in the benchmark's Home Assistant runs.

Home Assistant sets `frontend` up in every configuration, and falls back to recovery
mode when it cannot. The benchmark wants it off, and must not depend on the frontend
package being installed: this integration of the same name takes its place and sets
up nothing, so nothing that only the frontend needs (panels, lovelace, onboarding)
is loaded either.
"""

from homeassistant.core import HomeAssistant
from homeassistant.helpers.typing import ConfigType


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up nothing."""
    return True
