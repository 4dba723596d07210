"""The Storage Integration's protocol: reading the stream, the query, and the ledger.

No Home Assistant here; test_backfill.py runs the catch-up itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
import tracemalloc
from typing import Any

import orjson
import pytest

from custom_components.ttn_mqtt.protocol.messages import (
    MAX_MESSAGE_BYTES,
    Uplink,
    parse_application_up,
)
from custom_components.ttn_mqtt.protocol.storage_integration import (
    StoredStreamError,
    StoredUplinkReader,
    storage_query,
    storage_uplinks_path,
)
from custom_components.ttn_mqtt.protocol.uplink_ledger import UplinkLedger, is_older

PLUS_TWO = timezone(timedelta(hours=2))


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


def _read(*chunks: bytes) -> tuple[list[int | None], int]:
    """Feed the chunks and close; return the f_cnt of each uplink, and lines skipped."""
    reader = StoredUplinkReader()
    uplinks = [uplink for chunk in chunks for uplink in reader.feed(chunk)]
    uplinks += reader.close()
    return [uplink.f_cnt for uplink in uplinks], reader.skipped


def _undated(device_id: str, f_cnt: int) -> Uplink:
    message = _message(device_id, f_cnt, "2024-07-06T09:00:00Z")
    del message["received_at"]
    uplink = parse_application_up(message)
    assert isinstance(uplink, Uplink)
    return uplink


def test_the_path_is_the_storage_integrations() -> None:
    """GET /api/v3/as/applications/{id}/packages/storage/uplink_message, a valid ID only."""
    assert storage_uplinks_path("test-app") == (
        "/api/v3/as/applications/test-app/packages/storage/uplink_message"
    )
    with pytest.raises(ValueError, match="invalid application id"):
        storage_uplinks_path("test-app/../users")


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


def test_a_body_with_blank_lines() -> None:
    """Records separated by a blank line (text/event-stream), before and after too."""
    first = _line(_message("dev-1", 1, "2024-07-06T09:00:00Z"))
    second = _line(_message("dev-1", 2, "2024-07-06T09:00:01Z"))
    assert _read(b"\n" + first + b"\n" + second + b"\n\n") == ([1, 2], 0)
    assert _read(b"\n", first, b"\n", b"\n", second, b"\n") == ([1, 2], 0)


def test_a_line_too_long_then_two_good_lines_in_the_last_chunk() -> None:
    """The end of the long line is dropped; the lines after it in the chunk are kept."""
    too_long = _line(
        {**_message("dev-1", 1, "2024-07-06T09:00:00Z"), "pad": "x" * 300_000}
    )
    good = [
        _line(_message("dev-1", f_cnt, f"2024-07-06T09:00:0{f_cnt}Z"))
        for f_cnt in (2, 3)
    ]
    last = too_long[280_000:] + good[0] + good[1].rstrip(b"\n")
    assert _read(too_long[:280_000], last) == ([2, 3], 1)


def test_a_line_too_long_that_ends_with_its_chunk() -> None:
    """Counted once, when it grows too long, whatever comes after."""
    good = _line(_message("dev-1", 2, "2024-07-06T09:00:02Z"))
    too_long = b'{"result": "' + b"x" * (MAX_MESSAGE_BYTES + 10) + b'"}'
    assert _read(too_long, b"\n" + good) == ([2], 1)
    assert _read(too_long[:200_000], too_long[200_000:], b"\n", good) == ([2], 1)


def test_the_longest_line_is_read() -> None:
    """A line of MAX_MESSAGE_BYTES is read, even waiting for its newline."""
    message = _message("dev-1", 1, "2024-07-06T09:00:00Z")
    message["pad"] = ""
    message["pad"] = "x" * (MAX_MESSAGE_BYTES - len(_line(message)) + 1)
    line = _line(message)
    assert len(line) == MAX_MESSAGE_BYTES + 1  # its newline
    assert _read(line[:-1], line[-1:]) == ([1], 0)


def test_a_line_that_never_ends_costs_one_message_of_memory() -> None:
    """20 MB without a newline: what is held stays about one message long."""
    reader = StoredUplinkReader()
    chunk = b"x" * 65536
    tracemalloc.start()
    try:
        for _ in range(320):
            assert reader.feed(chunk) == []
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * MAX_MESSAGE_BYTES
    assert reader.skipped == 1


def test_a_line_without_a_result_is_skipped() -> None:
    line = _line(_message("dev-1", 1, "2024-07-06T09:00:00Z"))
    assert _read(b'{"results": []}\n[]\n' + line) == ([1], 2)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        ({"code": 14, "message": "unavailable"}, "unavailable"),
        ("unavailable", "unavailable"),
        ({"code": 14}, "{'code': 14}"),
    ],
)
def test_the_stream_errors_message(error: Any, message: str) -> None:
    """The fetch fails with the server's message, or the whole error without one."""
    reader = StoredUplinkReader()
    with pytest.raises(StoredStreamError) as err:
        reader.feed(orjson.dumps({"error": error}) + b"\n")
    assert str(err.value) == message


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


def test_query_times_in_another_zone_or_none_are_their_utc_instant() -> None:
    """Said in UTC with a Z, whatever zone the times came in; a naive one is UTC."""
    now = datetime(2024, 7, 6, 14, 0, tzinfo=PLUS_TWO)
    after = datetime(2024, 7, 6, 13, 0, tzinfo=PLUS_TWO)
    assert storage_query(after, 24, now, 100)["after"] == "2024-07-06T11:00:00Z"
    naive = datetime(2024, 7, 6, 11, 0)
    assert storage_query(naive, 24, now, 100)["after"] == "2024-07-06T11:00:00Z"
    assert storage_query(None, 1, now, 100)["after"] == "2024-07-06T11:00:00Z"


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
    assert ledger.add(_uplink("dev-1", 5, "2024-07-06T09:00:00Z")) is True
    assert (
        ledger.add(_uplink("dev-1", 5, "2024-07-06T09:00:00Z"), fetched=True) is False
    )
    # The same instant in another zone is the same uplink.
    assert not ledger.add(_uplink("dev-1", 5, "2024-07-06T11:00:00+02:00"))
    assert ledger.add(_uplink("dev-2", 5, "2024-07-06T09:00:00Z"))
    # After a rejoin the frame counter starts again: same f_cnt, another uplink.
    assert ledger.add(_uplink("dev-1", 5, "2024-07-06T09:00:03Z"))
    assert ledger.add(_uplink("dev-1", None, "2024-07-06T09:00:04Z"))
    assert not ledger.add(_uplink("dev-1", None, "2024-07-06T09:00:04Z"))


def test_ledger_holds_its_place_while_a_gap_is_filled() -> None:
    """Live uplinks after a gap do not move processed_until; fetched ones do, in order."""
    ledger = UplinkLedger()
    ledger.add(_uplink("dev-1", 1, "2024-07-06T09:00:00Z"))
    assert ledger.start_backfill() == datetime(2024, 7, 6, 8, 59, 50, tzinfo=UTC)

    ledger.add(_uplink("dev-1", 9, "2024-07-06T10:00:00Z"))
    assert ledger.processed_until == datetime(2024, 7, 6, 9, 0, tzinfo=UTC)
    ledger.add(_uplink("dev-1", 2, "2024-07-06T09:30:00Z"), fetched=True)
    assert ledger.processed_until == datetime(2024, 7, 6, 9, 30, tzinfo=UTC)
    # The live uplink is still known: fetched again, it is a duplicate.
    assert not ledger.add(_uplink("dev-1", 9, "2024-07-06T10:00:00Z"), fetched=True)

    ledger.finish_backfill()
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


def test_an_undated_uplink_is_applied_every_time() -> None:
    """Without received_at an uplink cannot be told from another: each is applied."""
    ledger = UplinkLedger()
    assert ledger.add(_undated("dev-1", 5)) is True
    assert ledger.add(_undated("dev-1", 5)) is True
    assert ledger.add(_undated("dev-1", 5), fetched=True) is True
    assert ledger.processed_until is None


def test_a_time_in_another_zone_is_its_utc_instant_in_the_ledger() -> None:
    """Where the next catch-up starts is the same instant, said in UTC."""
    ledger = UplinkLedger(datetime(2024, 7, 6, 11, 0, tzinfo=PLUS_TWO))
    assert ledger.processed_until == datetime(2024, 7, 6, 9, 0, tzinfo=UTC)
    assert ledger.as_dict()["processed_until"] == "2024-07-06T09:00:00+00:00"
    assert UplinkLedger(datetime(2024, 7, 6, 9, 0)).processed_until == (
        datetime(2024, 7, 6, 9, 0, tzinfo=UTC)
    )
    restored = UplinkLedger.from_dict(
        {
            "processed_until": "2024-07-06T11:00:00+02:00",
            "keys": [["dev-1", 1, "2024-07-06T11:00:00+02:00"]],
        }
    )
    assert restored.processed_until == datetime(2024, 7, 6, 9, 0, tzinfo=UTC)
    assert not restored.add(_uplink("dev-1", 1, "2024-07-06T09:00:00Z"))


def test_ledger_keeps_the_overlap_and_forgets_what_is_older() -> None:
    """A key exactly OVERLAP before the newest is kept; an older one is forgotten."""
    ledger = UplinkLedger()
    ledger.add(_uplink("dev-1", 1, "2024-07-06T09:00:00Z"))
    ledger.add(_uplink("dev-1", 2, "2024-07-06T09:00:05Z"))
    ledger.add(_uplink("dev-1", 3, "2024-07-06T09:00:10Z"))
    assert not ledger.add(_uplink("dev-1", 1, "2024-07-06T09:00:00Z"), fetched=True)
    ledger.add(_uplink("dev-1", 4, "2024-07-06T09:00:15Z"))
    # Before the next catch-up's start: not asked for again, not remembered.
    assert ledger.add(_uplink("dev-1", 1, "2024-07-06T09:00:00Z"), fetched=True)
    assert not ledger.add(_uplink("dev-1", 2, "2024-07-06T09:00:05Z"), fetched=True)


def test_ledger_keys_are_bounded() -> None:
    """Past MAX_KEYS, the oldest key is forgotten first."""
    ledger = UplinkLedger()
    ledger.start_backfill()
    count = UplinkLedger.MAX_KEYS
    for f_cnt in range(count):
        ledger.add(_uplink("dev-1", f_cnt, "2024-07-06T09:00:00Z"))
    assert not ledger.add(_uplink("dev-1", 0, "2024-07-06T09:00:00Z"))
    ledger.add(_uplink("dev-1", count, "2024-07-06T09:00:00Z"))
    assert ledger.add(_uplink("dev-1", 0, "2024-07-06T09:00:00Z"))
    assert not ledger.add(_uplink("dev-1", count, "2024-07-06T09:00:00Z"))


def test_ledger_never_goes_further_than_a_minute_past_now() -> None:
    """A clock a day ahead: the next catch-up starts about now, not tomorrow."""
    ledger = UplinkLedger()
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    before = datetime.now(UTC)
    ledger.add(_uplink("dev-1", 1, tomorrow.isoformat()))
    after = datetime.now(UTC)
    assert ledger.processed_until is not None
    assert before + timedelta(minutes=1) <= ledger.processed_until
    assert ledger.processed_until <= after + timedelta(minutes=1)


def test_a_stored_ledger_keeps_its_times_within_bounds() -> None:
    """Go's zero time stored by an older version is no time; 2015 to 9000 are kept."""
    ledger = UplinkLedger.from_dict(
        {
            "processed_until": "0001-01-01T00:00:00+00:00",
            "keys": [
                ["dev-1", 1, "0001-01-01T00:00:00+00:00"],
                ["dev-1", 2, "2015-01-01T00:00:00+00:00"],
                ["dev-1", 3, "9000-01-01T00:00:00+00:00"],
            ],
        }
    )
    assert ledger.processed_until is None
    assert ledger.as_dict()["keys"] == [
        ["dev-1", 2, "2015-01-01T00:00:00+00:00"],
        ["dev-1", 3, "9000-01-01T00:00:00+00:00"],
    ]
    for bound in ("2015-01-01T00:00:00+00:00", "9000-01-01T00:00:00+00:00"):
        kept = UplinkLedger.from_dict({"processed_until": bound, "keys": []})
        assert kept.processed_until == datetime.fromisoformat(bound)
    assert UplinkLedger.from_dict({"processed_until": None}).processed_until is None


def test_is_older() -> None:
    """Only two dated uplinks are older or not; the same time is not older."""
    early = _uplink("dev-1", 1, "2024-07-06T09:00:00Z")
    late = _uplink("dev-1", 2, "2024-07-06T09:00:01Z")
    assert is_older(early, late) is True
    assert is_older(late, early) is False
    assert is_older(early, early) is False
    assert is_older(early, None) is False
    assert is_older(_undated("dev-1", 3), late) is False
    assert is_older(early, _undated("dev-1", 3)) is False
