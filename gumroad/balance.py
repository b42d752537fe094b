"""What one sale does to the seller's Gumroad balance (decisions only, no I/O).

Gumroad collects the buyer's money and owes it to the seller, less its fee, until a
payout. Per sale, in USD (the currency of the balance and of payouts):

* collected: `price` (USD cents), what Gumroad charged the buyer for the seller;
* returned: what went back to the buyer, a refund's USD share or, while a
  chargeback is open, the whole price;
* fee: Gumroad's fee as far as the sale still pays it. Gumroad takes its fee out of
  what the sale leaves the seller, so the fee never exceeds the money kept and a
  fully refunded or charged-back sale costs nothing.

The seller's earnings are collected - returned - fee; a payout pays earnings. The Odoo
layer records what it booked and `plan_money` says what to book next so that booked
equals target in any order of events; running it again once booked gives None.
"""

from dataclasses import dataclass
from decimal import Decimal

from .accounting import CENT, ZERO, _cents
from .sales import Sale


@dataclass(frozen=True)
class SaleMoney:
    """USD amounts of one sale on the Gumroad balance (all >= 0)."""

    collected: Decimal = ZERO
    returned: Decimal = ZERO
    fee: Decimal = ZERO

    @property
    def kept(self) -> Decimal:
        """What the buyer finally paid: collected - returned."""
        return self.collected - self.returned

    @property
    def earnings(self) -> Decimal:
        """What Gumroad owes the seller for the sale: kept - fee."""
        return self.kept - self.fee


@dataclass(frozen=True)
class MoneyMove:
    """The change to book on the balance for one sale (signed deltas, USD).

    `kept` moves the revenue side (receivable or income), `fee` the fee expense,
    and the Gumroad balance moves by `kept - fee` (the two together).
    """

    collected: Decimal
    returned: Decimal
    fee: Decimal

    @property
    def kept(self) -> Decimal:
        return self.collected - self.returned

    @property
    def balance(self) -> Decimal:
        return self.kept - self.fee

    @property
    def reason(self) -> str:
        """A one-word label for the entry: what the change mostly is."""
        if self.collected > 0 and self.returned <= 0:
            return "sale"
        if self.returned > 0:
            return "refund"
        if self.returned < 0:
            return "dispute won"
        return "fee"


def sale_money(sale: Sale) -> SaleMoney:
    """The sale's target on the Gumroad balance, from Gumroad's own flags."""
    collected = _cents(sale.price_usd) if sale.paid else ZERO
    if collected == 0:
        return SaleMoney()
    if sale.refund_state == "full" or sale.dispute_state == "open":
        returned = collected
    else:
        returned = min(_cents(sale.usd_refunded), collected)
    kept = collected - returned
    fee = min(_cents(sale.gumroad_fee_usd), kept)
    return SaleMoney(collected=collected, returned=returned, fee=max(fee, ZERO))


def plan_money(target: SaleMoney, booked: SaleMoney) -> MoneyMove | None:
    """The change that brings what was booked to the target, or None when equal."""
    move = MoneyMove(
        collected=_cents(target.collected - booked.collected),
        returned=_cents(target.returned - booked.returned),
        fee=_cents(target.fee - booked.fee),
    )
    if not (move.collected or move.returned or move.fee):
        return None
    return move


def split_payout(
    amount: Decimal, sale_earnings: dict[str, Decimal]
) -> tuple[dict[str, Decimal], Decimal]:
    """Lines of a self-billing invoice for a payout: each sale's earnings, and the
    rest (refunds and disputes of sales paid out before, rounding) as one amount.

    The lines always add up to the payout's amount.
    """
    amount = _cents(amount)
    lines = {sale_id: _cents(value) for sale_id, value in sale_earnings.items()}
    rest = amount - sum(lines.values(), ZERO)
    return lines, rest.quantize(CENT)
