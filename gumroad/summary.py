"""The sales summary of Gumroad's API v2 (`GET /v2/sales/summary`).

`Api::V2::SalesSummary#as_json`: charged sales of the seller between `from` and `to`
(days in the seller's timezone, both included), refunded and charged-back sales kept
in. Amounts are USD cents (`currency` is "usd"); `net_cents` is gross less refunds,
not less Gumroad's fees. With `group_by` a `breakdown` lists the same five numbers
per product, day, week, month or hour, each with its `key` and `label`.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from .errors import MalformedPayloadError
from .money import cents_to_decimal

COUNTS = ("gross_cents", "net_cents", "units", "refunded_cents", "refunded_units")


@dataclass(frozen=True)
class SummaryFigures:
    gross_cents: int
    net_cents: int
    units: int
    refunded_cents: int
    refunded_units: int
    key: str | None = None  # breakdown items only: product id, "2026-07-14", ...
    label: str | None = None  # product name, or the key again for dates

    @property
    def gross(self) -> Decimal:
        return cents_to_decimal(self.gross_cents)

    @property
    def net(self) -> Decimal:
        return cents_to_decimal(self.net_cents)

    @property
    def refunded(self) -> Decimal:
        return cents_to_decimal(self.refunded_cents)


@dataclass(frozen=True)
class SalesSummary:
    totals: SummaryFigures
    currency: str  # upper case, "USD"
    date_from: date
    date_to: date
    breakdown: tuple[SummaryFigures, ...] | None = None  # None without group_by
    raw: dict = field(default_factory=dict, hash=False, repr=False)


def parse_sales_summary(data) -> SalesSummary:
    """Read a `GET /sales/summary` answer; raises MalformedPayloadError naming the
    key at fault."""
    if not isinstance(data, Mapping):
        raise MalformedPayloadError(
            f"A sales summary must be a JSON object, not {type(data).__name__}.",
            field=None,
        )
    currency = data.get("currency")
    if not isinstance(currency, str) or not currency.strip():
        raise _malformed("currency", "is missing", currency)
    breakdown = data.get("breakdown")
    if breakdown is not None:
        if not isinstance(breakdown, list):
            raise _malformed("breakdown", "is not a list", breakdown)
        breakdown = tuple(_figures(item, "breakdown", keyed=True) for item in breakdown)
    return SalesSummary(
        totals=_figures(data, None),
        currency=currency.strip().upper(),
        date_from=_date(data, "from"),
        date_to=_date(data, "to"),
        breakdown=breakdown,
        raw=dict(data),
    )


def _malformed(key, problem, value):
    shown = "" if value is None else f" ({value!r:.80})"
    return MalformedPayloadError(f"Sales summary: '{key}' {problem}{shown}.", field=key)


def _figures(data, where, *, keyed=False):
    if not isinstance(data, Mapping):
        raise _malformed(where, "holds an item that is not an object", data)
    values = {}
    for key in COUNTS:
        value = data.get(key)
        # bool is an int in Python; JSON true/false is no count.
        if not isinstance(value, int) or isinstance(value, bool):
            name = f"{where}.{key}" if where else key
            raise _malformed(name, "is not an integer", value)
        values[key] = value
    if keyed:
        for key in ("key", "label"):
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                raise _malformed(f"{where}.{key}", "is not a string", value)
            values[key] = value
    return SummaryFigures(**values)


def _date(data, key):
    value = data.get(key)
    if not isinstance(value, str):
        raise _malformed(key, "is not a date string", value)
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise _malformed(key, "is not a YYYY-MM-DD date", value) from None
