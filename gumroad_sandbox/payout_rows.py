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

Every sale's bookings come from ledger.moves (Gumroad's rules G1-G8); the sandbox
keeps how many of each sale's bookings earlier payouts counted, and turns the new
ones into rows:

* Sale: price, fee, price - fee (the affiliate is not taken off here);
* Full Refund: -price, -fee + retained, -(price - fee) - retained;
* Partial Refund: -R, -fee_back + retained, -(R - fee_back) - retained;
* Chargeback: -R, -fee_back, -(R - fee_back) (R the amount still kept);
* Credit (a won dispute, with the sale's id): what the chargeback took back;
* Affiliate Credit, one per payout: -(affiliate credits) + what refunds and
  chargebacks gave back;
* a direct sale (PayPal / Stripe Connect) only in its processor's rows: its Sale,
  "PayPal Refund" / "Stripe Connect Refund", Chargeback, "... Affiliate Fees" and
  "PayPal Payouts" / "Stripe Connect Payouts" rows, which net to zero
  (base.rb merge_paypal_sales_data, merge_stripe_connect_sales_data).

The sandbox records no refund or dispute dates: those rows carry the day of the
payout that first counts them.
"""

from . import ledger

SALE = "Sale"
FULL_REFUND = "Full Refund"
PARTIAL_REFUND = "Partial Refund"
CHARGEBACK = "Chargeback"
CREDIT = "Credit"
AFFILIATE_CREDIT = "Affiliate Credit"
TECHNICAL_ADJUSTMENT = "Technical Adjustment"
# Exports::Payouts::Base headings for sales paid into the seller's own account.
PROCESSOR_ROWS = {
    "paypal": ("PayPal Refund", "PayPal Connect Affiliate Fees", "PayPal Payouts"),
    "stripe_connect": (
        "Stripe Connect Refund",
        "Stripe Connect Affiliate Fees",
        "Stripe Connect Payouts",
    ),
}


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


def _sale_cells(kind, day, sale, sign, gross, fee, net):
    return (
        kind,
        day,
        sale.id,
        sale.product.name,
        sale.full_name or "",
        sale.account_email or sale.email,
        sign * (sale.tax_cents or 0),
        sign * (sale.shipping_cents or 0),
        gross,
        fee,
        net,
    )


def _plain(kind, day, sale_id, net):
    return (kind, day, sale_id, "", "", "", None, None, net, None, net)


def _gumroad_row(move, sale, day):
    """(row or None, affiliate change) of one booking through Gumroad's account."""
    if move.kind == ledger.SALE:
        day = sale.created_at.date().isoformat()
        row = _sale_cells(
            SALE, day, sale, 1, move.gross, move.fee, move.gross - move.fee
        )
        return row, -move.affiliate
    if move.kind == ledger.FULL_REFUND:
        net = move.gross - move.fee - move.retained
        row = _sale_cells(
            FULL_REFUND, day, sale, -1, move.gross, move.fee + move.retained, net
        )
        return row, -move.affiliate
    if move.kind == ledger.PARTIAL_REFUND:
        net = move.gross - move.fee - move.retained
        row = _sale_cells(
            PARTIAL_REFUND, day, sale, 0, move.gross, move.fee + move.retained, net
        )
        return row, -move.affiliate
    if move.kind == ledger.CHARGEBACK:
        net = move.gross - move.fee
        return _sale_cells(CHARGEBACK, day, sale, -1, move.gross, move.fee, net), (
            -move.affiliate
        )
    # A won dispute re-credits the seller: a Credit carrying the sale's id.
    return _plain(CREDIT, day, sale.id, move.seller), 0


def _direct_row(move, sale, day):
    """(row or None, affiliate fee) of one booking of a direct sale."""
    refund_kind = PROCESSOR_ROWS[sale.payment_processor][0]
    if move.kind == ledger.SALE:
        day = sale.created_at.date().isoformat()
        row = _sale_cells(
            SALE, day, sale, 1, move.gross, move.fee, move.gross - move.fee
        )
        return row, move.affiliate
    if move.kind in (ledger.FULL_REFUND, ledger.PARTIAL_REFUND):
        # summarize_*_refund: the refund's fee cents shown positive.
        net = move.gross - move.fee
        return _sale_cells(refund_kind, day, sale, 0, move.gross, -move.fee, net), 0
    if move.kind == ledger.CHARGEBACK:
        net = move.gross - move.fee
        return _sale_cells(CHARGEBACK, day, sale, -1, move.gross, move.fee, net), 0
    return None, 0


def rows_for(sales, credits, counted, day):
    """(rows, new counted, credits now counted): the bookings of every sale not
    counted yet (`counted`: sale id -> bookings counted) and the credits not counted
    yet. Rows are cents, in `render` order; their net column sums to the change of
    the balance."""
    rows, affiliate, expected = [], 0, 0
    direct = {}  # processor -> [rows, affiliate fees]
    new_counted = dict(counted)
    for sale in sales:
        booked = ledger.moves(sale)
        done = counted.get(sale.id, 0)
        if len(booked) <= done:
            continue
        new_counted[sale.id] = len(booked)
        for move in booked[done:]:
            if move.direct:
                group = direct.setdefault(sale.payment_processor, [[], 0])
                row, fee = _direct_row(move, sale, day)
                if row is not None:
                    group[0].append(row)
                group[1] += fee
                continue
            expected += move.balance
            row, change = _gumroad_row(move, sale, day)
            rows.append(row)
            affiliate += change
    if affiliate:
        rows.append(_plain(AFFILIATE_CREDIT, day, "", affiliate))
    for processor, (group_rows, fees) in sorted(direct.items()):
        _refund, fee_kind, payout_kind = PROCESSOR_ROWS[processor]
        if fees:
            group_rows.append(_plain(fee_kind, day, "", -fees))
        net = sum(row[-1] for row in group_rows)
        if net:
            group_rows.append(_plain(payout_kind, day, "", -net))
        rows.extend(group_rows)
    counted_credits = []
    for credit in credits:
        credit_day = credit.created_at.date().isoformat()
        rows.append(_plain(CREDIT, credit_day, "", credit.amount_cents))
        expected += credit.amount_cents
        counted_credits.append(credit)
    rows.sort(key=lambda r: r[1])  # payout_data sorts by date
    adjustment = expected - sum(row[-1] for row in rows)
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
