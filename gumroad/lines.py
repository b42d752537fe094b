"""What an invoice of a Gumroad sale is made of (decisions only, no I/O).

Gumroad's `price` (USD cents) includes shipping, the tip and any tax the seller
collected (purchase.rb:3856-3861 `process_without_charging!`; the tip through
`customizable_price?`, :3133), and excludes the tax Gumroad collected
(`gumroad_tax_cents`, "NOT remitted to the seller", :537-548). So the seller's
invoice of a sale is `price` split into:

* product: price - shipping - tip - seller tax;
* shipping (`shipping_cents`), tip (`tip_cents`);
* seller tax (`tax_cents`, only when `buyer_presentment` proves the seller collected
  it, see `Sale.tax_collector`): a tax line, the product line being its base.

Gumroad-collected tax is no part of it. In "listed" mode the invoice amount is the
listed total: each part is converted by the same proportion, rounded to the cent,
and the rounding remainder goes to the product line, so the lines always add up to
the invoice amount exactly. A credit note (partial refund) or a re-invoice of R is
split the same way, in proportion to the invoice's lines.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from .sales import Sale

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
KINDS = ("product", "shipping", "tip", "seller_tax")


@dataclass(frozen=True)
class SaleLine:
    """One part of an invoice: kind is one of KINDS, amount >= 0 (tax-included
    amounts: the seller_tax line is the tax itself, the product line its base)."""

    kind: str
    amount: Decimal


def sale_parts(sale: Sale) -> list[SaleLine]:
    """The parts of the sale's `price`, in USD.

    When the parts Gumroad gives exceed `price` (which Gumroad's own arithmetic never
    produces), the sale is one product line: better one line than a negative one.
    """
    extras = [
        SaleLine("shipping", sale.shipping_usd),
        SaleLine("tip", sale.tip_usd),
        SaleLine("seller_tax", sale.seller_tax_usd),
    ]
    product = sale.price_usd - sum(line.amount for line in extras)
    if product < 0:
        return [SaleLine("product", sale.price_usd)]
    return [SaleLine("product", product), *(line for line in extras if line.amount)]


def split_amount(parts: list[SaleLine], amount: Decimal) -> list[SaleLine]:
    """`amount` split in proportion to `parts`, each rounded to the cent, the
    remainder on the product line; the result adds up to `amount` exactly.

    Lines of 0 are left out, except a product line that is alone.
    """
    amount = Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)
    basis = sum((line.amount for line in parts), ZERO)
    if not basis or len(parts) == 1:
        return [SaleLine("product", amount)]
    others = [
        SaleLine(
            line.kind,
            (line.amount * amount / basis).quantize(CENT, rounding=ROUND_HALF_UP),
        )
        for line in parts
        if line.kind != "product"
    ]
    product = amount - sum(line.amount for line in others)
    if product < 0:  # cannot happen with a product part >= 0; never book a negative
        return [SaleLine("product", amount)]
    lines = [SaleLine("product", product), *others]
    return [line for line in lines if line.amount or line.kind == "product"]


def invoice_lines(sale: Sale, amount: Decimal) -> list[SaleLine]:
    """The lines of a move of `amount` (invoice, credit note or re-invoice) of the
    sale, in the move's currency (USD `price` or the listed total)."""
    return split_amount(sale_parts(sale), amount)
