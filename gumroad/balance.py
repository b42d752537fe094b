"""What one sale does to the seller's money (decisions only, no I/O).

Per sale, in USD cents as Gumroad counts them (readme/GUMROAD_MONEY.md; the rules
G1-G8 of issue #17):

* collected: `price`, what the buyer paid for the seller (Gumroad-collected tax is
  outside it and never the seller's);
* returned: what went back to the buyer (refunds, an open chargeback);
* fee: Gumroad's fee the sale still pays (`gumroad_fee`, given back pro rata
  floored on partial refunds, refundable.rb:255, whole on a full refund or a
  chargeback);
* affiliate: the affiliate's credit the sale still pays (purchase.rb:1832-1866;
  on partial refunds the connector's estimate, pro rata, see GUMROAD_MONEY.md);
* retained: the processor fee Gumroad keeps on refunds (credit.rb
  create_for_refund_fee_retention!, the fallback formula: the sale JSON of a
  Gumroad-account sale has no `processor_fee_cents`);
* processor_fee: the processor's own fee of a direct (PayPal / Stripe Connect)
  sale, taken by the processor from the seller's own account.

Gumroad-account sales move the Gumroad balance by earnings = collected - returned
- fee - affiliate - retained; direct sales never touch it (purchase.rb:1838): the
same earnings are the seller's PayPal or Stripe account's.

The target depends on what is already booked: each newly seen refund is one
refund, split the way Gumroad splits that refund. The Odoo layer records what it
booked and `plan_money` says what to book next; once booked, the target computed
from the booked state is the booked state, so running it again gives None.
"""

from dataclasses import dataclass, fields, replace
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from .accounting import CENT, ZERO, _cents
from .sales import Sale

# Purchase::PROCESSOR_FEE_PER_THOUSAND and PROCESSOR_FIXED_FEE_CENTS (purchase.rb),
# used by credit.rb's fee retention when the purchase has no USD processor fee.
PROCESSOR_FEE_PER_THOUSAND = 29
PROCESSOR_FIXED_FEE_CENTS = 30


@dataclass(frozen=True)
class SaleMoney:
    """USD amounts of one sale (all >= 0), booked or to book."""

    collected: Decimal = ZERO
    returned: Decimal = ZERO
    fee: Decimal = ZERO
    affiliate: Decimal = ZERO
    retained: Decimal = ZERO
    processor_fee: Decimal = ZERO
    # What an open chargeback took back (returned, fee, affiliate), so that a won
    # dispute re-credits exactly that (returned is 0 again once it is won; fee and
    # affiliate then say what the won dispute re-credited): memory, no money.
    dispute_returned: Decimal = ZERO
    dispute_fee: Decimal = ZERO
    dispute_affiliate: Decimal = ZERO

    @property
    def kept(self) -> Decimal:
        """What the buyer finally paid: collected - returned."""
        return self.collected - self.returned

    @property
    def earnings(self) -> Decimal:
        """What the sale leaves the seller: kept less every fee and commission."""
        return (
            self.kept - self.fee - self.affiliate - self.retained - self.processor_fee
        )


@dataclass(frozen=True)
class MoneyMove(SaleMoney):
    """The change to book for one sale (signed deltas, USD).

    `kept` moves the revenue side (receivable or income), each fee its expense
    account, and the balance (or clearing) account moves by `balance`.
    """

    @property
    def balance(self) -> Decimal:
        return self.earnings

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


def retained_fee_cents(refund_cents: int, price_cents: int) -> int:
    """The processor fee Gumroad retains on a refund of R (credit.rb
    create_for_refund_fee_retention!, without a USD `processor_fee_cents`):
    round(R * 29 / 1000 + 30 * R / price), Ruby's round (half away from zero)."""
    if refund_cents <= 0 or price_cents <= 0:
        return 0
    value = Decimal(refund_cents) * PROCESSOR_FEE_PER_THOUSAND / 1000 + Decimal(
        PROCESSOR_FIXED_FEE_CENTS * refund_cents
    ) / Decimal(price_cents)
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _to_cents(value: Decimal) -> int:
    return int((Decimal(value) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _pro_rata(amount: int, part: int, whole: int, rounding) -> int:
    return int((Decimal(amount) * part / whole).quantize(Decimal(1), rounding=rounding))


@dataclass
class _State:
    collected: int = 0
    returned: int = 0
    fee: int = 0
    affiliate: int = 0
    retained: int = 0
    processor_fee: int = 0
    dispute_returned: int = 0
    dispute_fee: int = 0
    dispute_affiliate: int = 0


def sale_money(sale: Sale, booked: SaleMoney | None = None) -> SaleMoney:
    """The sale's target, given what is booked already (None: nothing).

    Refunds and chargebacks seen since the booked state are applied in Gumroad's
    order (refunds, then a chargeback of the rest), each split as Gumroad splits
    it; a won dispute re-credits what the chargeback took.
    """
    price = _to_cents(sale.price_usd) if sale.paid else 0
    if price <= 0:
        return SaleMoney()
    fee, affiliate = _to_cents(sale.gumroad_fee_usd), _to_cents(sale.affiliate_usd)
    direct = sale.is_direct
    processor_fee = _to_cents(sale.processor_fee_usd) if direct else 0
    state = _State(price, 0, fee, affiliate, 0, processor_fee)
    if booked is not None and _to_cents(booked.collected) == price:
        state = _State(
            **{f.name: _to_cents(getattr(booked, f.name)) for f in fields(SaleMoney)}
        )
        state.processor_fee = processor_fee
    refunded = 0
    if sale.refund_state == "full":
        refunded = price
    elif sale.refund_state == "partial":
        refunded = min(_to_cents(sale.usd_refunded), price)
    if sale.dispute_state != "open" and state.dispute_returned:
        _give_back(state)
    if refunded > state.returned:
        _take_back(
            state, "refund", refunded - state.returned, price, fee, affiliate, direct
        )
    if sale.dispute_state == "won" and not (
        state.dispute_fee or state.dispute_affiliate or state.dispute_returned
    ):
        # First seen already won: what the chargeback took and the win gave back
        # (the payout's Credit row of the win is net of that affiliate share).
        probe = replace(state)
        _take_back(
            probe, "chargeback", price - probe.returned, price, fee, affiliate, direct
        )
        state.dispute_fee, state.dispute_affiliate = (
            probe.dispute_fee,
            probe.dispute_affiliate,
        )
    if sale.dispute_state == "open" and price > state.returned:
        _take_back(
            state, "chargeback", price - state.returned, price, fee, affiliate, direct
        )
    return SaleMoney(
        **{
            f.name: _cents(Decimal(getattr(state, f.name)) / 100)
            for f in fields(SaleMoney)
        }
    )


def _split(state, refund, price, fee, affiliate):
    """(fee back, affiliate back) of a partial refund of `refund` cents: the fee
    floored (refundable.rb:255 build_partial_refund); the affiliate's share
    rounded, never more than it still has (the connector's estimate: Gumroad uses
    the affiliate's basis points, which the JSON does not carry)."""
    fee_back = min(_pro_rata(fee, refund, price, ROUND_FLOOR), state.fee)
    affiliate_back = min(
        _pro_rata(affiliate, refund, price, ROUND_HALF_UP), state.affiliate
    )
    return fee_back, affiliate_back


def _take_back(state, kind, refund, price, fee, affiliate, direct):
    if direct:
        # Paid into the seller's own account: the seller's processor refunds the
        # buyer; Gumroad's application fee is not refunded (stripe_charge_processor.rb
        # refund!: `params[:refund_application_fee] = false` for a Connect account)
        # and nothing is retained (fee-waived, purchase.rb refund_purchase!).
        fee_back = affiliate_back = 0
    elif state.returned == 0 and (kind == "chargeback" or refund == price):
        # A full refund or a dispute of a sale not partly refunded takes back the
        # seller's and the affiliate's credit in full (purchase.rb:2366-2370).
        fee_back, affiliate_back = state.fee, state.affiliate
    else:
        fee_back, affiliate_back = _split(state, refund, price, fee, affiliate)
    state.returned += refund
    state.fee -= fee_back
    state.affiliate -= affiliate_back
    if kind == "chargeback":
        state.dispute_returned = refund
        state.dispute_fee, state.dispute_affiliate = fee_back, affiliate_back
    elif not direct:
        # Chargeback fees are always waived (purchase.rb:554); refunds retain the
        # processor's part.
        state.retained += retained_fee_cents(refund, price)


def _give_back(state):
    """A won dispute re-credits exactly what the chargeback took back
    (dispute_win_credits.rb create_credit_for_dispute_won!)."""
    state.returned -= state.dispute_returned
    state.fee += state.dispute_fee
    state.affiliate += state.dispute_affiliate
    # The fee and affiliate amounts stay: what the won dispute re-credited (the
    # payout's Credit row of the won dispute is net of that affiliate share).
    state.dispute_returned = 0


def plan_money(target: SaleMoney, booked: SaleMoney) -> MoneyMove | None:
    """The change that brings what was booked to the target, or None when equal
    (a change of the dispute memory alone is a change too: it must be recorded)."""
    move = MoneyMove(
        **{
            f.name: _cents(getattr(target, f.name) - getattr(booked, f.name))
            for f in fields(SaleMoney)
        }
    )
    if not any(getattr(move, f.name) for f in fields(SaleMoney)):
        return None
    return move


def booked_after(booked: SaleMoney, move: MoneyMove | None) -> SaleMoney:
    """What is booked once `move` is."""
    if move is None:
        return booked
    return replace(
        booked,
        **{
            f.name: getattr(booked, f.name) + getattr(move, f.name)
            for f in fields(SaleMoney)
        },
    )


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
