"""The import's plain decisions: chunks of a run, fingerprints, ping back-off, and
the licence facts."""

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gumroad.errors import NotFoundError
from gumroad.importing import (
    CHUNK_MIN_DAYS,
    chunk_days,
    clamp_range,
    import_windows,
    next_chunk,
    payload_fingerprint,
    plan_writes,
    retry_delay_seconds,
    window_days,
)
from gumroad.licenses import gumroad_message, refund_rule_applies


def walk(date_from, date_to):
    days = chunk_days(date_from, date_to)
    chunk = next_chunk(date_from, date_to, days)
    chunks = []
    while chunk:
        chunks.append(chunk)
        chunk = next_chunk(chunk[1] + timedelta(days=1), date_to, days)
    return chunks


@pytest.mark.parametrize("span", [1, 27, 28, 29, 100, 400, 5000])
def test_chunks_cover_the_range_once_in_order(span):
    date_from = date(2024, 1, 1)
    date_to = date_from + timedelta(days=span - 1)
    chunks = walk(date_from, date_to)
    assert chunks[0][0] == date_from
    assert chunks[-1][1] == date_to
    for (_a, end), (start, _b) in itertools.pairwise(chunks):
        assert start == end + timedelta(days=1), "no gap, no overlap"
    assert len(chunks) <= 8
    assert all((end - start).days + 1 >= CHUNK_MIN_DAYS for start, end in chunks[:-1])


def test_a_small_range_is_one_chunk_and_a_long_one_at_most_eight():
    assert len(walk(date(2024, 1, 1), date(2024, 1, 28))) == 1
    assert len(walk(date(2011, 1, 1), date(2026, 12, 1))) == 8


@pytest.mark.parametrize(
    ("start", "end", "count"),
    [
        (date(2025, 3, 1), date(2025, 3, 1), 1),
        (date(2025, 1, 1), date(2025, 12, 31), 1),
        (date(2025, 12, 31), date(2026, 1, 1), 2),
        (date(2024, 10, 29), date(2026, 12, 3), 3),
        (date(2011, 4, 4), date(2026, 12, 3), 16),
    ],
)
def test_import_windows_are_the_calendar_years_of_the_range_in_order(start, end, count):
    windows = import_windows(start, end)
    assert len(windows) == count
    assert windows[0][0] == start
    assert windows[-1][1] == end
    for (_a, first_end), (second_start, _b) in itertools.pairwise(windows):
        assert second_start == first_end + timedelta(days=1)
        assert second_start.year == first_end.year + 1
    assert all(a.year == b.year for a, b in windows)


def test_no_chunk_once_the_position_is_past_the_end():
    assert next_chunk(date(2024, 2, 1), date(2024, 1, 31), 28) is None


def test_clamp_range_keeps_the_days_gumroad_can_have_sales_on():
    first, last = date(2011, 1, 1), date(2026, 12, 2)
    assert clamp_range(date(2000, 1, 1), date(2100, 1, 1), first, last) == (
        first,
        last,
    )
    assert clamp_range(date(2100, 1, 1), date(2100, 2, 1), first, last) is None


def test_window_days_gives_each_fetch_worker_two_windows_of_at_least_the_minimum():
    assert window_days(date(2024, 1, 1), date(2024, 1, 28), 4, 7) == 7
    assert window_days(date(2024, 1, 1), date(2024, 4, 9), 4, 7) == 13


def test_fingerprint_ignores_volatile_keys_only():
    sale = {"id": "a", "price": 100, "timestamp": "3 days ago", "license_uses": 1}
    same = dict(sale, timestamp="4 days ago", license_uses=9)
    assert payload_fingerprint(sale) == payload_fingerprint(same)
    assert payload_fingerprint(sale) != payload_fingerprint(dict(sale, price=50))


def test_ping_retry_back_off_grows_and_is_capped():
    delays = [retry_delay_seconds(n) for n in range(1, 10)]
    assert delays[:3] == [30.0, 60.0, 120.0]
    assert delays == sorted(delays)
    assert max(delays) == 3600.0


def test_gumroad_message_reads_the_json_body_of_an_error():
    err = NotFoundError(
        "x", body='{"success": false, "message": "The sale was not found."}'
    )
    assert gumroad_message(err) == "The sale was not found."
    assert gumroad_message(NotFoundError("x", body="")) is None
    assert gumroad_message(NotFoundError("x", body="[1]")) is None


@pytest.mark.parametrize(
    ("key", "refund", "dispute", "subscription", "raw", "applies"),
    [
        ("K", "full", "none", None, {}, True),
        ("K", "partial", "none", None, {}, False),
        ("K", "none", "open", None, {}, True),
        ("K", "none", "won", None, {}, False),
        (None, "full", "none", None, {}, False),
        ("K", "full", "none", "sub", {"dead": False}, False),
        ("K", "full", "none", "sub", {"dead": True}, True),
    ],
)
def test_the_licence_option_applies_to_lost_sales_and_ended_memberships(
    key, refund, dispute, subscription, raw, applies
):
    assert refund_rule_applies(key, refund, dispute, subscription, raw) is applies


def _apply(writes, rows):
    result = [{} for _row in range(rows)]
    for indexes, vals in writes:
        for index in indexes:
            assert not set(vals) & set(result[index]), "a field written twice"
            result[index].update(vals)
    return result


def test_plan_writes_writes_shared_values_once_and_the_rest_per_row():
    vals_list = [
        {"state": "booked", "net_amount": float(i), "error_message": False}
        for i in range(9)
    ] + [{"state": "error", "net_amount": 0.0, "error_message": "No currency"}]
    writes = plan_writes(vals_list, min_rows=8)
    assert writes[0] == (list(range(9)), {"state": "booked", "error_message": False})
    assert writes[1:] == [([i], {"net_amount": float(i)}) for i in range(9)] + [
        ([9], {"state": "error", "net_amount": 0.0, "error_message": "No currency"})
    ]


def test_plan_writes_of_a_few_rows_writes_them_one_by_one():
    vals_list = [{"state": "booked", "tags": [1]}, {"state": "booked", "tags": [1]}]
    assert plan_writes(vals_list, min_rows=8) == [
        ([0], {"state": "booked", "tags": [1]}),
        ([1], {"state": "booked", "tags": [1]}),
    ]
    assert plan_writes([]) == []


def test_plan_writes_writes_nested_values_row_by_row():
    # A sale's JSON is its own: it is not compared with the other rows' JSON.
    vals_list = [
        {"state": "booked", "raw_json": {"id": "s1", "card": {"type": "visa"}}}
        for _index in range(9)
    ]
    writes = plan_writes(vals_list, min_rows=8)
    assert writes[0] == (list(range(9)), {"state": "booked"})
    assert writes[1:] == [
        ([i], {"raw_json": vals_list[i]["raw_json"]}) for i in range(9)
    ]
    assert _apply(writes, 9) == vals_list


def test_plan_writes_tells_equal_values_of_other_types_apart():
    vals_list = [{"flag": True}, {"flag": 1}, {"flag": 1.0}, {"flag": True}]
    writes = plan_writes(vals_list, min_rows=2)
    assert writes[0] == ([0, 3], {"flag": True})
    assert _apply(writes, 4) == vals_list
    assert [type(vals["flag"]) for vals in _apply(writes, 4)] == [
        bool,
        int,
        float,
        bool,
    ]


_VALUES = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d"]),
    st.one_of(
        st.booleans(), st.integers(0, 2), st.lists(st.integers(0, 1), max_size=2)
    ),
)


@given(st.lists(_VALUES, max_size=12), st.integers(1, 4))
def test_plan_writes_gives_each_row_exactly_its_values(vals_list, min_rows):
    assert _apply(plan_writes(vals_list, min_rows), len(vals_list)) == vals_list
