"""The `transactions` of a payout (`GET /payouts/:id?include_transactions=true`).

Gumroad builds them in `Exports::Payouts::Base#payout_data`
(app/services/exports/payouts/base.rb; `Exports::Payouts::Api#perform` returns it,
`Payment#as_json` puts it under `transactions`). Each transaction is a list of 11
cells, the columns of the payout CSV (`Exports::Payouts::Csv::HEADERS`):

    Type, Date, Purchase ID, Item Name, Buyer Name, Buyer Email,
    Taxes ($), Shipping ($), Sale Price ($), Gumroad Fees ($), Net Total ($)

Amounts are dollars as JSON numbers (`(cents / 100.0).round(2)`), empty cells are
"". A sale row's net is `price - fee` (`Purchase::Accounting#net_total`); a refund
row's fee cell is the fee given back less the processor fee Gumroad retains; the
sum of the net column is the payout's amount (Gumroad adds a "Technical
Adjustment" row when its own sum differs).

The sandbox keeps, for every sale, what the payouts before counted of it (the
sale, its refunded USD, its chargeback, its earnings), and turns the change since
into rows. Every amount comes from the sale's own money methods
(records.Sale.earnings_usd and friends), so the rows follow the balance rules.
The sandbox records no refund or dispute dates: those rows carry the day of the
payout that first counts them.
"""

import dataclasses

SALE = "Sale"
FULL_REFUND = "Full Refund"
PARTIAL_REFUND = "Partial Refund"
CHARGEBACK = "Chargeback"
CREDIT = "Credit"
AFFILIATE_CREDIT = "Affiliate Credit"
TECHNICAL_ADJUSTMENT = "Technical Adjustment"


@dataclasses.dataclass
class Counted:
    """What earlier payouts counted of one sale."""

    sale: bool = False
    refunded_usd: int = 0
    chargedback: bool = False
    affiliate: int = 0
    earnings: int = 0


def affiliate_share(row):
    """USD cents the sale's own rules take for an affiliate, for an untouched sale:
    price less fee less what an unrefunded, undisputed copy of it earns."""
    plain = dataclasses.replace(
        row, refunded_listed=0, disputed=False, dispute_won=False
    )
    return max(row.price - row.fee - plain.earnings_usd(), 0)


def _cell(cents):
    return "" if cents is None else round(cents / 100.0, 2)


def render(row):
    kind, day, sale_id, item, buyer, email, tax, shipping, gross, fee, net = row
    return [
        kind,
        day,
        sale_id,
        item,
        buyer,
        email,
        _cell(tax),
        _cell(shipping),
        _cell(gross),
        _cell(fee),
        _cell(net),
    ]


def _sale_cells(kind, day, sale, sign, gross, net):
    return (
        kind,
        day,
        sale.id,
        sale.product.name,
        sale.full_name or "",
        sale.account_email or sale.email,
        sign * (sale.tax_cents or 0),
        sign * (getattr(sale, "shipping_cents", 0) or 0),
        gross,
        gross - net,
        net,
    )


def _plain(kind, day, sale_id, net):
    return (kind, day, sale_id, "", "", "", None, None, net, None, net)


def rows_for(sales, credits, counted, day):
    """(rows, new counted, credits now counted): the change since `counted` of
    every sale, and the credits not counted yet. Rows are cents, in `render` order.
    """
    rows, affiliate, adjustment = [], 0, 0
    new_counted = dict(counted)
    for sale in sales:
        before = counted.get(sale.id) or Counted()
        now = Counted(
            sale=True,
            refunded_usd=sale.refunded_usd(),
            chargedback=sale.chargedback,
            affiliate=affiliate_share(sale),
            earnings=sale.earnings_usd(),
        )
        if now == before:
            continue
        new_counted[sale.id] = now
        rest = now.earnings - before.earnings
        sale_day = sale.created_at.date().isoformat() if not before.sale else day
        if not before.sale:
            rows.append(
                _sale_cells(SALE, sale_day, sale, 1, sale.price, sale.price - sale.fee)
            )
            rest -= sale.price - sale.fee
        gone = (sale.fully_refunded or now.chargedback) and not (
            before.chargedback or before.refunded_usd >= sale.price > 0
        )
        back = before.chargedback and not now.chargedback
        if not before.sale or gone or back:
            # calculate_affiliate_for_balance: the affiliate's share leaves with the
            # sale's success balance and comes back with its refund or chargeback.
            share = (
                -now.affiliate
                if not before.sale
                else (before.affiliate if gone else -before.affiliate)
            )
            if not before.sale and gone:
                share = 0
            affiliate += share
            rest -= share
        if now.refunded_usd > before.refunded_usd and not now.chargedback:
            kind = FULL_REFUND if sale.fully_refunded else PARTIAL_REFUND
            gross = -(now.refunded_usd - before.refunded_usd)
            rows.append(_sale_cells(kind, day, sale, -1, gross, rest))
            rest = 0
        elif now.chargedback and not before.chargedback:
            rows.append(_sale_cells(CHARGEBACK, day, sale, -1, -sale.price, rest))
            rest = 0
        elif back:  # a won dispute re-credits the seller (a Credit with the sale)
            rows.append(_plain(CREDIT, day, sale.id, rest))
            rest = 0
        adjustment += rest
    if affiliate:
        rows.append(_plain(AFFILIATE_CREDIT, day, "", affiliate))
    counted_credits = []
    for credit in credits:
        credit_day = credit.created_at.date().isoformat()
        rows.append(_plain(CREDIT, credit_day, "", credit.amount_cents))
        counted_credits.append(credit)
    rows.sort(key=lambda r: r[1])  # payout_data sorts by date
    if adjustment:
        rows.append(
            (
                TECHNICAL_ADJUSTMENT,
                day,
                "",
                "",
                "",
                "",
                None,
                None,
                None,
                None,
                adjustment,
            )
        )
    return rows, new_counted, counted_credits
