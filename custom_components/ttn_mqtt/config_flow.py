"""Config flow: add a TTN application, re-authenticate, reconfigure and tune it."""

from __future__ import annotations

from collections.abc import Mapping
import logging
import ssl
from typing import Any

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.core import callback
from homeassistant.data_entry_flow import AbortFlow

from .const import (
    CONF_API_KEY,
    CONF_APP_EUI,
    CONF_APP_ID,
    CONF_CA_PEM,
    CONF_HOST,
    CONF_PORT,
    CONF_TENANT,
    CONF_USE_TLS,
    DEFAULT_PORT,
    DOMAIN,
)
from .coordinator import TtnMqttConfigEntry
from .flow_forms import (
    REAUTH_SCHEMA,
    SECTION_CONNECTION,
    flat_values,
    form_values,
    options_schema,
    reconfigure_schema,
    user_schema,
)
from .key_check import KeyInfo, KeyStatus, async_check_key
from .link import async_connect_once, settings_from_data
from .lorawan_share import async_lorawan_available
from .protocol.auth_info import RIGHT_DOWN_WRITE, RIGHT_TRAFFIC_READ
from .protocol.ids import (
    application_uid,
    is_valid_api_key,
    is_valid_id,
    looks_like_api_key_id,
    normalize_eui,
    normalize_host,
)
from .protocol.session import ConnectResult
from .protocol.tls import client_ssl_context
from .translation_keys import CONNECT_ERRORS

_LOGGER = logging.getLogger(__name__)


def _clean(user_input: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Return the input as the entry stores it, and an error key per bad field.

    Only the fields present are checked, so every step can use it.
    """
    data = {
        key: value.strip() if isinstance(value, str) else value
        for key, value in user_input.items()
    }
    errors: dict[str, str] = {}
    if CONF_HOST in data:
        try:
            data[CONF_HOST] = normalize_host(data[CONF_HOST])
        except ValueError:
            errors[CONF_HOST] = "invalid_host"
    # An empty tenant is The Things Stack Open Source.
    if data.get(CONF_TENANT) and not is_valid_id(data[CONF_TENANT]):
        errors[CONF_TENANT] = "invalid_tenant"
    if CONF_APP_ID in data and not is_valid_id(data[CONF_APP_ID]):
        errors[CONF_APP_ID] = "invalid_app_id"
    if data.get(CONF_APP_EUI):
        try:
            data[CONF_APP_EUI] = normalize_eui(data[CONF_APP_EUI])
        except ValueError:
            errors[CONF_APP_EUI] = "invalid_app_eui"
    else:
        data.pop(CONF_APP_EUI, None)
    if not data.get(CONF_CA_PEM):
        data.pop(CONF_CA_PEM, None)
    if CONF_API_KEY in data and not is_valid_api_key(data[CONF_API_KEY]):
        errors[CONF_API_KEY] = (
            "api_key_id"
            if looks_like_api_key_id(data[CONF_API_KEY])
            else "invalid_api_key"
        )
    return data, errors


def _is_ca_pem(text: str) -> bool:
    """Return whether text holds PEM certificates the TLS session will load.

    It loads them with the session's own function, which reads the trust store: run
    it in the executor.
    """
    # The session would skip a private key pasted with the certificate; it must not
    # end up stored in the entry.
    if "PRIVATE KEY" in text:
        return False
    try:
        client_ssl_context(text)
    # TypeError: text that is not ASCII.
    except (ssl.SSLError, ValueError, TypeError):
        return False
    return True


def _unique_id(data: Mapping[str, Any]) -> str:
    """Return the unique id of an application: its host, ID and tenant."""
    return f"{data[CONF_HOST]}/{application_uid(data[CONF_APP_ID], data[CONF_TENANT])}"


class TtnConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add an application of The Things Stack, checking it by connecting."""

    VERSION = 1

    def __init__(self) -> None:
        """Start with no input seen."""
        self._placeholders: dict[str, str] = {}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: TtnMqttConfigEntry) -> TtnOptionsFlow:
        """Return the options flow."""
        return TtnOptionsFlow()

    def _abort_if_set_up_with_another_host(
        self, data: Mapping[str, Any], entry_id: str | None = None
    ) -> None:
        """Abort when another entry has this application, on another host.

        Its devices and entities would be the same as that entry's.
        """
        uid = application_uid(data[CONF_APP_ID], data[CONF_TENANT])
        for entry in self._async_current_entries(include_ignore=False):
            if entry.entry_id != entry_id and uid == application_uid(
                entry.data[CONF_APP_ID], entry.data[CONF_TENANT]
            ):
                raise AbortFlow(
                    "already_configured_with_another_host",
                    description_placeholders={
                        "app_id": data[CONF_APP_ID],
                        "host": entry.data[CONF_HOST],
                    },
                )

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the application's connection, ID and API key."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = await self._async_clean(
                {CONF_TENANT: "", **flat_values(user_input)}
            )
            if not errors:
                await self.async_set_unique_id(_unique_id(data))
                self._abort_if_unique_id_configured()
                self._abort_if_set_up_with_another_host(data)
                if not (error := await self._async_try_connect(data)):
                    return self.async_create_entry(title=data[CONF_APP_ID], data=data)
                errors["base"] = error
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                # Open where an error is shown for its fields.
                user_schema(collapsed=SECTION_CONNECTION not in errors),
                user_input,
            ),
            errors=errors,
            description_placeholders=self._placeholders,
        )

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """Start re-authentication when The Things Stack refuses the key."""
        self._placeholders = _connection_placeholders(entry_data)
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a new API key, and only that."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            key, errors = _clean(user_input)
            if not errors:
                data = {**entry.data, **key}
                error = await self._async_try_connect(data)
                if error == "wrong_application":
                    return self.async_abort(
                        reason=error, description_placeholders=self._placeholders
                    )
                if error is None:
                    return self._async_update_apply_and_abort(entry, data=data)
                errors["base"] = error
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=self.add_suggested_values_to_schema(REAUTH_SCHEMA, user_input),
            errors=errors,
            description_placeholders=self._placeholders,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the host, port, TLS, CA certificate, tenant or API key of an entry."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            typed = {CONF_TENANT: "", **flat_values(user_input)}
            if not typed.get(CONF_API_KEY):
                typed.pop(CONF_API_KEY, None)
            changes, errors = await self._async_clean(typed)
            if not errors:
                data = {**entry.data, **changes}
                # The field shows the stored CA, so an emptied field removes it.
                if CONF_CA_PEM not in changes:
                    data.pop(CONF_CA_PEM, None)
                unique_id = _unique_id(data)
                other = self.hass.config_entries.async_entry_for_domain_unique_id(
                    DOMAIN, unique_id
                )
                if other is not None and other.entry_id != entry.entry_id:
                    return self.async_abort(reason="already_configured")
                self._abort_if_set_up_with_another_host(data, entry.entry_id)
                if not (error := await self._async_try_connect(data)):
                    return self._async_update_apply_and_abort(
                        entry, unique_id=unique_id, data=data
                    )
                errors["base"] = error
        else:
            self._placeholders = _connection_placeholders(entry.data)
        suggested = user_input or form_values(
            {key: value for key, value in entry.data.items() if key != CONF_API_KEY}
        )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                # Open when the entry does not use the defaults, or shows an error.
                reconfigure_schema(
                    collapsed=SECTION_CONNECTION not in errors
                    and _uses_default_connection(entry.data)
                ),
                suggested,
            ),
            errors=errors,
            description_placeholders=self._placeholders,
        )

    def _async_update_apply_and_abort(
        self, entry: TtnMqttConfigEntry, **changes: Any
    ) -> ConfigFlowResult:
        """Save the new data and have the entry use it at once, then end the flow.

        A loaded entry that changed is reloaded by its update listener (from
        Home Assistant 2026.12, async_update_reload_and_abort no longer reloads an
        entry that has one). An entry that failed to set up has no listener, and a
        key entered again unchanged is no change: both are reloaded here.
        """
        # Asked first: the listener's reload starts at once and changes the state.
        has_listener = entry.state is ConfigEntryState.LOADED
        changed = self.hass.config_entries.async_update_entry(entry, **changes)
        if not changed or not has_listener:
            self.hass.config_entries.async_schedule_reload(entry.entry_id)
        return self.async_abort(
            reason=(
                "reconfigure_successful"
                if self.source == SOURCE_RECONFIGURE
                else "reauth_successful"
            )
        )

    async def _async_clean(
        self, user_input: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Clean the input as _clean does, and check a CA certificate off the loop."""
        data, errors = _clean(user_input)
        if CONF_CA_PEM in data and not await self.hass.async_add_executor_job(
            _is_ca_pem, data[CONF_CA_PEM]
        ):
            # Said above the section that holds the field.
            errors[SECTION_CONNECTION] = "invalid_ca"
        return data, errors

    async def _async_try_connect(self, data: Mapping[str, Any]) -> str | None:
        """Connect as setup will; return an error key, or None when all is well."""
        self._placeholders = _connection_placeholders(data)
        try:
            result = await async_connect_once(self.hass, settings_from_data(data))
        except Exception:
            _LOGGER.exception("Unexpected error connecting to %s", data[CONF_HOST])
            return "unknown"
        if result is ConnectResult.CONNECTED:
            # The server grants every subscription and filters what it delivers: a
            # key without the read right would connect and never receive anything.
            key = await self._async_check_key(data)
            if (
                key.application_id == data[CONF_APP_ID]
                and RIGHT_TRAFFIC_READ not in key.rights
            ):
                return CONNECT_ERRORS[ConnectResult.MISSING_RIGHTS]
            if key.status is KeyStatus.KNOWN and RIGHT_DOWN_WRITE not in key.rights:
                _LOGGER.warning(
                    "The API key of %s may not send downlinks: give it the right "
                    '"Write downlink application traffic" to send any',
                    data[CONF_APP_ID],
                )
            return None
        if result is ConnectResult.INVALID_AUTH:
            owner = (await self._async_check_key(data)).application_id
            if owner not in (None, data[CONF_APP_ID]):
                self._placeholders["key_app_id"] = owner
                return "wrong_application"
        return CONNECT_ERRORS[result]

    async def _async_check_key(self, data: Mapping[str, Any]) -> KeyInfo:
        return await async_check_key(
            self.hass, data[CONF_HOST], data[CONF_API_KEY], data.get(CONF_CA_PEM)
        )


def _uses_default_connection(data: Mapping[str, Any]) -> bool:
    """Return whether an entry connects as most do: port 8883, TLS, no CA of its own."""
    return (
        data[CONF_PORT] == DEFAULT_PORT
        and data[CONF_USE_TLS]
        and not data.get(CONF_CA_PEM)
    )


def _connection_placeholders(data: Mapping[str, Any]) -> dict[str, str]:
    """Return what the texts of a step and its errors name."""
    return {
        "app_id": data[CONF_APP_ID],
        "host": data[CONF_HOST],
        "port": str(data[CONF_PORT]),
        "key_app_id": "",
    }


class TtnOptionsFlow(OptionsFlow):
    """Tune what is not a connection setting; the entry reloads with the new options."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the options, filled with the current ones."""
        if user_input is not None:
            return self.async_create_entry(data=user_input)
        with_share = await async_lorawan_available(self.hass)
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                options_schema(with_share=with_share), self.config_entry.options
            ),
        )
