"""The Gumroad balance: what each sale adds, what to book next, and payouts."""

import itertools
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gumroad import GumroadClient, MalformedPayloadError, parse_sale
from gumroad.balance import (
    SaleMoney,
    booked_after,
    plan_money,
    sale_money,
    split_payout,
)
from gumroad.payouts import parse_payout
from gumroad.tests.test_accounting import make_sale
from gumroad_sandbox import ledger

D = Decimal


# -- what a sale does to the balance -----------------------------------------------
def test_plain_sale_adds_price_less_fee():
    money = sale_money(make_sale(price=10000))  # fee 1000
    assert money == SaleMoney(collected=D("100.00"), returned=D(0), fee=D("10.00"))
    assert money.earnings == D("90.00")


def test_preorder_authorization_moves_nothing_on_the_balance():
    sale = make_sale(price=10000, is_preorder_authorization=True)
    assert not sale.paid
    assert sale_money(sale) == SaleMoney()
    assert plan_money(sale_money(sale), SaleMoney()) is None


def test_partial_refund_returns_its_usd_share_with_its_fee_share():
    """A partial refund of R gives back floor(fee * R / price) and retains the
    processor fee of R (app/modules/purchase/refundable.rb:255, app/models/credit.rb
    create_for_refund_fee_retention!)."""
    sale = make_sale(
        price=10000, total="$100", refundable="60.00", partially_refunded=True
    )
    money = sale_money(sale)
    # R = 40.00: fee back 4.00, retained round(4000*29/1000 + 30*4000/10000) = 128.
    assert (money.returned, money.fee, money.retained) == (D(40), D(6), D("1.28"))
    assert money.earnings == D("52.72")


def test_full_refund_and_open_chargeback_give_the_fee_back():
    """A full refund or a chargeback takes back price - fee; only the refund
    retains the processor fee (purchase.rb:2366-2370, :554)."""
    refund = sale_money(make_sale(price=10000, refunded=True, refundable="0"))
    assert (refund.returned, refund.fee, refund.retained) == (D(100), D(0), D("3.20"))
    assert refund.earnings == D("-3.20")
    chargeback = sale_money(make_sale(price=10000, chargedback=True))
    assert (chargeback.returned, chargeback.fee) == (D(100), D(0))
    assert chargeback.earnings == 0


def test_won_dispute_gives_the_money_back():
    money = sale_money(make_sale(price=10000, dispute_won=True))
    assert money.earnings == D("90.00")


def test_free_sale_touches_nothing():
    assert sale_money(make_sale(price=0, total="$0")) == SaleMoney()


# -- what to book next ---------------------------------------------------------------
def test_booked_sale_plans_nothing_and_refund_plans_the_difference():
    sold = sale_money(make_sale(price=10000))
    first = plan_money(sold, SaleMoney())
    assert (first.collected, first.returned, first.fee) == (D(100), D(0), D(10))
    assert first.balance == D("90.00")
    assert first.reason == "sale"
    assert plan_money(sold, sold) is None

    refunded = sale_money(make_sale(price=10000, refunded=True, refundable="0"), sold)
    refund = plan_money(refunded, sold)
    # The money goes back, the fee comes back, the processor fee is retained.
    assert (refund.collected, refund.returned, refund.fee) == (D(0), D(100), D(-10))
    assert refund.retained == D("3.20")
    assert refund.balance == D("-93.20")
    assert refund.reason == "refund"


STATES = [
    {},
    {"refundable": "75.00", "partially_refunded": True},
    {"refundable": "10.00", "partially_refunded": True},
    {"refunded": True, "refundable": "0"},
    {"chargedback": True},
    {"dispute_won": True},
]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(range(len(STATES))), min_size=1, max_size=6))
def test_any_order_of_events_is_booked_once(order):
    """Booking each state as it is seen reaches a target that re-plans nothing,
    whatever the order, and the booked amounts stay within the sale's."""
    booked = SaleMoney()
    for index in order:
        sale = make_sale(
            price=10000, total="$100", affiliate={"amount": "$7"}, **STATES[index]
        )
        target = sale_money(sale, booked)
        booked = booked_after(booked, plan_money(target, booked))
        assert booked == target
        assert plan_money(sale_money(sale, booked), booked) is None
        assert D(0) <= booked.fee <= D(10)
        assert D(0) <= booked.affiliate <= D(7)
        # A refund never un-happens; an open chargeback keeps nothing.
        assert booked.kept <= 100 - sale.usd_refunded
        assert booked.kept == 0 or not sale.chargedback


def test_split_payout_always_adds_up():
    lines, rest = split_payout(D("100.00"), {"a": D("45.50"), "b": D("60.00")})
    assert lines == {"a": D("45.50"), "b": D("60.00")}
    assert rest == D("-5.50")  # a refund of a sale paid out before
    assert sum(lines.values()) + rest == D("100.00")


# -- payouts ---------------------------------------------------------------------------
PAYOUT = {
    "id": "cGF5b3V0MDAwMDAwMDAwMDA=",
    "amount": "150.00",
    "currency": "USD",
    "status": "completed",
    "created_at": "2026-11-13T09:12:00Z",
    "processed_at": "2026-11-13T11:12:00Z",
    "payment_processor": "STRIPE",
    "bank_account_visual": "******6789",
    "paypal_email": None,
}


def test_parse_payout_reads_the_dollar_string():
    payout = parse_payout({**PAYOUT, "sales": ["a", "b"], "refunded_sales": ["b"]})
    assert payout.amount == D("150.00")
    assert payout.is_paid
    assert payout.payout_date.isoformat() == "2026-11-13"
    assert payout.sale_ids == ("a", "b")
    assert payout.refunded_sale_ids == ("b",)
    assert parse_payout(PAYOUT).sale_ids is None  # not listed, not "no sales"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": None}, "'id' is missing (an upcoming payout has no id yet)"),
        ({"amount": 150}, "'amount' is not a decimal string (150)"),
        ({"amount": "1.005"}, "'amount' is not an amount in cents"),
        ({"amount": "-3.00"}, "'amount' is not an amount in cents"),
        ({"amount": "lots"}, "'amount' is not a number"),
        ({"created_at": "Friday"}, "'created_at' is not an ISO 8601 date-time"),
        ({"sales": "a,b"}, "'sales' is not a list of sale ids"),
    ],
)
def test_parse_payout_names_the_key_at_fault(change, message):
    with pytest.raises(MalformedPayloadError) as caught:
        parse_payout({**PAYOUT, **change})
    assert message in str(caught.value)


# -- against the sandbox ------------------------------------------------------------
def _books(sandbox):
    """Earnings of every listed sale minus every payout, read through the client."""
    client = GumroadClient(sandbox.token, base_url=sandbox.base_url)
    sales = [parse_sale(s) for s in client.iter_sales()]
    earned = sum(
        (sale_money(sale).earnings for sale in sales if not sale.is_direct), D(0)
    )
    payouts = [parse_payout(p) for p in client.iter_payouts()]
    paid = sum((p.amount for p in payouts if p.is_paid), D(0))
    return earned - paid, payouts


def _seen_once(sandbox):
    """Cents by which reading the sandbox once differs from Gumroad's books: a sale
    refunded twice before the first read is one refund to the reader, split once
    (its fee floor and retention differ by a cent or two). The Odoo tests import
    after each refund and see each one."""
    difference = 0
    for data in sandbox.sales:
        row = sandbox.store.rows_by_id[data["id"]]
        if len(row.refunds_usd()) > 1 and not row.direct:
            mine = sale_money(parse_sale(data)).earnings * 100
            difference += ledger.earnings(row) - int(mine)
    return difference


def test_balance_read_through_the_api_equals_the_sandbox_balance(make_sandbox):
    sandbox = make_sandbox(sales=120, seed=5)
    balance, payouts = _books(sandbox)
    expected = sandbox.balance()
    assert len(payouts) == expected["payouts"] > 0
    assert balance * 100 + _seen_once(sandbox) == expected["balance_cents"] > 0
    assert abs(_seen_once(sandbox)) < 5

    # Refund a sale already paid out, charge back another: the balance follows.
    paid_ids = [
        sale["id"]
        for sale in sandbox.sales
        if sale["price"] > 0 and not sale.get("refunded") and not sale["disputed"]
    ]
    sandbox.refund(paid_ids[-1])
    sandbox.dispute(paid_ids[-2])
    sandbox.refund(paid_ids[0], amount_cents=100)
    balance, _payouts = _books(sandbox)
    assert balance * 100 + _seen_once(sandbox) == sandbox.balance()["balance_cents"]

    # Paying the balance out leaves nothing.
    payout = sandbox.pay_out()
    assert D(payout["amount"]) * 100 == balance * 100 + _seen_once(sandbox)
    balance, payouts = _books(sandbox)
    assert (
        balance * 100 + _seen_once(sandbox) == 0 == sandbox.balance()["balance_cents"]
    )
    assert payouts[0].id == payout["id"]
    assert set(payout["sales"]) <= {s["id"] for s in sandbox.sales}


def test_nothing_to_pay_out_is_said(make_sandbox):
    sandbox = make_sandbox(sales=30, seed=2)
    sandbox.pay_out()
    with pytest.raises(Exception, match="nothing to pay out"):
        sandbox.pay_out()


def test_payout_lists_each_sale_once(make_sandbox):
    sandbox = make_sandbox(sales=200, seed=8)
    client = GumroadClient(sandbox.token, base_url=sandbox.base_url)
    listed = [
        parse_payout(client.get_payout(p["id"])).sale_ids for p in client.iter_payouts()
    ]
    ids = list(itertools.chain.from_iterable(listed))
    assert ids and len(ids) == len(set(ids))
