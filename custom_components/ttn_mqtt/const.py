"""Constants of the ttn_mqtt integration."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from homeassistant.util.hass_dict import HassKey

DOMAIN: Final = "ttn_mqtt"

# Config entry data: the keys are part of the interface.
CONF_HOST: Final = "host"
CONF_PORT: Final = "port"
CONF_USE_TLS: Final = "use_tls"
CONF_TENANT: Final = "tenant"
CONF_APP_ID: Final = "app_id"
CONF_APP_EUI: Final = "app_eui"
CONF_API_KEY: Final = "api_key"
# PEM of a CA for a self-hosted stack whose certificate the system does not trust.
CONF_CA_PEM: Final = "ca_pem"

# Options.
CONF_SIGNAL_ENTITIES: Final = "signal_entities"
CONF_STALE_HOURS: Final = "stale_hours"
CONF_BACKFILL_HOURS: Final = "backfill_hours"
# Offered only where Home Assistant has its `lorawan` integration (2026.11).
CONF_SHARE_LORAWAN: Final = "share_lorawan"

DEFAULT_HOST: Final = "eu1.cloud.thethings.network"
TTN_CLUSTERS: Final = (
    "eu1.cloud.thethings.network",
    "nam1.cloud.thethings.network",
    "au1.cloud.thethings.network",
)
DEFAULT_PORT: Final = 8883
DEFAULT_TENANT: Final = "ttn"
DEFAULT_SIGNAL_ENTITIES: Final = True
DEFAULT_STALE_HOURS: Final = 0
DEFAULT_BACKFILL_HOURS: Final = 24
DEFAULT_SHARE_LORAWAN: Final = False

# How long the link may be down before entities turn unavailable: a quick reconnect
# should not flap every entity.
LINK_GRACE: Final = timedelta(seconds=30)
# How long setup and the config flow wait for the first connection.
CONNECT_TIMEOUT: Final = 15.0

# By entry ID, the DevEUIs (lower case) of the entry's devices that a LoRaWAN device
# integration made a device of (lorawan_share.py): their readings are its entities.
DATA_LORAWAN_TAKEN: HassKey[dict[str, set[str]]] = HassKey(f"{DOMAIN}_lorawan_taken")

EVENT_UPLINK: Final = "ttn_mqtt_uplink"
EVENT_DOWNLINK: Final = "ttn_mqtt_downlink"

MANUFACTURER: Final = "The Things Network"
