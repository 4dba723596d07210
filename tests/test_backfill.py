"""Catching up: uplinks missed while disconnected, fetched back from the Storage Integration.

The Storage Integration is served by a local HTTP server (tests/storage_server.py); the
uplinks are those of the simulated network, on the real broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import time
from typing import Any

from aiohttp import ClientTimeout
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
import orjson
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ttn_mqtt.backfill import StorageCatchUp
from custom_components.ttn_mqtt.const import (
    CONF_BACKFILL_HOURS,
    CONF_PORT,
    DOMAIN,
    EVENT_UPLINK,
)
from custom_components.ttn_mqtt.coordinator import TtnCoordinator
from custom_components.ttn_mqtt.protocol.messages import Uplink, parse_application_up
from custom_components.ttn_mqtt.protocol.storage import (
    StoredUplinkReader,
    UplinkLedger,
    storage_query,
)
from ttn_sim import Broker, Network
from ttn_sim.network import GENERATE

from .common import async_wait_for
from .storage_server import StorageServer
from .tcp_link import CuttableLink

LOGGER = "custom_components.ttn_mqtt"


# The parts without Home Assistant: reading the stream, and the ledger.


def _message(device_id: str, f_cnt: int | None, received_at: str) -> dict[str, Any]:
    up: dict[str, Any] = {"f_port": 1, "decoded_payload": {"value": f_cnt}}
    if f_cnt is not None:
        up["f_cnt"] = f_cnt
    return {
        "end_device_ids": {
            "device_id": device_id,
            "application_ids": {"application_id": "test-app"},
        },
        "received_at": received_at,
        "uplink_message": up,
    }


def _uplink(device_id: str, f_cnt: int | None, received_at: str) -> Uplink:
    uplink = parse_application_up(_message(device_id, f_cnt, received_at))
    assert isinstance(uplink, Uplink)
    return uplink


def _line(message: dict[str, Any]) -> bytes:
    return orjson.dumps({"result": message}) + b"\n"


def test_reader_parses_lines_split_anywhere() -> None:
    """Lines cut across chunks, and a last line without a newline, all come out in order."""
    body = (
        _line(_message("dev-1", 1, "2024-07-06T09:00:00.123456789Z"))
        + b"\n"
        + _line(_message("dev-2", 7, "2024-07-06T09:00:01Z")).rstrip(b"\n")
    )
    reader = StoredUplinkReader()
    uplinks = []
    for start in range(0, len(body), 7):
        uplinks += reader.feed(body[start : start + 7])
    uplinks += reader.close()
    assert [(u.device.device_id, u.f_cnt) for u in uplinks] == [
        ("dev-1", 1),
        ("dev-2", 7),
    ]
    assert uplinks[0].received_at == datetime(2024, 7, 6, 9, 0, 0, 123456, tzinfo=UTC)
    assert reader.skipped == 0


def test_reader_skips_and_counts_bad_lines() -> None:
    """Each bad line is counted and skipped; the lines around it are kept."""
    join = {
        "end_device_ids": {"device_id": "dev-1", "application_ids": {}},
        "join_accept": {"session_key_id": "AQ=="},
    }
    body = b"".join(
        [
            _line(_message("dev-1", 1, "2024-07-06T09:00:00Z")),
            b"{not json\n",
            b'{"error": {"code": 14, "message": "unavailable"}}\n',
            _line({"uplink_message": {}}),
            _line(join),
            b'{"result": ' + b"1" * 300_000 + b"}\n",
            _line(_message("dev-1", 2, "2024-07-06T09:00:02Z")),
        ]
    )
    reader = StoredUplinkReader()
    uplinks = reader.feed(body[:150_000]) + reader.feed(body[150_000:])
    uplinks += reader.close()
    assert [u.f_cnt for u in uplinks] == [1, 2]
    assert reader.skipped == 5


def test_query_asks_after_the_last_processed_but_not_before_the_hours() -> None:
    """After a time when known; the last N hours on a first run or after a long absence."""
    now = datetime(2024, 7, 6, 12, 0, tzinfo=UTC)
    assert storage_query(None, 24, now) == {"order": "received_at", "last": "24h"}
    recent = datetime(2024, 7, 6, 11, 0, 0, 500000, tzinfo=UTC)
    assert storage_query(recent, 24, now) == {
        "order": "received_at",
        "after": "2024-07-06T11:00:00.500000Z",
    }
    assert storage_query(now - timedelta(hours=25), 24, now)["last"] == "24h"


def test_ledger_applies_each_uplink_once() -> None:
    """The same device, f_cnt and received_at is a duplicate; anything else is not."""
    ledger = UplinkLedger()
    assert ledger.add(_uplink("dev-1", 5, "2024-07-06T09:00:00Z"))
    assert not ledger.add(_uplink("dev-1", 5, "2024-07-06T09:00:00Z"), fetched=True)
    assert ledger.add(_uplink("dev-2", 5, "2024-07-06T09:00:00Z"))
    # After a rejoin the frame counter starts again: same f_cnt, another uplink.
    assert ledger.add(_uplink("dev-1", 5, "2024-07-06T09:00:03Z"))
    assert ledger.add(_uplink("dev-1", None, "2024-07-06T09:00:04Z"))
    assert not ledger.add(_uplink("dev-1", None, "2024-07-06T09:00:04Z"))


def test_ledger_holds_its_place_while_a_gap_is_filled() -> None:
    """Live uplinks after a gap do not move processed_until; fetched ones do, in order."""
    ledger = UplinkLedger()
    ledger.add(_uplink("dev-1", 1, "2024-07-06T09:00:00Z"))
    assert ledger.start_catch_up() == datetime(2024, 7, 6, 8, 59, 50, tzinfo=UTC)

    ledger.add(_uplink("dev-1", 9, "2024-07-06T10:00:00Z"))
    assert ledger.processed_until == datetime(2024, 7, 6, 9, 0, tzinfo=UTC)
    ledger.add(_uplink("dev-1", 2, "2024-07-06T09:30:00Z"), fetched=True)
    assert ledger.processed_until == datetime(2024, 7, 6, 9, 30, tzinfo=UTC)
    # The live uplink is still known: fetched again, it is a duplicate.
    assert not ledger.add(_uplink("dev-1", 9, "2024-07-06T10:00:00Z"), fetched=True)

    ledger.finish_catch_up()
    assert ledger.processed_until == datetime(2024, 7, 6, 10, 0, tzinfo=UTC)
    ledger.add(_uplink("dev-1", 10, "2024-07-06T10:05:00Z"))
    assert ledger.processed_until == datetime(2024, 7, 6, 10, 5, tzinfo=UTC)


def test_ledger_survives_a_restart() -> None:
    """What is stored gives the same place and the same duplicates back."""
    ledger = UplinkLedger()
    ledger.add(_uplink("dev-1", 1, "2024-07-06T09:00:00Z"))
    ledger.add(_uplink("dev-2", 4, "2024-07-06T09:00:05.25Z"))
    restored = UplinkLedger.from_dict(orjson.loads(orjson.dumps(ledger.as_dict())))
    assert restored.processed_until == ledger.processed_until
    assert not restored.add(_uplink("dev-1", 1, "2024-07-06T09:00:00Z"))
    assert not restored.add(_uplink("dev-2", 4, "2024-07-06T09:00:05.25Z"))
    with pytest.raises(ValueError, match="damaged"):
        UplinkLedger.from_dict({"processed_until": "yesterday"})


# With Home Assistant, the broker and a local Storage Integration.


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
        await async_wait_for(lambda: not self.coordinator.ledger.catching_up)
        await self.hass.async_block_till_done()

    async def async_cut_and_restore(self, during: Callable[[], Any] = list) -> None:
        """Cut Home Assistant's link alone, call during() meanwhile, wait until it is back."""
        self.link.cut()
        await async_wait_for(lambda: not self.coordinator.connected)
        during()
        self.link.restore()
        await async_wait_for(lambda: self.coordinator.connected, timeout=10)

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
        registry = er.async_get(self.hass)
        for entity in er.async_entries_for_config_entry(registry, self.entry.entry_id):
            if entity.domain == "sensor" and entity.entity_id.endswith(
                "th_sensor_01_temperature"
            ):
                return float(self.hass.states.get(entity.entity_id).state)
        return None


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
    monkeypatch.setattr(StorageCatchUp, "base_url", storage.url)
    monkeypatch.setattr(StorageCatchUp, "settle", 0)
    # The catch-up's own default applies, whatever the shared fixture sets.
    options = dict(config_entry.options)
    options.pop(CONF_BACKFILL_HOURS, None)
    hass.config_entries.async_update_entry(
        config_entry,
        data={**config_entry.data, CONF_PORT: link.port},
        options=options,
    )
    events: list[Event] = []
    hass.bus.async_listen(EVENT_UPLINK, events.append)
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
    assert bench.storage.requests == [{"order": "received_at", "last": "24h"}]
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

    missed: list[dict[str, Any]] = []

    def send_while_cut() -> None:
        for value in (21.0, 22.0, 23.0):
            missed.append(bench.sent("th-sensor-01", {"temperature": value}))
        missed.append(bench.sent("door-01", {"door_open": True}))

    await bench.async_cut_and_restore(send_while_cut)
    await async_wait_for(lambda: bench.coordinator.counters.backfilled == 4)
    await bench.async_caught_up()

    # Asked from a little before the last uplink processed: those came twice.
    assert set(bench.storage.requests[-1]) == {"order", "after"}
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


async def test_live_uplinks_during_a_catch_up_are_kept_once_and_newest(
    bench: Bench,
) -> None:
    """A live uplink during a catch-up is applied once; older fetched ones don't undo it."""
    await bench.async_setup()
    await bench.async_caught_up()
    bench.sent("th-sensor-01", {"temperature": 20.0})
    await async_wait_for(lambda: len(bench.events) == 1)

    missed: list[dict[str, Any]] = []

    def send_while_cut() -> None:
        for value in (21.0, 22.0):
            missed.append(bench.sent("th-sensor-01", {"temperature": value}))

    bench.storage.hold = True
    await bench.async_cut_and_restore(send_while_cut)
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
    assert set(bench.storage.requests[-1]) == {"order", "after"}
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
        DOMAIN, bench.coordinator.catch_up.issue_id
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
    monkeypatch.setattr(StorageCatchUp, "timeout", ClientTimeout(total=2.0))
    bench.storage.hang = True
    started = time.monotonic()
    await bench.async_setup()
    await bench.hass.async_block_till_done()
    assert time.monotonic() - started < 2.0
    assert bench.coordinator.ledger.catching_up

    bench.network.uplink("door-01", {"door_open": True})
    await async_wait_for(lambda: bench.events)
    await async_wait_for(lambda: not bench.coordinator.ledger.catching_up)
    assert len(_log_lines(caplog, "did not answer in time")) == 1

    await bench.async_cut_and_restore()
    await async_wait_for(lambda: len(bench.storage.requests) == 2)
    await async_wait_for(lambda: not bench.coordinator.ledger.catching_up)
    assert len(_log_lines(caplog, "did not answer in time")) == 1
    assert _our_issues(bench.hass) == []
    assert bench.entry.state is ConfigEntryState.LOADED
    assert bench.coordinator.devices["door-01"].fields["door_open"] is True


async def test_unload_cancels_a_catch_up_in_progress(bench: Bench) -> None:
    """Unloading during a catch-up cancels it; the harness fails on a lingering task."""
    bench.storage.hang = True
    await bench.async_setup()
    await async_wait_for(lambda: bench.storage.requests)
    assert bench.coordinator.ledger.catching_up
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
