"""What each sale does to the seller's Gumroad balance: Gumroad's money rules G1-G8.

readme/GUMROAD_MONEY.md has the source of every rule; in short (USD cents):

* G1 a sale through Gumroad's own account credits price - fee - affiliate credit
  (purchase.rb increment_sellers_balance!).
* G2 a full refund (the whole price in one refund) takes that back, and Gumroad
  retains the processor fee as a negative credit: round_half_up(R * 29 / 1000 +
  30 * R / price) (credit.rb create_for_refund_fee_retention!, its fallback formula:
  the JSON of these sales has no processor_fee_cents).
* G3 a partial refund of R gives back fee_back = floor(fee * R / price)
  (refundable.rb build_partial_refund) and aff_back = round_half_up(aff * R / price),
  capped at what is left of the affiliate credit (Gumroad uses the affiliate's basis
  points, which the JSON does not carry); the seller gives back R - fee_back -
  aff_back, and the processor fee of R is retained as in G2. A refund that completes
  the price after partial ones is a partial refund of the remainder.
* G4 a lost dispute takes back what the sale still leaves: the G3 split of the
  remaining amount (price - fee - aff with nothing refunded), no fee, nothing retained.
* G5 a won dispute re-credits exactly what G4 took back.
* G6 a direct sale (payment_processor paypal / stripe_connect) never touches the
  Gumroad balance: the seller's own account got price - fee - aff (Gumroad's
  application fee also holds its tax, which is outside price) less the processor's fee.
  Its refunds retain nothing; the application fee is not given back either
  (stripe_charge_processor.rb refund!: refund_application_fee = false on a Connect
  account), so the seller's account pays the whole refund.
* G7 a pre-order authorization books nothing (it is never listed); its release is a
  new sale.
* G8 seller tax, shipping and tips are inside price; Gumroad's tax is outside it.
"""

from dataclasses import dataclass
from decimal import Decimal

from .currency import round_half_up

SALE = "sale"
FULL_REFUND = "full_refund"
PARTIAL_REFUND = "partial_refund"
CHARGEBACK = "chargeback"
DISPUTE_WON = "dispute_won"
PROCESSOR_FEE_PER_THOUSAND = 29
PROCESSOR_FIXED_FEE_CENTS = 30


@dataclass(frozen=True)
class Move:
    """One booking of a sale on the seller's balance, USD cents.

    `gross` is what the buyer paid (+) or got back (-); `fee` and `affiliate` the
    signed parts of it that were Gumroad's fee and the affiliate's credit; `seller` the
    signed change of the seller's balance before `retained` (the processor fee a
    refund retains, a positive number taken off the balance on top)."""

    kind: str
    gross: int
    fee: int
    affiliate: int
    seller: int
    retained: int = 0
    direct: bool = False

    @property
    def balance(self):
        """The change of the Gumroad balance (0 for a direct sale)."""
        return 0 if self.direct else self.seller - self.retained


def retained_fee(amount, price):
    """credit.rb create_for_refund_fee_retention!'s fallback: the processor fee of
    a refund of `amount`, 2.9 % plus the refunded share of 30 cents, rounded half up."""
    if amount <= 0 or price <= 0:
        return 0
    value = Decimal(amount * PROCESSOR_FEE_PER_THOUSAND) / 1000 + Decimal(
        PROCESSOR_FIXED_FEE_CENTS * amount
    ) / Decimal(price)
    return round_half_up(value)


def _split(row, amount, affiliate_back_so_far):
    """(fee_back, aff_back, seller_back) of `amount` USD cents given back (G3)."""
    price, fee, affiliate = row.price, row.fee, row.affiliate_credit_cents
    fee_back = fee * amount // price
    aff_back = min(
        round_half_up(Decimal(affiliate * amount) / price),
        affiliate - affiliate_back_so_far,
    )
    return fee_back, aff_back, amount - fee_back - aff_back


def moves(row):
    """Every booking of `row`, in the order they happened."""
    if not row.paid or not row.listed or row.is_preorder_authorization:
        return []
    direct = row.direct
    price, fee, affiliate = row.price, row.fee, row.affiliate_credit_cents
    booked = [Move(SALE, price, fee, affiliate, price - fee - affiliate, direct=direct)]
    refunds = row.refunds_usd()
    before = row.refunds_before_dispute
    if before is None:
        before = len(refunds)
    state = {"refunded": 0, "affiliate_back": 0}

    def refund(amount, first):
        if amount <= 0:
            return
        fee_back, aff_back, seller_back = _split(row, amount, state["affiliate_back"])
        full = first and amount == price
        retained = 0 if direct else retained_fee(amount, price)
        booked.append(
            Move(
                FULL_REFUND if full else PARTIAL_REFUND,
                -amount,
                -fee_back,
                -aff_back,
                -seller_back,
                retained,
                direct,
            )
        )
        state["refunded"] += amount
        state["affiliate_back"] += aff_back

    for index, amount in enumerate(refunds[:before]):
        refund(amount, index == 0)
    if row.disputed:
        remaining = price - state["refunded"]
        if remaining > 0:
            fee_back, aff_back, seller_back = _split(
                row, remaining, state["affiliate_back"]
            )
            taken = Move(
                CHARGEBACK,
                -remaining,
                -fee_back,
                -aff_back,
                -seller_back,
                direct=direct,
            )
            booked.append(taken)
            if row.dispute_won:
                booked.append(
                    Move(
                        DISPUTE_WON,
                        remaining,
                        fee_back,
                        aff_back,
                        seller_back,
                        direct=direct,
                    )
                )
    for amount in refunds[before:]:
        refund(amount, False)
    return booked


def earnings(row):
    """USD cents the sale leaves on the seller's Gumroad balance."""
    return sum(move.balance for move in moves(row))


def direct_net(row):
    """USD cents a direct sale left in the seller's own PayPal / Stripe account:
    price - fee - aff - the processor's fee, less what went back to the buyer."""
    if not row.direct:
        return 0
    booked = moves(row)
    if not booked:
        return 0
    given_back = -sum(move.gross for move in booked[1:])
    return (
        row.price
        - row.fee
        - row.affiliate_credit_cents
        - (row.processor_fee_cents or 0)
        - given_back
    )
