"""The forms of the config and options flows: their fields, selectors and sections."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from .compat import vol
from .const import (
    CONF_API_KEY,
    CONF_APP_EUI,
    CONF_APP_ID,
    CONF_BACKFILL_HOURS,
    CONF_CA_PEM,
    CONF_HOST,
    CONF_PORT,
    CONF_SHARE_LORAWAN,
    CONF_SIGNAL_ENTITIES,
    CONF_STALE_HOURS,
    CONF_TENANT,
    CONF_USE_TLS,
    DEFAULT_BACKFILL_HOURS,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_SHARE_LORAWAN,
    DEFAULT_SIGNAL_ENTITIES,
    DEFAULT_STALE_HOURS,
    DEFAULT_TENANT,
    TTN_CLUSTERS,
)

MAX_STALE_HOURS = 8760
MAX_BACKFILL_HOURS = 720

# Not "current-password": the browser must not fill in the Home Assistant password.
API_KEY_SELECTOR = TextSelector(
    TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="off")
)
TEXT_SELECTOR = TextSelector()
PEM_SELECTOR = TextSelector(TextSelectorConfig(multiline=True))


def hours_selector(maximum: int) -> Callable[[Any], int]:
    """Return a field of whole hours, 0 (off) to maximum."""
    return vol.All(
        NumberSelector(
            NumberSelectorConfig(
                min=0,
                max=maximum,
                step=1,
                mode=NumberSelectorMode.BOX,
                unit_of_measurement="h",
            )
        ),
        vol.Coerce(int),
    )


# The connection details most users never touch, in a collapsed section of the form.
SECTION_CONNECTION = "connection"
SECTION_FIELDS = (CONF_PORT, CONF_USE_TLS, CONF_CA_PEM)


def connection_fields(collapsed: bool = True) -> dict[vol.Marker, Any]:
    """Return where to connect, shared by the user and reconfigure steps.

    A new schema for every form: Home Assistant writes a form's suggested values into
    a section's schema, which must not carry them over to another form. The tenant
    only has a suggested value, not a default: a default would come back when a user
    of The Things Stack Open Source empties the field. Only a self-hosted stack with a
    private CA needs the CA field.
    """
    return {
        vol.Required(CONF_HOST, default=DEFAULT_HOST): SelectSelector(
            SelectSelectorConfig(
                options=list(TTN_CLUSTERS),
                custom_value=True,
                mode=SelectSelectorMode.DROPDOWN,
            )
        ),
        vol.Optional(
            CONF_TENANT, description={"suggested_value": DEFAULT_TENANT}
        ): TEXT_SELECTOR,
        vol.Required(SECTION_CONNECTION): section(
            vol.Schema(
                {
                    vol.Required(CONF_PORT, default=DEFAULT_PORT): vol.All(
                        NumberSelector(
                            NumberSelectorConfig(
                                min=1, max=65535, step=1, mode=NumberSelectorMode.BOX
                            )
                        ),
                        vol.Coerce(int),
                    ),
                    vol.Required(CONF_USE_TLS, default=True): BooleanSelector(),
                    vol.Optional(CONF_CA_PEM): PEM_SELECTOR,
                }
            ),
            {"collapsed": collapsed},
        ),
    }


def user_schema(collapsed: bool = True) -> vol.Schema:
    """Return the form that adds an application."""
    return vol.Schema(
        {
            **connection_fields(collapsed),
            vol.Required(CONF_APP_ID): TEXT_SELECTOR,
            vol.Optional(CONF_APP_EUI): TEXT_SELECTOR,
            vol.Required(CONF_API_KEY): API_KEY_SELECTOR,
        }
    )


def reconfigure_schema(collapsed: bool = True) -> vol.Schema:
    """Return the form that changes an application's server, tenant and key."""
    # The stored key is never sent to the browser: left empty, the field keeps it.
    return vol.Schema(
        {
            **connection_fields(collapsed),
            vol.Optional(CONF_API_KEY): API_KEY_SELECTOR,
        }
    )


def form_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return flat values (as the entry stores them) as the form holds them."""
    values = {key: value for key, value in data.items() if key not in SECTION_FIELDS}
    values[SECTION_CONNECTION] = {
        key: data[key] for key in SECTION_FIELDS if key in data
    }
    return values


def flat_values(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Return a form's input flat, as the entry stores it."""
    values = dict(user_input)
    values.update(values.pop(SECTION_CONNECTION, {}))
    return values


REAUTH_SCHEMA = vol.Schema({vol.Required(CONF_API_KEY): API_KEY_SELECTOR})
OPTIONS_SCHEMA = vol.Schema(
    {
        vol.Required(
            CONF_SIGNAL_ENTITIES, default=DEFAULT_SIGNAL_ENTITIES
        ): BooleanSelector(),
        vol.Required(CONF_STALE_HOURS, default=DEFAULT_STALE_HOURS): hours_selector(
            MAX_STALE_HOURS
        ),
        vol.Required(
            CONF_BACKFILL_HOURS, default=DEFAULT_BACKFILL_HOURS
        ): hours_selector(MAX_BACKFILL_HOURS),
    }
)
SHARE_OPTION_SCHEMA = vol.Schema(
    {
        vol.Required(
            CONF_SHARE_LORAWAN, default=DEFAULT_SHARE_LORAWAN
        ): BooleanSelector(),
    }
)


def options_schema(*, with_share: bool = True) -> vol.Schema:
    """Return the options, share_lorawan among them where Home Assistant has lorawan."""
    if not with_share:
        return OPTIONS_SCHEMA
    return OPTIONS_SCHEMA.extend(SHARE_OPTION_SCHEMA.schema)
