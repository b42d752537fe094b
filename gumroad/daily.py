"""Daily summaries: how the moves of many sales merge into one move per day (no I/O).

In the "daily summaries" accounting mode, each sale's change is first planned as the
per-sale mode would book it (its invoice, credit note or balance entry, each a
"part" with its day and its lines), then kept on the sale until its day has ended.
Booking a day merges the parts of that day: one invoice per day and currency, one
credit note of the day's refunds and chargebacks, one balance entry per day and
journal. Lines merge when they are the same line but for their amount (product,
account, taxes, analytic distribution, label), so a summary line stands for the
sales of one product, and every part knows the summary line it went into.

Amounts add up in Decimal cents, so a summary is exactly the sum of its sales.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

CENT = Decimal("0.01")
INVOICE_TYPES = ("out_invoice", "out_refund")
# The per-sale labels name the sale ("Gumroad fee: GR-123"); a summary line stands
# for many sales.
_SALE_REF = re.compile(r":? ?GR-[^\s:]+$")
_QUANTITY = re.compile(r" \(Qty: \d+\)$")


def _dec(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@dataclass
class SummaryLine:
    """One merged line: `vals` without the amounts, the summed amounts, the parts."""

    vals: dict
    quantity: Decimal = Decimal(0)
    amount: Decimal = Decimal("0.00")  # invoices: quantity x price, tax excluded
    amount_currency: Decimal = Decimal("0.00")  # entries
    balance: Decimal = Decimal("0.00")  # entries, company currency
    count: int = 0  # how many parts' lines went into it
    sources: list = field(default_factory=list)  # the part keys it holds


@dataclass
class Summary:
    """One summary move: what the parts of one day, type, journal and currency
    merge into."""

    move_type: str
    day: date
    journal_id: int
    currency_id: int | None
    lines: list = field(default_factory=list)
    seller_tax: Decimal = Decimal("0.00")
    sources: list = field(default_factory=list)
    index: dict = field(default_factory=dict, repr=False)  # line key -> line

    @property
    def key(self):
        return (self.move_type, self.day, self.journal_id, self.currency_id or 0)


def summary_label(name: str) -> str:
    """A per-sale line label as a summary line's: without the sale's reference and
    the per-sale quantity note."""
    name = _QUANTITY.sub("", name or "")
    return _SALE_REF.sub("", name).strip() or name


def _line_key(move_type, line):
    common = (
        summary_label(line.get("name", "")),
        line.get("account_id") or 0,
        _canonical(line.get("tax_ids") or []),
        _canonical(line.get("analytic_distribution") or {}),
    )
    if move_type in INVOICE_TYPES:
        return (*common, line.get("product_id") or 0)
    return (
        *common,
        line.get("partner_id") or 0,
        line.get("currency_id") or 0,
        line.get("tax_repartition_line_id") or 0,
    )


def part_day(part) -> date:
    return date.fromisoformat(part["day"])


def split_due(parts, through: date):
    """(the parts whose day is at most `through`, the others)."""
    due, later = [], []
    for part in parts:
        (due if part_day(part) <= through else later).append(part)
    return due, later


def merge_parts(keyed_parts):
    """Merge parts into summaries.

    :param keyed_parts: iterable of (source key, part); a part is a dict with
        move_type, day (ISO), journal_id, currency_id (invoices), lines (the per-sale
        move's line values) and seller_tax (the exact seller tax of an invoice part)
    :return: the summaries, in (day, type, journal, currency) order; each line's
        `sources` lists the source keys of the parts whose lines it holds
    """
    summaries = {}
    for source, part in keyed_parts:
        summary = Summary(
            move_type=part["move_type"],
            day=part_day(part),
            journal_id=part["journal_id"],
            currency_id=part.get("currency_id")
            if part["move_type"] in INVOICE_TYPES
            else None,
        )
        summary = summaries.setdefault(summary.key, summary)
        summary.sources.append(source)
        summary.seller_tax += _dec(part.get("seller_tax"))
        index = summary.index
        for vals in part["lines"]:
            key = _line_key(summary.move_type, vals)
            line = index.get(key)
            if line is None:
                kept = {
                    name: value
                    for name, value in vals.items()
                    if name
                    not in ("quantity", "price_unit", "amount_currency", "balance")
                }
                kept["name"] = summary_label(vals.get("name", ""))
                line = index[key] = SummaryLine(vals=kept)
                summary.lines.append(line)
            if summary.move_type in INVOICE_TYPES:
                quantity = Decimal(str(vals.get("quantity") or 1))
                line.quantity += quantity
                line.amount += (quantity * Decimal(str(vals["price_unit"]))).quantize(
                    CENT
                )
            else:
                line.amount_currency += _dec(vals.get("amount_currency"))
                line.balance += _dec(vals.get("balance"))
            line.count += 1
            if source not in line.sources:
                line.sources.append(source)
    return sorted(
        summaries.values(),
        key=lambda s: (s.day, s.move_type, s.journal_id, s.currency_id or 0),
    )


def invoice_line_values(line: SummaryLine) -> dict:
    """Odoo values of a merged invoice line: the units at one price when that is
    exact to the cent, else one line of the whole amount naming the units."""
    vals = dict(line.vals)
    quantity = line.quantity if line.quantity > 0 else Decimal(1)
    unit = line.amount / quantity
    if quantity == quantity.to_integral_value() and unit == unit.quantize(CENT):
        vals.update(quantity=float(quantity), price_unit=float(unit))
    else:
        vals.update(quantity=1.0, price_unit=float(line.amount))
        if quantity != 1:
            vals["name"] = f"{vals['name']} (Qty: {quantity.normalize():f})"
    return vals


def entry_line_values(line: SummaryLine) -> dict:
    vals = dict(line.vals)
    vals.update(
        amount_currency=float(line.amount_currency), balance=float(line.balance)
    )
    return vals


def nonzero_lines(summary: Summary) -> list:
    """The lines that move something (a refund and a sale of one day may cancel out
    on an entry's line)."""
    if summary.move_type in INVOICE_TYPES:
        return [line for line in summary.lines if line.amount or line.quantity]
    return [line for line in summary.lines if line.amount_currency or line.balance]
