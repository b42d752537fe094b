"""How a Gumroad sale maps to invoices and credit notes (decisions only, no I/O).

A sale has a target: what to invoice and what the seller keeps now. The Odoo layer
records what it booked (invoice, credit notes, re-invoices) and `plan_adjustments`
says what to book next so that the booked net equals the target, whatever order the
refunds and disputes were seen in. Running it again once booked gives [].
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from .sales import Sale

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MODES = ("usd", "listed")


@dataclass(frozen=True)
class SaleTarget:
    """What the books should say about one sale."""

    currency: str
    invoice_amount: Decimal
    net_amount: Decimal
    state: str


@dataclass(frozen=True)
class Adjustment:
    """One move to book: "invoice", "credit_note" or "reinvoice", amount > 0."""

    kind: str
    amount: Decimal
    reason: str


def _cents(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def sale_target(
    sale: Sale, *, mode: str = "usd", listed_currency: str | None = None
) -> SaleTarget:
    """The invoice and net amounts of a sale, in USD or in its listed currency.

    `listed_currency` is the fallback for "listed" mode when the sale does not say
    (Gumroad's `currency` key is new), typically the product's currency.
    """
    if mode == "usd":
        currency = "USD"
        invoice_amount, refunded = sale.price_usd, sale.usd_refunded
    elif mode == "listed":
        currency = (sale.listed_currency or listed_currency or "USD").upper()
        invoice_amount, refunded = sale.listed_total, sale.listed_refunded
    else:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    invoice_amount = _cents(invoice_amount)
    if sale.is_preorder_authorization:
        # Gumroad charged nothing yet: nothing to invoice (the release is a new sale).
        return SaleTarget(currency, ZERO, ZERO, "authorized")
    if sale.refund_state == "full" or sale.dispute_state == "open":
        # A chargeback takes the whole payment back, whatever was refunded before.
        net_amount = ZERO
    else:
        net_amount = min(max(invoice_amount - _cents(refunded), ZERO), invoice_amount)
    if invoice_amount == 0:
        state = "skipped"
    elif net_amount == 0:
        state = "reversed"
    elif net_amount < invoice_amount:
        state = "adjusted"
    else:
        state = "invoiced"
    return SaleTarget(currency, invoice_amount, net_amount, state)


def plan_adjustments(
    target: SaleTarget,
    *,
    invoiced: Decimal,
    credited: Decimal,
    reinvoiced: Decimal,
    sale: Sale,
) -> list[Adjustment]:
    """The moves that bring booked net (invoiced + reinvoiced - credited) to target.

    No invoice yet: an invoice for the full amount first (and a credit note when the
    sale is first seen already refunded), so the books show what happened.
    """
    invoiced, credited, reinvoiced = (
        _cents(invoiced or 0),
        _cents(credited or 0),
        _cents(reinvoiced or 0),
    )
    plan = []
    if invoiced == 0:
        if target.invoice_amount == 0:
            return []  # "skipped" or "authorized": recorded, never invoiced
        plan.append(Adjustment("invoice", target.invoice_amount, "sale"))
        invoiced = target.invoice_amount
    difference = target.net_amount - (invoiced + reinvoiced - credited)
    if difference < 0:
        plan.append(Adjustment("credit_note", -difference, _credit_reason(sale)))
    elif difference > 0:
        plan.append(Adjustment("reinvoice", difference, _reinvoice_reason(sale)))
    return plan


def _credit_reason(sale: Sale) -> str:
    if sale.refund_state == "full":
        return "full refund"
    if sale.dispute_state == "open":
        return "dispute"
    if sale.refund_state == "partial":
        return "partial refund"
    return "sale"  # the amounts themselves changed (e.g. booking mode corrected)


def _reinvoice_reason(sale: Sale) -> str:
    return "dispute won" if sale.dispute_state == "won" else "sale"


def date_windows(date_from: date, date_to: date, days: int) -> list[tuple[date, date]]:
    """Split date_from..date_to (inclusive) into [after, before) windows, newest first.

    Gumroad's `after` includes its whole UTC day and `before` excludes its own, so
    (after, before) pairs tile the range exactly.
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days!r}")
    windows = []
    before = date_to + timedelta(days=1)
    while before > date_from:
        after = max(before - timedelta(days=days), date_from)
        windows.append((after, before))
        before = after
    return windows
