"""Memberships: Gumroad's subscriber object and monthly recurring revenue (no I/O).

The subscriber JSON (`GET /products/:id/subscribers`, `GET /subscribers/:id`,
`subscription.rb:106-129` in the facts file) carries no price: the recurring price of a
subscription is the `price` (USD cents, whatever the product currency) of its latest
charge, a sale whose `subscription_id` is the subscriber's `id`. A recurrence bills
every 1, 3, 6, 12 or 24 months; MRR is that price divided by the months, each
subscription rounded half up to the cent, summed over the active subscriptions.

Gumroad lists only active subscribers: `failed_at` and `ended_at` null and
`cancelled_at` null or in the future (`subscription.rb:94-97`); their `status` is then
`alive` or `pending_cancellation`.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

from .errors import MalformedPayloadError

CENT = Decimal("0.01")

# BasePrice::Recurrence: months billed by one charge.
RECURRENCE_MONTHS = {
    "monthly": 1,
    "quarterly": 3,
    "biannually": 6,
    "yearly": 12,
    "every_two_years": 24,
}

# subscription.rb:899-909,994-1004
STATUSES = (
    "alive",
    "pending_cancellation",
    "pending_failure",
    "failed_payment",
    "fixed_subscription_period_ended",
    "cancelled",
)
ACTIVE_STATUSES = frozenset({"alive", "pending_cancellation"})

NEW, CHURNED, REACTIVATED = "new", "churned", "reactivated"


@dataclass(frozen=True)
class Subscriber:
    """One Gumroad subscription as the subscriber JSON gives it."""

    id: str
    email: str | None
    product_id: str
    product_name: str | None
    user_id: str | None
    user_email: str | None
    purchase_ids: tuple[str, ...]
    created_at: datetime
    user_requested_cancellation_at: datetime | None
    cancelled_at: datetime | None
    ended_at: datetime | None
    failed_at: datetime | None
    free_trial_ends_at: datetime | None
    charge_occurrence_count: int | None
    recurrence: str
    status: str
    license_key: str | None

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def churned_at(self) -> datetime | None:
        """When an inactive subscription stopped: ended, failed or cancelled."""
        if self.is_active:
            return None
        return self.ended_at or self.failed_at or self.cancelled_at


def _malformed(subscriber_id, key, problem, value=None):
    shown = f" ({value!r})" if value is not None else ""
    who = f"Subscriber {subscriber_id!r}" if subscriber_id else "A subscriber"
    return MalformedPayloadError(
        f"{who}: field {key!r} {problem}{shown}.", field=key, sale_id=None
    )


def _time(data, key, subscriber_id, *, required=False):
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise _malformed(subscriber_id, key, "is missing")
        return None
    if not isinstance(value, str):
        raise _malformed(subscriber_id, key, "is not an ISO 8601 date-time", value)
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _malformed(
            subscriber_id, key, "is not an ISO 8601 date-time", value
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _optional_str(data, key, subscriber_id):
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _malformed(subscriber_id, key, "is not a string", value)
    return str(value)


def parse_subscriber(data: Mapping) -> Subscriber:
    """A subscriber JSON, read strictly (MalformedPayloadError naming the field)."""
    if not isinstance(data, Mapping):
        raise MalformedPayloadError("A subscriber is not a JSON object.")
    subscriber_id = data.get("id")
    if not isinstance(subscriber_id, str) or not subscriber_id:
        raise _malformed(None, "id", "is missing or not a string", subscriber_id)
    product_id = data.get("product_id")
    if not isinstance(product_id, str) or not product_id:
        raise _malformed(subscriber_id, "product_id", "is missing", product_id)
    recurrence = data.get("recurrence")
    if recurrence not in RECURRENCE_MONTHS:
        raise _malformed(subscriber_id, "recurrence", "is not known", recurrence)
    status = data.get("status")
    if status not in STATUSES:
        raise _malformed(subscriber_id, "status", "is not known", status)
    purchase_ids = data.get("purchase_ids") or []
    if not isinstance(purchase_ids, list) or not all(
        isinstance(p, str) for p in purchase_ids
    ):
        raise _malformed(subscriber_id, "purchase_ids", "is not a list of ids")
    count = data.get("charge_occurrence_count")
    if count == "":
        count = None
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
        raise _malformed(
            subscriber_id, "charge_occurrence_count", "is not an integer", count
        )
    return Subscriber(
        id=subscriber_id,
        email=_optional_str(data, "email", subscriber_id),
        product_id=product_id,
        product_name=_optional_str(data, "product_name", subscriber_id),
        user_id=_optional_str(data, "user_id", subscriber_id),
        user_email=_optional_str(data, "user_email", subscriber_id),
        purchase_ids=tuple(purchase_ids),
        created_at=_time(data, "created_at", subscriber_id, required=True),
        user_requested_cancellation_at=_time(
            data, "user_requested_cancellation_at", subscriber_id
        ),
        cancelled_at=_time(data, "cancelled_at", subscriber_id),
        ended_at=_time(data, "ended_at", subscriber_id),
        failed_at=_time(data, "failed_at", subscriber_id),
        free_trial_ends_at=_time(data, "free_trial_ends_at", subscriber_id),
        charge_occurrence_count=count,
        recurrence=recurrence,
        status=status,
        license_key=_optional_str(data, "license_key", subscriber_id),
    )


def months_per_recurrence(recurrence: str) -> int:
    try:
        return RECURRENCE_MONTHS[recurrence]
    except KeyError:
        raise ValueError(f"unknown recurrence {recurrence!r}") from None


def recurring_price_cents(charges: Iterable[Mapping]) -> int:
    """USD cents of the latest charge (sale JSONs with `created_at` and `price`).

    Free charges (a $0 trial row) do not set the price while a paid one exists; no
    charge at all gives 0.
    """
    latest = None
    for charge in charges:
        price = charge.get("price") or 0
        if isinstance(price, bool) or not isinstance(price, int) or price < 0:
            raise MalformedPayloadError(
                f"A charge has a price that is not USD cents ({price!r})."
            )
        key = (price > 0, str(charge.get("created_at") or ""))
        if latest is None or key >= latest[0]:
            latest = (key, price)
    return latest[1] if latest else 0


def monthly_amount(price_cents: int, recurrence: str) -> Decimal:
    """USD (Decimal, 2 places) per month of a price billed every `recurrence`."""
    months = months_per_recurrence(recurrence)
    return (Decimal(price_cents) / 100 / months).quantize(CENT, rounding=ROUND_HALF_UP)


def mrr(subscriptions: Iterable[tuple[bool, int, str]]) -> Decimal:
    """MRR in USD of (is_active, price_cents, recurrence): each rounded, then summed."""
    total = Decimal("0.00")
    for is_active, price_cents, recurrence in subscriptions:
        if is_active:
            total += monthly_amount(price_cents, recurrence)
    return total


@dataclass(frozen=True)
class Movement:
    month: str  # "YYYY-MM"
    product_id: str
    kind: str  # new | churned | reactivated
    count: int
    mrr_change: Decimal


def _month(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def monthly_movements(rows: Iterable[Mapping]) -> list[Movement]:
    """Movements per (month, product, kind) of subscriptions.

    Each row: product_id, monthly (Decimal USD), created_at, churned_at (when it
    stopped, None while active) and restarted_at (None if never). New counts +monthly
    in the month it started, churned -monthly in the month it stopped, reactivated
    +monthly in the month it restarted.
    """
    totals = {}
    for row in rows:
        events = [(NEW, row["created_at"], 1)]
        if row.get("churned_at"):
            events.append((CHURNED, row["churned_at"], -1))
        if row.get("restarted_at"):
            events.append((REACTIVATED, row["restarted_at"], 1))
        for kind, moment, sign in events:
            key = (_month(moment), row["product_id"], kind)
            count, amount = totals.get(key, (0, Decimal("0.00")))
            totals[key] = (count + 1, amount + sign * row["monthly"])
    return [
        Movement(month, product, kind, count, amount)
        for (month, product, kind), (count, amount) in sorted(totals.items())
    ]
