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
