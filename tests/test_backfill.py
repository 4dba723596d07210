"""Catching up: uplinks missed while disconnected, fetched back from the Storage Integration.

The Storage Integration is served by a local HTTP server (tests/storage_server.py); the
uplinks are those of the simulated network, on the real broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
import gzip
from typing import Any

from aiohttp import ClientTimeout
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import issue_registry as ir
import orjson
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)
from yarl import URL

from custom_components.ttn_mqtt import backfill
from custom_components.ttn_mqtt.const import (
    CONF_BACKFILL_HOURS,
    CONF_PORT,
    DOMAIN,
    EVENT_UPLINK,
)
from custom_components.ttn_mqtt.coordinator import TtnCoordinator
from custom_components.ttn_mqtt.protocol.uplink_ledger import UplinkLedger
from ttn_sim import Broker, Network
from ttn_sim.network import GENERATE

from .common import async_wait_for
from .storage_server import PATH, StorageServer
from .tcp_link import CuttableLink

LOGGER = "custom_components.ttn_mqtt"


@dataclass
class Bench:
    """Home Assistant with the entry, and around it the broker, network and storage."""

    hass: HomeAssistant
    entry: MockConfigEntry
    link: CuttableLink
    network: Network
    storage: StorageServer
    events: list[Event]

    @property
    def coordinator(self) -> TtnCoordinator:
        """Return the entry's coordinator."""
        return self.entry.runtime_data

    async def async_setup(self) -> None:
        """Set the entry up, as Home Assistant does at its start."""
        assert await self.hass.config_entries.async_setup(self.entry.entry_id)

    async def async_caught_up(self) -> None:
        """Wait until the catch-up in progress is over."""
        await async_wait_for(lambda: not self.coordinator.fleet.ledger.backfilling)
        await self.hass.async_block_till_done()

    async def async_cut_and_restore(self, during: Callable[[], Any] = list) -> None:
        """Cut Home Assistant's link alone, call during() meanwhile, wait until it is back."""
        self.link.cut()
        await async_wait_for(lambda: not self.coordinator.connected)
        during()
        self.link.restore()
        await async_wait_for(lambda: self.coordinator.connected, timeout=10)

    async def async_send_while_cut(
        self, *uplinks: tuple[str, Any]
    ) -> list[dict[str, Any]]:
        """Cut the link, send (device id, decoded payload) uplinks meanwhile, restore it.

        Storage keeps them; Home Assistant does not receive them. Return them, as sent.
        """
        missed: list[dict[str, Any]] = []
        await self.async_cut_and_restore(
            lambda: missed.extend(self.sent(*uplink) for uplink in uplinks)
        )
        return missed

    def sent(self, device_id: str, decoded_payload: Any) -> dict[str, Any]:
        """Publish an uplink on the broker, as The Things Stack does; storage keeps it.

        Home Assistant gets it only if it is connected at the time.
        """
        return self.storage.store(self.network.uplink(device_id, decoded_payload))

    def seen(self, device_id: str) -> list[tuple[int, bool]]:
        """Return (f_cnt, backfilled) of a device's uplink events, in order."""
        return [
            (event.data["f_cnt"], event.data["backfilled"])
            for event in self.events
            if event.data["ttn_device_id"] == device_id
        ]

    def temperature_state(self) -> float | None:
        """Return the state of th-sensor-01's temperature sensor, None if there is none."""
        state = self.hass.states.get("sensor.th_sensor_01_temperature")
        return None if state is None else float(state.state)


@pytest.fixture
async def bench(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    broker: Broker,
    network: Network,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncGenerator[Bench]:
    """Storage served on 127.0.0.1, and a cuttable link to the broker; not set up yet."""
    application = network.application
    storage = StorageServer(application.app_id, application.api_key)
    await storage.start()
    link = CuttableLink(broker.host, broker.port)
    await link.start()
    monkeypatch.setattr(
        backfill, "storage_url", lambda host, path: URL(storage.url).with_path(path)
    )
    monkeypatch.setattr(backfill, "SETTLE", 0)
    # One attempt, unless a test asks for more.
    monkeypatch.setattr(backfill, "RETRY_DELAYS", ())
    # Asked for once, unless a test of the second ask asks for it.
    monkeypatch.setattr(backfill, "RECHECK_AFTER", None)
    # The catch-up's own default applies, whatever the shared fixture sets.
    options = dict(config_entry.options)
    options.pop(CONF_BACKFILL_HOURS, None)
    hass.config_entries.async_update_entry(
        config_entry,
        data={**config_entry.data, CONF_PORT: link.port},
        options=options,
    )
    events = async_capture_events(hass, EVENT_UPLINK)
    yield Bench(hass, config_entry, link, network, storage, events)
    if config_entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(config_entry.entry_id)
    await link.stop()
    await storage.stop()


def _f_cnt(message: dict[str, Any]) -> int:
    return message["uplink_message"]["f_cnt"]


def _log_lines(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(LOGGER) and text in record.getMessage()
    ]


def _our_issues(hass: HomeAssistant) -> list[ir.IssueEntry]:
    return [i for i in ir.async_get(hass).issues.values() if i.domain == DOMAIN]


async def test_first_setup_asks_for_the_last_hours(bench: Bench) -> None:
    """A first setup asks for the last 24 hours, with the API key as bearer token."""
    await bench.async_setup()
    await bench.async_caught_up()
    # The server answers 401 to any other key: this request was let in.
    (request,) = bench.storage.requests
    assert request["order"] == "received_at"
    assert request["limit"] == str(backfill.PAGE_SIZE)
    # The last 24 hours, with `after` (`last` is deprecated).
    since = datetime.fromisoformat(request["after"])
    assert abs(since - (datetime.now(UTC) - timedelta(hours=24))) < timedelta(minutes=1)
    assert bench.storage.answered == 1


async def test_uplinks_stored_before_setup_arrive_in_order(bench: Bench) -> None:
    """What storage holds is applied oldest first, as backfilled; entities end newest."""
    # Only in storage: published on the broker now, a slow broker could still be
    # delivering them when Home Assistant subscribes.
    stored = [
        bench.storage.store(bench.network.build_uplink(device_id, decoded))
        for device_id, decoded in (
            ("th-sensor-01", {"temperature": 18.5}),
            ("door-01", {"door_open": True}),
            ("th-sensor-01", {"temperature": 19.5}),
        )
    ]
    too_old = bench.network.build_uplink("th-sensor-01", {"temperature": -40.0})
    too_old["received_at"] = (datetime.now(UTC) - timedelta(hours=30)).isoformat()
    bench.storage.store(too_old)

    await bench.async_setup()
    await bench.async_caught_up()

    assert bench.seen("th-sensor-01") == [
        (_f_cnt(stored[0]), True),
        (_f_cnt(stored[2]), True),
    ]
    assert bench.seen("door-01") == [(_f_cnt(stored[1]), True)]
    coordinator = bench.coordinator
    assert coordinator.devices["th-sensor-01"].fields["temperature"] == 19.5
    assert coordinator.devices["door-01"].fields == {"door_open": True}
    assert bench.temperature_state() == 19.5


async def test_uplinks_sent_while_disconnected_are_fetched_after_reconnect(
    bench: Bench,
) -> None:
    """Uplinks sent while the link was cut arrive after the reconnect, once, in order."""
    await bench.async_setup()
    await bench.async_caught_up()
    before = [
        bench.sent("th-sensor-01", {"temperature": 20.0}),
        bench.sent("th-sensor-01", {"temperature": 20.5}),
    ]
    await async_wait_for(lambda: len(bench.events) == 2)

    missed = await bench.async_send_while_cut(
        *(("th-sensor-01", {"temperature": value}) for value in (21.0, 22.0, 23.0)),
        ("door-01", {"door_open": True}),
    )
    await async_wait_for(lambda: bench.coordinator.counters.backfilled == 4)
    await bench.async_caught_up()

    # Asked from a little before the last uplink processed: those came twice.
    assert set(bench.storage.requests[-1]) == {"order", "after", "limit"}
    assert bench.coordinator.counters.duplicates == 2
    assert bench.seen("th-sensor-01") == [
        (_f_cnt(before[0]), False),
        (_f_cnt(before[1]), False),
        (_f_cnt(missed[0]), True),
        (_f_cnt(missed[1]), True),
        (_f_cnt(missed[2]), True),
    ]
    assert bench.seen("door-01") == [(_f_cnt(missed[3]), True)]
    assert bench.coordinator.devices["th-sensor-01"].fields["temperature"] == 23.0
    assert bench.coordinator.devices["door-01"].fields["door_open"] is True
    assert bench.temperature_state() == 23.0

    live = bench.network.uplink("th-sensor-01", {"temperature": 24.0})
    await async_wait_for(lambda: len(bench.events) == 7)
    assert bench.seen("th-sensor-01")[-1] == (_f_cnt(live), False)


@pytest.mark.parametrize("zone", ["+02:00", "none"])
async def test_a_stamp_in_another_zone_is_its_utc_instant(
    bench: Bench, zone: str
) -> None:
    """At +02:00 or without a zone, received_at is one UTC instant everywhere.

    In the uplink's event, in the ledger and in the next catch-up's query.
    """
    await bench.async_setup()
    await bench.async_caught_up()
    instant = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    message = bench.network.build_uplink("th-sensor-01", {"temperature": 20.0})
    message["received_at"] = (
        instant.astimezone(timezone(timedelta(hours=2))).isoformat()
        if zone == "+02:00"
        else instant.replace(tzinfo=None).isoformat()
    )
    bench.network.publish_raw(
        f"v3/{bench.network.uid}/devices/th-sensor-01/up", orjson.dumps(message)
    )
    await async_wait_for(lambda: len(bench.events) == 1)
    assert bench.events[0].data["received_at"] == instant.isoformat()
    assert bench.coordinator.fleet.ledger.processed_until == instant

    await bench.async_cut_and_restore()
    await bench.async_caught_up()
    start = instant - UplinkLedger.OVERLAP
    assert bench.storage.requests[-1]["after"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_live_uplinks_during_a_catch_up_are_kept_once_and_newest(
    bench: Bench,
) -> None:
    """A live uplink during a catch-up is applied once; older fetched ones don't undo it."""
    await bench.async_setup()
    await bench.async_caught_up()
    bench.sent("th-sensor-01", {"temperature": 20.0})
    await async_wait_for(lambda: len(bench.events) == 1)

    bench.storage.hold = True
    missed = await bench.async_send_while_cut(
        ("th-sensor-01", {"temperature": 21.0}), ("th-sensor-01", {"temperature": 22.0})
    )
    await asyncio.wait_for(bench.storage.held.wait(), timeout=5)
    # While storage is still answering, a newer uplink arrives live; storage keeps
    # it as well, so the stream brings it a second time.
    live = bench.sent("th-sensor-01", {"temperature": 30.0})
    await async_wait_for(lambda: len(bench.events) == 2)
    assert bench.coordinator.devices["th-sensor-01"].fields["temperature"] == 30.0
    bench.storage.release()
    await bench.async_caught_up()

    assert bench.seen("th-sensor-01")[1:] == [
        (_f_cnt(live), False),
        (_f_cnt(missed[0]), True),
        (_f_cnt(missed[1]), True),
    ]
    assert bench.coordinator.counters.duplicates == 2
    # The fetched uplinks are older than the live one: the device keeps the newest.
    device = bench.coordinator.devices["th-sensor-01"]
    assert device.fields["temperature"] == 30.0
    assert device.uplink.f_cnt == _f_cnt(live)
    assert bench.temperature_state() == 30.0


async def test_restart_ends_with_every_entity_at_the_newest_value(
    bench: Bench,
) -> None:
    """Uplinks sent while Home Assistant was stopped are fetched at the next start."""
    await bench.async_setup()
    await bench.async_caught_up()
    seen = [
        bench.sent("th-sensor-01", {"temperature": 20.0}),
        bench.sent("door-01", {"door_open": False}),
    ]
    await async_wait_for(lambda: len(bench.events) == 2)
    assert await bench.hass.config_entries.async_unload(bench.entry.entry_id)

    missed = [
        bench.sent("door-01", {"door_open": True}),
        bench.sent("th-sensor-01", {"temperature": 25.0}),
        bench.sent("th-sensor-01", {"temperature": 26.0}),
        bench.sent("multi-01", GENERATE),
    ]
    await bench.async_setup()
    await bench.async_caught_up()

    # The second start asked after what the first had processed, not for 24 hours.
    assert set(bench.storage.requests[-1]) == {"order", "after", "limit"}
    assert bench.seen("th-sensor-01") == [
        (_f_cnt(seen[0]), False),
        (_f_cnt(missed[1]), True),
        (_f_cnt(missed[2]), True),
    ]
    assert bench.seen("door-01") == [
        (_f_cnt(seen[1]), False),
        (_f_cnt(missed[0]), True),
    ]
    assert bench.seen("multi-01") == [(_f_cnt(missed[3]), True)]
    coordinator = bench.coordinator
    assert coordinator.devices["th-sensor-01"].fields["temperature"] == 26.0
    assert coordinator.devices["door-01"].fields["door_open"] is True
    assert bench.temperature_state() == 26.0


NOT_THERE = {
    404: ("storage_not_enabled", "is not enabled"),
    403: ("storage_forbidden", "may not read its Storage Integration"),
}


@pytest.mark.parametrize("status", NOT_THERE)
async def test_storage_not_there_raises_one_repair_issue(
    bench: Bench, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    """404 or 403: one repair issue and one log line, then quiet; fixed, the issue goes."""
    translation_key, log_text = NOT_THERE[status]
    bench.storage.status = status
    await bench.async_setup()
    await bench.async_caught_up()

    issue = ir.async_get(bench.hass).async_get_issue(
        DOMAIN, bench.coordinator.backfill.issue_id
    )
    assert issue is not None
    assert issue.translation_key == translation_key
    assert issue.translation_placeholders["app_id"] == "test-app"
    assert issue.learn_more_url
    assert not issue.is_fixable
    assert len(_log_lines(caplog, log_text)) == 1

    # Still running: live uplinks arrive.
    bench.network.uplink("door-01", {"door_open": True})
    await async_wait_for(lambda: bench.events)
    assert bench.entry.state is ConfigEntryState.LOADED

    # A reconnect asks again, quietly.
    await bench.async_cut_and_restore()
    await async_wait_for(lambda: len(bench.storage.requests) == 2)
    await bench.async_caught_up()
    assert len(_log_lines(caplog, log_text)) == 1
    assert _our_issues(bench.hass) == [issue]

    # Once enabled, the next catch-up works and the issue goes away.
    bench.storage.status = None
    await bench.async_cut_and_restore()
    await async_wait_for(lambda: bench.storage.answered == 1)
    await bench.async_caught_up()
    assert _our_issues(bench.hass) == []


async def test_a_hanging_storage_times_out_without_holding_setup(
    bench: Bench, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Setup does not wait on the catch-up; a timeout is said once and changes nothing else."""
    monkeypatch.setattr(backfill, "TIMEOUT", ClientTimeout(total=2.0))
    bench.storage.hang = True
    await bench.async_setup()
    await bench.hass.async_block_till_done()
    # Set up while the storage still hangs.
    assert bench.storage.answered == 0
    assert bench.coordinator.fleet.ledger.backfilling

    bench.network.uplink("door-01", {"door_open": True})
    await async_wait_for(lambda: bench.events)
    await async_wait_for(lambda: not bench.coordinator.fleet.ledger.backfilling)
    assert len(_log_lines(caplog, "did not answer in time")) == 1

    await bench.async_cut_and_restore()
    await async_wait_for(lambda: len(bench.storage.requests) == 2)
    await async_wait_for(lambda: not bench.coordinator.fleet.ledger.backfilling)
    assert len(_log_lines(caplog, "did not answer in time")) == 1
    assert _our_issues(bench.hass) == []
    assert bench.entry.state is ConfigEntryState.LOADED
    assert bench.coordinator.devices["door-01"].fields["door_open"] is True


async def test_a_failing_storage_is_asked_again_while_the_gap_holds(
    bench: Bench, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed catch-up is tried again; live uplinks meanwhile neither wait nor close the gap."""
    monkeypatch.setattr(backfill, "RETRY_DELAYS", (0.5, 0.5))
    await bench.async_setup()
    await bench.async_caught_up()
    bench.sent("th-sensor-01", {"temperature": 20.0})
    await async_wait_for(lambda: len(bench.events) == 1)

    bench.storage.status = 500
    missed = await bench.async_send_while_cut(
        ("th-sensor-01", {"temperature": 21.0}), ("th-sensor-01", {"temperature": 22.0})
    )
    await async_wait_for(lambda: len(bench.storage.requests) == 2)
    live = bench.sent("th-sensor-01", {"temperature": 23.0})
    await async_wait_for(lambda: len(bench.events) == 2)
    assert bench.temperature_state() == 23.0
    assert bench.coordinator.fleet.ledger.backfilling

    bench.storage.status = None
    await async_wait_for(lambda: bench.coordinator.counters.backfilled == 2)
    await bench.async_caught_up()
    assert bench.seen("th-sensor-01")[1:] == [
        (_f_cnt(live), False),
        (_f_cnt(missed[0]), True),
        (_f_cnt(missed[1]), True),
    ]
    # Fetched late, the older values do not take the newest back.
    assert bench.temperature_state() == 23.0
    assert len(_log_lines(caplog, "Could not fetch")) == 1
    assert len(_log_lines(caplog, "from its Storage Integration again")) == 1


async def test_unload_cancels_a_catch_up_in_progress(bench: Bench) -> None:
    """Unloading during a catch-up cancels it; the harness fails on a lingering task."""
    bench.storage.hang = True
    await bench.async_setup()
    await async_wait_for(lambda: bench.storage.requests)
    assert bench.coordinator.fleet.ledger.backfilling
    assert await bench.hass.config_entries.async_unload(bench.entry.entry_id)
    assert bench.entry.state is ConfigEntryState.NOT_LOADED


async def test_bad_stored_lines_are_counted_and_skipped(bench: Bench) -> None:
    """A line that is not an uplink is counted as malformed; the others are applied."""
    first = bench.sent("door-01", {"door_open": False})
    bench.storage.store_line(b"{not json", first["received_at"])
    bench.sent("door-01", {"door_open": True})
    await bench.async_setup()
    await bench.async_caught_up()
    assert bench.coordinator.counters.malformed == 1
    assert bench.coordinator.counters.backfilled == 2
    assert bench.coordinator.devices["door-01"].fields["door_open"] is True


async def test_zero_hours_turns_the_catch_up_off(bench: Bench) -> None:
    """With the option at 0, storage is never asked, at setup or after a reconnect."""
    bench.sent("door-01", {"door_open": True})
    bench.hass.config_entries.async_update_entry(
        bench.entry, options={CONF_BACKFILL_HOURS: 0}
    )
    await bench.async_setup()
    await bench.async_cut_and_restore()
    bench.network.uplink("door-01", {"door_open": False})
    await async_wait_for(lambda: bench.events)
    assert bench.storage.requests == []
    assert bench.coordinator.counters.backfilled == 0
    assert bench.coordinator.devices["door-01"].fields["door_open"] is False


async def test_a_redirect_is_not_followed(
    bench: Bench, caplog: pytest.LogCaptureFixture
) -> None:
    """A redirect (to another host, or in a loop) fails the catch-up, said plainly."""
    elsewhere = StorageServer(bench.storage.app_id, bench.storage.api_key)
    await elsewhere.start()
    elsewhere.store(bench.network.build_uplink("door-01", {"door_open": True}))
    # Another host name for the same loopback address.
    other_host = elsewhere.url.replace("127.0.0.1", "localhost")
    bench.storage.redirect_to = other_host + PATH.format(app_id=bench.storage.app_id)
    await bench.async_setup()
    await bench.async_caught_up()
    await elsewhere.stop()

    assert elsewhere.requests == []
    assert bench.coordinator.counters.backfilled == 0
    (said,) = _log_lines(caplog, "Could not fetch")
    assert "HTTP 302: a redirect to" in said
    assert "HTTP 0" not in said


async def test_a_gzip_bomb_is_cut_off(
    bench: Bench, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small body that inflates past the bound fails the catch-up; the rest goes on."""
    monkeypatch.setattr(backfill, "MAX_BODY_BYTES", 4 * 1024 * 1024)
    good = orjson.dumps({"result": bench.network.build_uplink("door-01", {"a": 1})})
    # 64 MiB of blanks after one good line: 64 KiB on the wire.
    bomb = gzip.compress(good + b"\n" + b" " * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 100 * 1024
    bench.storage.raw_answer = (
        bomb,
        {"Content-Encoding": "gzip", "Content-Type": "text/event-stream"},
    )
    await bench.async_setup()
    await bench.async_caught_up()

    (said,) = _log_lines(caplog, "Could not fetch")
    assert f"larger than {4 * 1024 * 1024} bytes" in said
    assert bench.coordinator.connected


async def test_a_compressed_answer_is_read(bench: Bench) -> None:
    """A gzip body (as a proxy may send) is inflated and applied as any other."""
    lines = b"".join(
        orjson.dumps({"result": bench.network.build_uplink("door-01", {"a": n})})
        + b"\n"
        for n in range(3)
    )
    bench.storage.raw_answer = (
        gzip.compress(lines),
        {"Content-Encoding": "gzip", "Content-Type": "text/event-stream"},
    )
    await bench.async_setup()
    await bench.async_caught_up()
    assert bench.coordinator.counters.backfilled == 3


async def test_a_long_gap_is_read_in_pages(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of `limit`, each after the last uplink of the one before, until a short one."""
    monkeypatch.setattr(backfill, "PAGE_SIZE", 2)
    for value in range(5):
        bench.sent("th-sensor-01", {"temperature": float(value)})
    await bench.async_setup()
    await bench.async_caught_up()
    assert bench.coordinator.counters.backfilled == 5
    assert [request["limit"] for request in bench.storage.requests] == ["2"] * 3
    assert bench.temperature_state() == 4.0


async def test_an_error_in_the_stream_is_a_failed_fetch(
    bench: Bench, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """{"error": ...} after some records: asked again, not taken as the whole gap."""
    monkeypatch.setattr(backfill, "RETRY_DELAYS", (0.1,))
    for value in range(3):
        bench.sent("th-sensor-01", {"temperature": float(value)})
    bench.storage.error_after = 1
    await bench.async_setup()
    await async_wait_for(lambda: len(bench.storage.requests) == 1)
    bench.storage.error_after = None
    await bench.async_caught_up()
    assert len(bench.storage.requests) == 2
    assert bench.coordinator.counters.backfilled == 3
    (said,) = _log_lines(caplog, "Could not fetch")
    assert "the stream ended with an error: storage unavailable" in said


async def test_a_rate_limit_is_waited_out_as_the_server_asks(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    """429: the next try comes after X-Rate-Limit-Retry, not after the fixed delay."""
    monkeypatch.setattr(backfill, "RETRY_DELAYS", (3600.0,))
    bench.sent("th-sensor-01", {"temperature": 20.0})
    bench.storage.rate_limited = 1
    bench.storage.rate_limit_retry = 0
    await bench.async_setup()
    await bench.async_caught_up()
    assert len(bench.storage.requests) == 2
    assert bench.coordinator.counters.backfilled == 1


async def test_the_gap_is_asked_for_once_more(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the Storage Integration wrote late is fetched a while after; once each."""
    monkeypatch.setattr(backfill, "RECHECK_AFTER", 0.5)
    bench.sent("th-sensor-01", {"temperature": 20.0})
    await bench.async_setup()
    await async_wait_for(lambda: bench.coordinator.counters.backfilled == 1)
    # Received before the reconnect, but readable only now.
    late = bench.network.build_uplink("th-sensor-01", {"temperature": 21.0})
    late["received_at"] = (datetime.now(UTC) - timedelta(seconds=30)).isoformat()
    bench.storage.store(late)
    await bench.async_caught_up()
    assert len(bench.storage.requests) == 2
    assert bench.coordinator.counters.backfilled == 2
    assert bench.coordinator.counters.duplicates == 1
