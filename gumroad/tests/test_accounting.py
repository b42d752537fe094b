"""Mapping sales to invoices and credit notes: targets, adjustment plans, windows."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gumroad import (
    Adjustment,
    SaleTarget,
    date_windows,
    parse_sale,
    plan_adjustments,
    sale_target,
)

D = Decimal


def make_sale(
    *,
    price=10000,
    total="$100",
    refundable=None,
    refunded=False,
    partially_refunded=False,
    chargedback=False,
    dispute_won=False,
    currency=None,
    **extra,
):
    data = {
        "id": "QUNDVE5HU0FMRTAwMDAwMA==",
        "created_at": "2026-07-20T18:42:07Z",
        "product_id": "cHJvZHVjdDAwMDAwMDAwMA==",
        "product_name": "Course",
        "email": "buyer@example.com",
        "price": price,
        "gumroad_fee": price // 10,
        "formatted_total_price": total,
        "amount_refundable_in_currency": total.lstrip("$€¥")
        if refundable is None
        else refundable,
        "refunded": refunded,
        "partially_refunded": partially_refunded,
        "chargedback": chargedback,
        "disputed": chargedback or dispute_won,
        "dispute_won": dispute_won,
        "order_id": 123,
        **extra,
    }
    if currency:
        data["currency"] = currency
    return parse_sale(data)


class Books:
    """What the Odoo layer would have booked for one sale."""

    def __init__(self):
        self.invoiced = D(0)
        self.credited = D(0)
        self.reinvoiced = D(0)
        self.history = []

    @property
    def net(self):
        return self.invoiced + self.reinvoiced - self.credited

    def sync(self, sale, **target_kwargs):
        target = sale_target(sale, **target_kwargs)
        plan = plan_adjustments(
            target,
            invoiced=self.invoiced,
            credited=self.credited,
            reinvoiced=self.reinvoiced,
            sale=sale,
        )
        for adjustment in plan:
            assert adjustment.amount > 0
            if adjustment.kind == "invoice":
                self.invoiced += adjustment.amount
            elif adjustment.kind == "credit_note":
                self.credited += adjustment.amount
            else:
                assert adjustment.kind == "reinvoice"
                self.reinvoiced += adjustment.amount
        self.history.append(plan)
        if target.invoice_amount:
            assert self.net == target.net_amount
        return target, plan


# --- sale_target ----------------------------------------------------------------


def test_plain_sale_is_invoiced_in_usd():
    target = sale_target(make_sale())
    assert target == SaleTarget("USD", D("100.00"), D("100.00"), "invoiced")


def test_eur_sale_in_usd_mode_uses_the_usd_price():
    sale = make_sale(price=1100, total="€10", refundable="10", currency="eur")
    target = sale_target(sale, mode="usd")
    assert target.currency == "USD"
    assert target.invoice_amount == D("11.00")
    assert target.net_amount == D("11.00")


def test_eur_sale_in_listed_mode_uses_the_listed_amounts():
    sale = make_sale(price=1100, total="€10", refundable="10", currency="eur")
    target = sale_target(sale, mode="listed")
    assert target == SaleTarget("EUR", D("10.00"), D("10.00"), "invoiced")


def test_listed_mode_falls_back_to_the_given_currency_then_usd():
    sale = make_sale(price=1100, total="€10", refundable="10")
    assert sale_target(sale, mode="listed", listed_currency="eur").currency == "EUR"
    assert sale_target(sale, mode="listed").currency == "USD"
    with_currency = make_sale(total="€10", refundable="10", currency="eur")
    assert (
        sale_target(with_currency, mode="listed", listed_currency="gbp").currency
        == "EUR"
    )


def test_partial_refund_is_adjusted_to_the_cent():
    sale = make_sale(refundable="49.50", partially_refunded=True)
    assert sale_target(sale) == SaleTarget("USD", D("100.00"), D("49.50"), "adjusted")


def test_partial_refund_of_a_eur_sale_in_both_modes():
    sale = make_sale(
        price=1100,
        total="€10",
        refundable="7.50",
        partially_refunded=True,
        currency="eur",
    )
    assert sale_target(sale) == SaleTarget("USD", D("11.00"), D("8.25"), "adjusted")
    assert sale_target(sale, mode="listed") == SaleTarget(
        "EUR", D("10.00"), D("7.50"), "adjusted"
    )


def test_full_refund_is_reversed():
    sale = make_sale(refundable="0", refunded=True)
    assert sale_target(sale) == SaleTarget("USD", D("100.00"), D("0.00"), "reversed")


def test_open_dispute_is_reversed_even_after_a_partial_refund():
    sale = make_sale(refundable="49.50", partially_refunded=True, chargedback=True)
    assert sale_target(sale).net_amount == D("0")
    assert sale_target(sale).state == "reversed"


def test_won_dispute_restores_the_net():
    sale = make_sale(refundable="49.50", partially_refunded=True, dispute_won=True)
    assert sale_target(sale) == SaleTarget("USD", D("100.00"), D("49.50"), "adjusted")


def test_free_sale_is_skipped():
    sale = make_sale(price=0, total="$0", refundable="0", refunded=None)
    assert sale_target(sale) == SaleTarget("USD", D("0.00"), D("0.00"), "skipped")


def test_gift_receiver_row_is_skipped_and_sender_row_invoiced():
    receiver = make_sale(
        price=0, total="$0", refundable="0", is_gift_receiver_purchase=True
    )
    sender = make_sale(is_gift_sender_purchase=True, giftee_email="friend@example.com")
    assert sale_target(receiver).state == "skipped"
    assert sale_target(sender).state == "invoiced"


def test_preorder_authorization_books_nothing_and_its_release_is_invoiced():
    # Gumroad charges nothing at authorization; the release is a new sale
    # (facts file §4.2, purchase.rb:1031-1035; app/models/preorder.rb:79-91).
    books = Books()
    authorization = make_sale(is_preorder_authorization=True, is_in_preorder_state=True)
    for mode in ("usd", "listed"):
        assert sale_target(authorization, mode=mode) == SaleTarget(
            "USD", D("0.00"), D("0.00"), "authorized"
        )
    _target, plan = books.sync(authorization)
    assert (plan, books.net) == ([], D(0))
    release = make_sale(preorder_authorization_time="2026-07-01T10:00:00Z")
    assert sale_target(release) == SaleTarget(
        "USD", D("100.00"), D("100.00"), "invoiced"
    )


def test_jpy_thousands_in_listed_mode():
    sale = make_sale(price=670, total="¥1,000", refundable="1,000", currency="jpy")
    target = sale_target(sale, mode="listed")
    assert target == SaleTarget("JPY", D("1000.00"), D("1000.00"), "invoiced")


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="mode"):
        sale_target(make_sale(), mode="eur")


# --- plan_adjustments -------------------------------------------------------------


def test_new_sale_gets_one_invoice_then_nothing():
    books = Books()
    sale = make_sale()
    _, plan = books.sync(sale)
    assert plan == [Adjustment("invoice", D("100.00"), "sale")]
    _, plan = books.sync(sale)
    assert plan == []


def test_sale_first_seen_fully_refunded_gets_invoice_and_credit_note():
    books = Books()
    _, plan = books.sync(make_sale(refundable="0", refunded=True))
    assert plan == [
        Adjustment("invoice", D("100.00"), "sale"),
        Adjustment("credit_note", D("100.00"), "full refund"),
    ]
    assert books.net == 0


def test_sale_first_seen_partially_refunded_gets_invoice_and_partial_credit():
    books = Books()
    _, plan = books.sync(make_sale(refundable="49.50", partially_refunded=True))
    assert plan == [
        Adjustment("invoice", D("100.00"), "sale"),
        Adjustment("credit_note", D("50.50"), "partial refund"),
    ]


def test_second_partial_refund_credits_only_the_difference():
    books = Books()
    books.sync(make_sale())
    _, plan = books.sync(make_sale(refundable="70", partially_refunded=True))
    assert plan == [Adjustment("credit_note", D("30.00"), "partial refund")]
    _, plan = books.sync(make_sale(refundable="45.25", partially_refunded=True))
    assert plan == [Adjustment("credit_note", D("24.75"), "partial refund")]
    assert books.net == D("45.25")
    assert books.credited == D("54.75")


def test_partials_then_full_refund_credit_the_rest():
    books = Books()
    books.sync(make_sale(refundable="70", partially_refunded=True))
    _, plan = books.sync(make_sale(refundable="0", refunded=True))
    assert plan == [Adjustment("credit_note", D("70.00"), "full refund")]
    assert books.net == 0


def test_open_dispute_credits_the_remaining_net_and_a_win_reinvoices_it():
    books = Books()
    books.sync(make_sale(refundable="70", partially_refunded=True))
    _, plan = books.sync(
        make_sale(refundable="70", partially_refunded=True, chargedback=True)
    )
    assert plan == [Adjustment("credit_note", D("70.00"), "dispute")]
    assert books.net == 0
    _, plan = books.sync(
        make_sale(refundable="70", partially_refunded=True, dispute_won=True)
    )
    assert plan == [Adjustment("reinvoice", D("70.00"), "dispute won")]
    assert books.net == D("70.00")
    _, plan = books.sync(
        make_sale(refundable="70", partially_refunded=True, dispute_won=True)
    )
    assert plan == []


def test_dispute_seen_first_gets_invoice_and_dispute_credit():
    books = Books()
    _, plan = books.sync(make_sale(chargedback=True))
    assert plan == [
        Adjustment("invoice", D("100.00"), "sale"),
        Adjustment("credit_note", D("100.00"), "dispute"),
    ]


def test_won_dispute_seen_first_is_a_plain_invoice():
    books = Books()
    _, plan = books.sync(make_sale(dispute_won=True))
    assert plan == [Adjustment("invoice", D("100.00"), "sale")]


def test_booked_equal_to_target_plans_nothing():
    sale = make_sale(refundable="49.50", partially_refunded=True)
    target = sale_target(sale)
    assert (
        plan_adjustments(
            target,
            invoiced=D("100.00"),
            credited=D("50.50"),
            reinvoiced=D("0"),
            sale=sale,
        )
        == []
    )
    # Floats or unquantized values from the database compare to the cent.
    assert (
        plan_adjustments(
            target, invoiced=D("100"), credited=D("50.5"), reinvoiced=0, sale=sale
        )
        == []
    )


def test_free_sale_plans_nothing():
    sale = make_sale(price=0, total="$0", refundable="0")
    target = sale_target(sale)
    assert (
        plan_adjustments(target, invoiced=0, credited=0, reinvoiced=0, sale=sale) == []
    )


def test_eur_partial_refund_in_listed_mode_credits_listed_amount():
    books = Books()
    sale = make_sale(price=1100, total="€10", refundable="10", currency="eur")
    books.sync(sale, mode="listed")
    refunded = make_sale(
        price=1100,
        total="€10",
        refundable="7.50",
        partially_refunded=True,
        currency="eur",
    )
    _, plan = books.sync(refunded, mode="listed")
    assert plan == [Adjustment("credit_note", D("2.50"), "partial refund")]


STATES = st.fixed_dictionaries(
    {
        "refundable_cents": st.integers(min_value=0, max_value=10000),
        "kind": st.sampled_from(["none", "partial", "full"]),
        "dispute": st.sampled_from(["none", "open", "won"]),
    }
)


@settings(max_examples=200, deadline=None)
@given(st.lists(STATES, min_size=1, max_size=6), st.sampled_from(["usd", "listed"]))
def test_fuzz_any_sequence_of_states_ends_booked_at_target(states, mode):
    books = Books()
    for state in states:
        whole, minor = divmod(state["refundable_cents"], 100)
        sale = make_sale(
            price=1100,
            total="€100",
            currency="eur",
            refundable="0" if state["kind"] == "full" else f"{whole}.{minor:02d}",
            refunded=state["kind"] == "full",
            partially_refunded=state["kind"] == "partial",
            chargedback=state["dispute"] == "open",
            dispute_won=state["dispute"] == "won",
        )
        target, _ = books.sync(sale, mode=mode)
        assert books.net == target.net_amount
        again = plan_adjustments(
            target,
            invoiced=books.invoiced,
            credited=books.credited,
            reinvoiced=books.reinvoiced,
            sale=sale,
        )
        assert again == []


# --- date_windows -----------------------------------------------------------------


def test_date_windows_tile_the_range_newest_first():
    windows = date_windows(date(2026, 7, 1), date(2026, 7, 10), 7)
    assert windows == [
        (date(2026, 7, 4), date(2026, 7, 11)),
        (date(2026, 7, 1), date(2026, 7, 4)),
    ]


def test_single_day_range_is_one_window():
    day = date(2026, 7, 1)
    assert date_windows(day, day, 7) == [(day, date(2026, 7, 2))]


def test_one_day_windows():
    windows = date_windows(date(2026, 7, 1), date(2026, 7, 3), 1)
    assert windows == [
        (date(2026, 7, 3), date(2026, 7, 4)),
        (date(2026, 7, 2), date(2026, 7, 3)),
        (date(2026, 7, 1), date(2026, 7, 2)),
    ]


def test_empty_range_has_no_window():
    assert date_windows(date(2026, 7, 2), date(2026, 7, 1), 7) == []


def test_window_size_must_be_positive():
    with pytest.raises(ValueError):
        date_windows(date(2026, 7, 1), date(2026, 7, 2), 0)


@settings(max_examples=200, deadline=None)
@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)),
    st.integers(min_value=0, max_value=400),
    st.integers(min_value=1, max_value=60),
)
def test_fuzz_date_windows_cover_every_day_exactly_once(start, length, days):
    end = start + timedelta(days=length)
    windows = date_windows(start, end, days)
    covered = [
        after + timedelta(days=offset)
        for after, before in windows
        for offset in range((before - after).days)
    ]
    assert sorted(covered) == [start + timedelta(days=i) for i in range(length + 1)]
    assert all(0 < (before - after).days <= days for after, before in windows)
    assert windows == sorted(windows, reverse=True)
