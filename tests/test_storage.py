"""The Storage Integration's protocol: reading the stream, the query, and the ledger.

No Home Assistant here; test_backfill.py runs the catch-up itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from custom_components.ttn_mqtt.protocol.messages import Uplink, parse_application_up
from custom_components.ttn_mqtt.protocol.storage import (
    StoredStreamError,
    StoredUplinkReader,
    UplinkLedger,
    storage_query,
)


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
            b"\n",
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
    assert reader.skipped == 4


def test_reader_skips_a_line_too_long_in_one_chunk_as_in_many() -> None:
    """A line longer than any uplink is skipped, however the stream cut it."""
    too_long = {**_message("dev-1", 1, "2024-07-06T09:00:00Z"), "pad": "x" * 300_000}
    body = _line(too_long) + _line(_message("dev-1", 2, "2024-07-06T09:00:02Z"))
    for size in (len(body), 4096):
        reader = StoredUplinkReader()
        uplinks = []
        for start in range(0, len(body), size):
            uplinks += reader.feed(body[start : start + size])
        uplinks += reader.close()
        assert [u.f_cnt for u in uplinks] == [2], size
        assert reader.skipped == 1, size


def test_query_asks_after_the_last_processed_but_not_before_the_hours() -> None:
    """After a time when known; the last N hours on a first run or after a long absence.

    Always `after` (and a page's `limit`), never the deprecated `last`.
    """
    now = datetime(2024, 7, 6, 12, 0, tzinfo=UTC)
    day_before = {
        "order": "received_at",
        "after": "2024-07-05T12:00:00Z",
        "limit": "100",
    }
    assert storage_query(None, 24, now, 100) == day_before
    recent = datetime(2024, 7, 6, 11, 0, 0, 500000, tzinfo=UTC)
    assert storage_query(recent, 24, now, 100) == {
        "order": "received_at",
        "after": "2024-07-06T11:00:00.500000Z",
        "limit": "100",
    }
    assert storage_query(now - timedelta(hours=25), 24, now, 100) == day_before


def test_an_error_in_the_stream_fails_the_fetch() -> None:
    """{"error": ...} ends a stream that failed midway: not a line to skip."""
    reader = StoredUplinkReader()
    ok = reader.feed(_line(_message("dev-1", 1, "2024-07-06T09:00:00Z")))
    assert [u.f_cnt for u in ok] == [1]
    with pytest.raises(StoredStreamError, match="unavailable"):
        reader.feed(b'{"error": {"code": 14, "message": "unavailable"}}\n\n')


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
