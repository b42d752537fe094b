"""How an import walks a date range, and how a sale payload is recognised as unchanged.

Plain decisions of the import, kept apart from Odoo so they read and test on their own.
"""

import hashlib
import json
from datetime import date, timedelta

# Keys of a sale payload that change without the sale changing ("3 days ago",
# ratings, ...).
VOLATILE_KEYS = frozenset(
    {
        "timestamp",
        "daystamp",
        "product_rating",
        "reviews_count",
        "average_rating",
        "is_following",
        "can_contact",
        "sent_abandoned_cart_email",
        # Grows each time the buyer's software checks its key: not a change of the
        # sale. "Verify licence" reads the current count.
        "license_uses",
    }
)

# A run books its range chunk by chunk and records, after each complete chunk, the
# first day still to import: a run that stops (time budget, crash, Gumroad down) goes
# on from there. Chunks are big enough for the fetch workers to read several windows
# at once, and small enough that a resumed run re-reads little.
CHUNK_MIN_DAYS = 28
CHUNKS_PER_RUN = 8


def payload_fingerprint(payload: dict) -> str:
    """A stable digest of what Gumroad says about a sale, to detect 'nothing
    changed'.
    """
    stable = {k: v for k, v in payload.items() if k not in VOLATILE_KEYS}
    return hashlib.sha1(
        json.dumps(stable, sort_keys=True, default=str).encode(), usedforsecurity=False
    ).hexdigest()


def clamp_range(
    date_from: date, date_to: date, first_day: date, last_day: date
) -> tuple[date, date] | None:
    """The part of [date_from, date_to] where Gumroad can have sales, or None."""
    date_from, date_to = max(date_from, first_day), min(date_to, last_day)
    return (date_from, date_to) if date_from <= date_to else None


def chunk_days(date_from: date, date_to: date) -> int:
    """How many days one chunk of a run over [date_from, date_to] covers."""
    span = (date_to - date_from).days + 1
    return max(CHUNK_MIN_DAYS, -(-span // CHUNKS_PER_RUN))


def next_chunk(position: date, date_to: date, days: int) -> tuple[date, date] | None:
    """The chunk that starts at `position`, or None once the range is done."""
    if position > date_to:
        return None
    return position, min(date_to, position + timedelta(days=days - 1))


def window_days(date_from: date, date_to: date, workers: int, min_days: int) -> int:
    """Size of the date windows the fetch workers read a chunk in: one per worker,
    twice over (a window too big for Gumroad's query timeout is split by the client).
    """
    span = (date_to - date_from).days + 1
    return max(min_days, -(-span // (2 * workers)))


def import_windows(date_from: date, date_to: date) -> list[tuple[date, date]]:
    """Cut [date_from, date_to] into one window per calendar year.

    Odoo numbers posted entries without gaps per journal and year (INV/2026/00001):
    a transaction that posts an entry holds the next number of that year until it
    commits, so two workers booking the same year wait on each other, while two
    years are booked side by side.
    """
    windows = []
    start = date_from
    while start <= date_to:
        end = min(date_to, date(start.year, 12, 31))
        windows.append((start, end))
        start = end + timedelta(days=1)
    return windows


def retry_delay_seconds(attempt: int, base: float = 30.0, cap: float = 3600.0) -> float:
    """Back-off before retry number `attempt` (1, 2, ...) of a ping that failed for a
    passing reason: 30 s, 1 min, 2 min, ... at most an hour.
    """
    return min(cap, base * 2 ** max(attempt - 1, 0))


def plan_writes(vals_list: list[dict], min_rows: int = 8) -> list[tuple[list, dict]]:
    """The writes that give each row of a batch its values: [(row indexes, values)].

    An ORM write costs per field and per call, whatever the number of rows, and the
    rows of a batch share most of their values (state, modes, the many empty facts
    of a typical sale). Each field's most frequent value is written once to the rows
    that have it (at least `min_rows` of them; fields of the same rows together),
    what is left row by row.
    """
    by_key = {}
    for index, vals in enumerate(vals_list):
        for key, value in vals.items():
            by_key.setdefault(key, {}).setdefault(_value_token(value), []).append(index)
    shared, taken = {}, [set() for _vals in vals_list]
    for key, tokens in by_key.items():
        indexes = max(tokens.values(), key=len)
        if len(indexes) >= max(min_rows, 2):
            shared.setdefault(tuple(indexes), {})[key] = vals_list[indexes[0]][key]
            for index in indexes:
                taken[index].add(key)
    writes = [(list(indexes), vals) for indexes, vals in shared.items()]
    for index, vals in enumerate(vals_list):
        rest = {key: value for key, value in vals.items() if key not in taken[index]}
        if rest:
            writes.append(([index], rest))
    return writes


def _value_token(value):
    """A hashable stand-in of a value, equal for equal values of the same type.

    A nested value (a sale's JSON, its planned summary parts) is one sale's own:
    serialising it only to compare it costs more than writing it, so it stands for
    itself alone.
    """
    try:
        hash(value)
    except TypeError:
        items = value.values() if isinstance(value, dict) else value
        if any(isinstance(item, (dict, list, tuple, set)) for item in items):
            return ("nested", id(value))
        return (type(value).__name__, json.dumps(value, sort_keys=True, default=repr))
    return (type(value).__name__, value)
