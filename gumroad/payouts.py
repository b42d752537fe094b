"""The payout object of Gumroad's API v2 (`Payment#as_json`, payouts_controller.rb).

`amount` is a decimal string in major units ("150.00"), unlike a sale's cents;
`payment_processor` is upper case ("STRIPE", "PAYPAL"). Upcoming payouts have
`id: null` and are not payouts yet. `sales`, `refunded_sales` and `disputed_sales`
come with `GET /payouts/:id` (include_sales).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation

from .errors import MalformedPayloadError

# Completed is the only state that moved money to the seller's bank.
PAID_STATES = ("completed",)


@dataclass(frozen=True)
class Payout:
    id: str
    amount: Decimal
    currency: str
    status: str
    created_at: datetime
    processed_at: datetime | None
    payment_processor: str | None
    bank_account_visual: str | None
    paypal_email: str | None
    sale_ids: tuple[str, ...] | None = None  # None: the answer did not list them
    refunded_sale_ids: tuple[str, ...] = ()
    disputed_sale_ids: tuple[str, ...] = ()
    raw: dict = field(default_factory=dict, hash=False, repr=False)

    @property
    def is_paid(self) -> bool:
        return self.status.lower() in PAID_STATES

    @property
    def payout_date(self) -> date:
        """The day the money left Gumroad (processed, else created), UTC."""
        return (self.processed_at or self.created_at).date()


def parse_payout(data) -> Payout:
    """Read one payout dict; raises MalformedPayloadError naming the key at fault."""
    if not isinstance(data, Mapping):
        raise MalformedPayloadError(
            f"A payout must be a JSON object, not {type(data).__name__}.", field=None
        )
    payout_id = data.get("id")
    if not isinstance(payout_id, str) or not payout_id.strip():
        raise _malformed("id", "is missing (an upcoming payout has no id yet)", None)
    return Payout(
        id=payout_id,
        amount=_amount(data, payout_id),
        currency=(_optional_str(data, "currency", payout_id) or "USD").upper(),
        status=_optional_str(data, "status", payout_id) or "",
        created_at=_timestamp(data, "created_at", payout_id, required=True),
        processed_at=_timestamp(data, "processed_at", payout_id),
        payment_processor=_optional_str(data, "payment_processor", payout_id),
        bank_account_visual=_optional_str(data, "bank_account_visual", payout_id),
        paypal_email=_optional_str(data, "paypal_email", payout_id),
        sale_ids=_ids(data, "sales", payout_id, default=None),
        refunded_sale_ids=_ids(data, "refunded_sales", payout_id) or (),
        disputed_sale_ids=_ids(data, "disputed_sales", payout_id) or (),
        raw=dict(data),
    )


def _malformed(key, problem, value, payout_id=None):
    where = f"Payout {payout_id}: " if payout_id else ""
    shown = "" if value is None else f" ({value!r:.80})"
    return MalformedPayloadError(f"{where}'{key}' {problem}{shown}.", field=key)


def _optional_str(data, key, payout_id):
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _malformed(key, "is not a string", value, payout_id)
    return value.strip() or None


def _amount(data, payout_id):
    value = data.get("amount")
    if not isinstance(value, str):
        raise _malformed("amount", "is not a decimal string", value, payout_id)
    try:
        amount = Decimal(value.strip().replace(",", ""))
    except InvalidOperation:
        raise _malformed("amount", "is not a number", value, payout_id) from None
    if not amount.is_finite() or amount < 0 or amount.as_tuple().exponent < -2:
        raise _malformed("amount", "is not an amount in cents", value, payout_id)
    return amount.quantize(Decimal("0.01"))


def _timestamp(data, key, payout_id, *, required=False):
    value = data.get(key)
    if value is None:
        if required:
            raise _malformed(key, "is missing", None, payout_id)
        return None
    if not isinstance(value, str):
        raise _malformed(key, "is not a string", value, payout_id)
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _malformed(
            key, "is not an ISO 8601 date-time", value, payout_id
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _ids(data, key, payout_id, default=()):
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(i, str) for i in value):
        raise _malformed(key, "is not a list of sale ids", value, payout_id)
    return tuple(value)


# -- transactions (GET /payouts/:id?include_transactions=true) ----------------------
# Payment#as_json puts `Exports::Payouts::Api.new(self).perform` under `transactions`:
# the rows of Exports::Payouts::Base#payout_data, each a list of the payout CSV's 11
# columns (app/services/exports/payouts/csv.rb HEADERS). Amounts are dollars (JSON
# numbers), empty cells "". Read in fork copies of Gumroad's app, see
# readme/GUMROAD_MONEY.md section 7(c).
TRANSACTION_COLUMNS = (
    "Type",
    "Date",
    "Purchase ID",
    "Item Name",
    "Buyer Name",
    "Buyer Email",
    "Taxes ($)",
    "Shipping ($)",
    "Sale Price ($)",
    "Gumroad Fees ($)",
    "Net Total ($)",
)
SALE_KINDS = ("Sale", "Full Refund", "Partial Refund", "Chargeback")
# Rows Gumroad adds on the balance itself: Odoo books them from the payout.
BOOKED_ADJUSTMENTS = ("Credit", "Technical Adjustment", "Payout Fee")


@dataclass(frozen=True)
class PayoutTransaction:
    kind: str
    day: date | None
    sale_id: str | None
    item_name: str
    buyer_name: str
    buyer_email: str
    tax: Decimal | None
    shipping: Decimal | None
    gross: Decimal | None
    fee: Decimal | None
    net: Decimal

    def as_dict(self):
        return {
            "kind": self.kind,
            "day": self.day.isoformat() if self.day else None,
            "sale_id": self.sale_id,
            "item_name": self.item_name,
            "gross": None if self.gross is None else str(self.gross),
            "fee": None if self.fee is None else str(self.fee),
            "net": str(self.net),
        }


def parse_transactions(data, payout_id=None) -> tuple[PayoutTransaction, ...]:
    """Read a payout's `transactions`; raises MalformedPayloadError naming the cell."""
    value = data.get("transactions") if isinstance(data, Mapping) else None
    if value is None:
        raise _malformed("transactions", "is missing", None, payout_id)
    if not isinstance(value, list):
        raise _malformed("transactions", "is not a list", value, payout_id)
    return tuple(_transaction(row, index, payout_id) for index, row in enumerate(value))


def _transaction(row, index, payout_id):
    where = f"transactions[{index}]"
    if not isinstance(row, list) or len(row) != len(TRANSACTION_COLUMNS):
        raise _malformed(
            where, f"is not a row of {len(TRANSACTION_COLUMNS)} cells", row, payout_id
        )

    def key(column):
        return f"{where}[{column}] ({TRANSACTION_COLUMNS[column]})"

    def text(column):
        cell = row[column]
        if cell is None:
            return ""
        if not isinstance(cell, str):
            raise _malformed(key(column), "is not a string", cell, payout_id)
        return cell.strip()

    def amount(column, required=False):
        cell = row[column]
        if cell in ("", None) and not required:
            return None
        if isinstance(cell, bool) or not isinstance(cell, (int, float, str)):
            raise _malformed(key(column), "is not an amount", cell, payout_id)
        try:
            number = Decimal(str(cell).strip())
        except InvalidOperation:
            raise _malformed(key(column), "is not an amount", cell, payout_id) from None
        if not number.is_finite():
            raise _malformed(key(column), "is not an amount", cell, payout_id)
        return number.quantize(Decimal("0.01")) + 0  # -0.0 reads as 0.00

    kind = text(0)
    if not kind:
        raise _malformed(key(0), "is empty", row[0], payout_id)
    day_text = text(1)
    try:
        day = date.fromisoformat(day_text) if day_text else None
    except ValueError:
        raise _malformed(
            key(1), "is not a YYYY-MM-DD date", row[1], payout_id
        ) from None
    return PayoutTransaction(
        kind=kind,
        day=day,
        sale_id=text(2) or None,
        item_name=text(3),
        buyer_name=text(4),
        buyer_email=text(5),
        tax=amount(6),
        shipping=amount(7),
        gross=amount(8),
        fee=amount(9),
        net=amount(10, required=True),
    )


# Rows of sales paid by PayPal / Stripe Connect directly ("PayPal Refund",
# "Stripe Connect Affiliate Fees", "PayPal Payouts"...): base.rb
# merge_paypal_sales_data / merge_stripe_connect_sales_data. They net to zero in
# the payout; the money is in the seller's own account.
DIRECT_PREFIXES = ("PayPal", "Stripe Connect")
REFUND_KINDS = ("Full Refund", "Partial Refund")
AFFILIATE_CREDIT = "Affiliate Credit"


@dataclass(frozen=True)
class TransactionMatch:
    """One transaction (or one sale's transactions) against the books.

    state: "matched"; "not_booked" (a sale Odoo never booked); "amount" (the
    amounts differ); "adjustment" (Gumroad's own credit, debit or fee, or a
    difference Odoo books from the payout); "information" (rows Odoo books
    elsewhere: the PayPal / Stripe Connect rows that net to zero in the payout).
    book: what Odoo must book on the balance to follow Gumroad (0: nothing), and
    against what: "fee" (Gumroad's fees, credits and adjustments), "retained"
    (the processor fee Gumroad retained on refunds) or "affiliate".
    """

    state: str
    kind: str
    sale_id: str | None
    gumroad: Decimal
    booked: Decimal | None
    book: Decimal
    label: str
    against: str = "fee"

    @property
    def difference(self) -> Decimal:
        return self.gumroad - (self.booked or Decimal(0))


def match_payout_transactions(
    transactions, booked, affiliate=None, direct=(), sale_nets=None
) -> list[TransactionMatch]:
    """Match a payout's transactions to what the books say.

    `booked` maps a sale id to the net (USD) the books put on the Gumroad balance
    for that sale over this payout, before the affiliate's commission (a Sale
    row's net is price - fee, base.rb summarize_sale): its sale less fee, less
    what refunds and chargebacks took back, less the processor fee retained on
    refunds (which the refund rows carry: summarize_full_refund /
    summarize_partial_refund). A sale's rows (Sale, Full/Partial Refund,
    Chargeback, and a Credit naming it, e.g. a won dispute) are summed and compared
    with it. A refund whose retained fee differs from the booked estimate is a
    difference to book against the retained fee (only when the sale's rows are
    refunds: with its Sale or Chargeback row too, a difference is the sale's). The
    `affiliate` is the commission the books charged over this payout: the Affiliate
    Credit rows (calculate_affiliate_for_balance) must sum to minus it; a difference
    is shown, not booked. `direct` holds the ids
    of sales paid into the seller's own PayPal / Stripe account: their rows, like
    the processor rows, are information. `sale_nets` maps a sale id to the net its
    Sale row carries (price - fee): when a sale's Sale row says exactly that, its
    other rows are refunds and the difference is within their floors, it is the
    refunds' own (two partial refunds the books saw as one floor their fee shares
    and retained fees apart), booked against the retained fee like a refund's
    alone. Rows without a sale are
    Gumroad's own: a Credit, a Technical Adjustment, a Payout Fee are to be booked
    with their label.
    """
    by_sale, order, result, affiliate_rows = {}, [], [], []
    direct = set(direct)
    sale_nets = sale_nets or {}
    for transaction in transactions:
        if transaction.kind.startswith(DIRECT_PREFIXES) or (
            transaction.sale_id in direct
        ):
            result.append(
                TransactionMatch(
                    "information",
                    transaction.kind,
                    transaction.sale_id,
                    transaction.net,
                    None,
                    Decimal(0),
                    f"{transaction.kind} (paid by the processor, not the Gumroad "
                    "balance)",
                )
            )
            continue
        if transaction.sale_id and (
            transaction.kind in SALE_KINDS or transaction.kind == "Credit"
        ):
            if transaction.sale_id not in by_sale:
                by_sale[transaction.sale_id] = []
                order.append(transaction.sale_id)
            by_sale[transaction.sale_id].append(transaction)
            continue
        if transaction.kind == AFFILIATE_CREDIT and affiliate is not None:
            affiliate_rows.append(transaction)
            continue
        book = transaction.net if transaction.kind in BOOKED_ADJUSTMENTS else Decimal(0)
        result.append(
            TransactionMatch(
                state="adjustment" if book else "information",
                kind=transaction.kind,
                sale_id=None,
                gumroad=transaction.net,
                booked=None,
                book=book,
                label=_adjustment_label(transaction),
            )
        )
    affiliate_at, floored_rows = len(result), 0
    for sale_id in order:
        rows = by_sale[sale_id]
        gumroad = sum((row.net for row in rows), Decimal(0))
        kinds = ", ".join(row.kind for row in rows)
        mine = booked.get(sale_id)
        against = "fee"
        if mine is None:
            state, book = "not_booked", Decimal(0)
        else:
            mine = Decimal(str(mine)).quantize(Decimal("0.01"))
            book = Decimal(0)
            if gumroad == mine:
                state = "matched"
            elif all(row.kind in REFUND_KINDS for row in rows):
                # The processor fee Gumroad retained differs from the estimate.
                state, book, against = "adjustment", gumroad - mine, "retained"
            elif _refunds_floored_apart(rows, sale_nets.get(sale_id), gumroad - mine):
                state, book, against = "adjustment", gumroad - mine, "retained"
                floored_rows += sum(row.kind in REFUND_KINDS for row in rows)
            else:
                state = "amount"
        label = (
            kinds
            if not book
            else f"Processor fee Gumroad retained (difference): {kinds}"
        )
        result.append(
            TransactionMatch(state, kinds, sale_id, gumroad, mine, book, label, against)
        )
    if affiliate_rows or affiliate:
        # Compared, not booked from the payout: the books charge commissions with
        # their sales, and a difference is a sale booked in another state than
        # Gumroad counted it for this payout (e.g. refunded since). Only the cent a
        # refund row can round the affiliate's share apart, for the refunds seen as
        # one above, is booked.
        gumroad = sum((row.net for row in affiliate_rows), Decimal(0))
        mine = -Decimal(str(affiliate)).quantize(Decimal("0.01"))
        state, book = ("matched", Decimal(0)) if gumroad == mine else ("amount", 0)
        if (
            state == "amount"
            and floored_rows
            and (abs(gumroad - mine) <= Decimal("0.01") * floored_rows)
        ):
            state, book = "adjustment", gumroad - mine
        result.insert(
            affiliate_at,
            TransactionMatch(
                state=state,
                kind=AFFILIATE_CREDIT,
                sale_id=None,
                gumroad=gumroad,
                booked=mine,
                book=Decimal(book),
                label="Affiliate Credit (the commissions of the payout's sales)"
                if not book
                else "Affiliate Credit (difference of refunds seen as one)",
                against="affiliate",
            ),
        )
    return result


def _refunds_floored_apart(rows, sale_net, difference):
    """One Sale row with the net the books expect, refund rows besides, and a
    difference no larger than each refund's own floors can make: a cent for the
    fee share and one for the retained fee, per refund row. A larger difference is
    something else (a refund the books have not seen yet, say): shown, not booked.
    """
    sale_rows = [row for row in rows if row.kind == "Sale"]
    refund_rows = [row for row in rows if row.kind in REFUND_KINDS]
    if sale_net is None or len(sale_rows) != 1 or not refund_rows:
        return False
    if len(sale_rows) + len(refund_rows) != len(rows):
        return False
    if sale_rows[0].net != Decimal(str(sale_net)).quantize(Decimal("0.01")):
        return False
    return abs(difference) <= Decimal("0.02") * len(refund_rows)


def _adjustment_label(transaction):
    when = f" ({transaction.day.isoformat()})" if transaction.day else ""
    return f"Gumroad {transaction.kind.lower()}{when}"
