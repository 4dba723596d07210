"""What goes on Home Assistant's event bus: every uplink, every downlink report."""

from __future__ import annotations

from datetime import datetime

from homeassistant.core import Context, HomeAssistant, callback

from .const import EVENT_DOWNLINK, EVENT_UPLINK
from .models import TtnDevice
from .protocol.downlink import report_details
from .protocol.messages import DownlinkEvent, Uplink


@callback
def async_fire_uplink(
    hass: HomeAssistant,
    device: TtnDevice,
    uplink: Uplink,
    received_at: datetime,
    context: Context,
    *,
    backfilled: bool,
) -> None:
    """Fire ttn_mqtt_uplink: what automations read of an uplink."""
    best = uplink.best_gateway
    hass.bus.async_fire(
        EVENT_UPLINK,
        {
            "device_id": device.ha_device_id,
            "ttn_device_id": device.device_id,
            "application_id": uplink.device.application_id,
            "f_port": uplink.f_port,
            "f_cnt": uplink.f_cnt,
            "frm_payload": uplink.frm_payload,
            "decoded_payload": uplink.decoded_payload,
            "received_at": received_at.isoformat(),
            "rssi": best.rssi if best else None,
            "snr": best.snr if best else None,
            "simulated": uplink.simulated,
            # Public: it says the uplink was fetched back from storage.
            "backfilled": backfilled,
        },
        context=context,
    )


@callback
def async_fire_downlink(
    hass: HomeAssistant, device: TtnDevice, event: DownlinkEvent
) -> None:
    """Fire ttn_mqtt_downlink: a report on the fate of a downlink."""
    hass.bus.async_fire(
        EVENT_DOWNLINK,
        {
            "device_id": device.ha_device_id,
            "ttn_device_id": device.device_id,
            "status": event.status.value,
            **report_details(event),
        },
    )
