"""Subscribers and MRR: the subscriber JSON, recurring prices, monthly movements."""

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from gumroad.errors import MalformedPayloadError
from gumroad.memberships import (
    monthly_amount,
    monthly_movements,
    months_per_recurrence,
    mrr,
    parse_subscriber,
    recurring_price_cents,
)

# The subscriber JSON as the facts file gives it (subscription.rb:106-129).
SUBSCRIBER = {
    "id": "sub1==",
    "email": "ann@example.com",
    "product_id": "prod1==",
    "product_name": "Club",
    "user_id": "3523953790232",
    "user_email": "ann@example.com",
    "purchase_ids": ["sale1==", "sale2=="],
    "created_at": "2026-03-04T10:00:00Z",
    "user_requested_cancellation_at": None,
    "cancelled_at": None,
    "ended_at": None,
    "failed_at": None,
    "free_trial_ends_at": None,
    "charge_occurrence_count": None,
    "recurrence": "yearly",
    "status": "alive",
    "license_key": "ABCD-1234",
}


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def test_parse_subscriber_reads_every_key():
    sub = parse_subscriber(SUBSCRIBER)
    assert sub.id == "sub1=="
    assert sub.product_id == "prod1=="
    assert sub.purchase_ids == ("sale1==", "sale2==")
    assert sub.created_at == utc(2026, 3, 4, 10)
    assert sub.recurrence == "yearly"
    assert sub.is_active
    assert sub.churned_at is None
    assert sub.license_key == "ABCD-1234"


def test_a_pending_cancellation_is_active_a_failed_one_churned():
    pending = parse_subscriber(
        {
            **SUBSCRIBER,
            "status": "pending_cancellation",
            "cancelled_at": "2026-09-01T00:00:00Z",
        }
    )
    assert pending.is_active and pending.churned_at is None
    failed = parse_subscriber(
        {
            **SUBSCRIBER,
            "status": "failed_payment",
            "failed_at": "2026-05-02T08:00:00Z",
        }
    )
    assert not failed.is_active
    assert failed.churned_at == utc(2026, 5, 2, 8)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("id", None),
        ("recurrence", "weekly"),
        ("status", "paused"),
        ("created_at", "yesterday"),
        ("charge_occurrence_count", "3"),
        ("purchase_ids", "sale1=="),
    ],
)
def test_a_malformed_subscriber_names_its_field(key, value):
    with pytest.raises(MalformedPayloadError, match=key):
        parse_subscriber({**SUBSCRIBER, key: value})


def test_months_per_recurrence():
    assert [
        months_per_recurrence(r)
        for r in ("monthly", "quarterly", "biannually", "yearly", "every_two_years")
    ] == [1, 3, 6, 12, 24]
    with pytest.raises(ValueError, match="weekly"):
        months_per_recurrence("weekly")


def test_the_recurring_price_is_the_latest_paid_charge():
    charges = [
        {"created_at": "2026-01-01T00:00:00Z", "price": 1000},
        {"created_at": "2026-03-01T00:00:00Z", "price": 2500},
        {"created_at": "2026-02-01T00:00:00Z", "price": 1000},
    ]
    assert recurring_price_cents(charges) == 2500
    trial_then_paid = [
        {"created_at": "2026-04-01T00:00:00Z", "price": 0},
        {"created_at": "2026-03-01T00:00:00Z", "price": 1200},
    ]
    assert recurring_price_cents(trial_then_paid) == 1200
    assert recurring_price_cents([]) == 0
    with pytest.raises(MalformedPayloadError):
        recurring_price_cents([{"created_at": "x", "price": "10.00"}])


def test_monthly_amounts_are_rounded_half_up_to_the_cent():
    assert monthly_amount(10000, "yearly") == Decimal("8.33")
    assert monthly_amount(25000, "yearly") == Decimal("20.83")
    assert monthly_amount(1000, "quarterly") == Decimal("3.33")
    assert monthly_amount(1001, "biannually") == Decimal("1.67")  # 1.66833
    assert monthly_amount(30, "every_two_years") == Decimal("0.01")  # 0.0125
    assert monthly_amount(2500, "monthly") == Decimal("25.00")
    assert monthly_amount(1, "quarterly") == Decimal("0.00")


def test_mrr_sums_the_active_subscriptions_each_rounded():
    assert mrr(
        [
            (True, 10000, "yearly"),  # 8.33
            (True, 10000, "yearly"),  # 8.33, not 16.67 on the total
            (True, 1000, "monthly"),
            (False, 2500, "monthly"),
        ]
    ) == Decimal("26.66")
    assert mrr([]) == Decimal("0.00")


def test_monthly_movements_new_churned_reactivated():
    rows = [
        {
            "product_id": "p",
            "monthly": Decimal("10.00"),
            "created_at": utc(2026, 1, 5),
            "churned_at": utc(2026, 3, 2),
            "restarted_at": None,
        },
        {
            "product_id": "p",
            "monthly": Decimal("8.33"),
            "created_at": utc(2026, 1, 20),
            "churned_at": None,
            "restarted_at": utc(2026, 3, 9),
        },
        {
            "product_id": "q",
            "monthly": Decimal("25.00"),
            "created_at": utc(2026, 3, 31, 23, 59),
            "churned_at": None,
            "restarted_at": None,
        },
    ]
    got = {
        (m.month, m.product_id, m.kind): (m.count, m.mrr_change)
        for m in monthly_movements(rows)
    }
    assert got == {
        ("2026-01", "p", "new"): (2, Decimal("18.33")),
        ("2026-03", "p", "churned"): (1, Decimal("-10.00")),
        ("2026-03", "p", "reactivated"): (1, Decimal("8.33")),
        ("2026-03", "q", "new"): (1, Decimal("25.00")),
    }


def test_every_sandbox_subscriber_parses_through_the_client(sandbox):
    from gumroad.client import GumroadClient

    client = GumroadClient(sandbox.token, base_url=sandbox.base_url)
    membership = next(p for p in sandbox.products if p["is_tiered_membership"])
    listed = [parse_subscriber(s) for s in client.iter_subscribers(membership["id"])]
    active = [
        s
        for s in sandbox.subscribers
        if s["product_id"] == membership["id"]
        and s["status"] in ("alive", "pending_cancellation")
    ]
    assert listed
    assert {s.id for s in listed} == {s["id"] for s in active}
    assert all(s.is_active for s in listed)
