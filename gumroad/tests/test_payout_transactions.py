"""Payout transactions: GET /payouts/:id?include_transactions=true.

The row shape is Exports::Payouts::Base#payout_data (antiwork/gumroad
app/services/exports/payouts/base.rb; columns: Exports::Payouts::Csv::HEADERS in
csv.rb), returned by Exports::Payouts::Api#perform (fork iamnikhilranjan/gumroad
app/services/exports/payouts/api.rb) as Payment#as_json's `transactions` (fork
adityawrk/gumroad app/models/payment.rb). See readme/GUMROAD_MONEY.md section 7(c).
"""

import json
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from gumroad.errors import MalformedPayloadError
from gumroad.payouts import (
    TRANSACTION_COLUMNS,
    match_payout_transactions,
    parse_payout,
    parse_transactions,
)

DATA = Path(__file__).parent / "data"


def recorded():
    return json.loads((DATA / "payout_get_with_transactions.json").read_text())[
        "payout"
    ]


def test_recorded_payout_parses_and_its_net_column_is_the_amount():
    data = recorded()
    rows = parse_transactions(data, data["id"])
    assert [row.kind for row in rows] == [
        "Sale",
        "Affiliate Credit",
        "Chargeback",
        "Sale",
        "Full Refund",
        "Credit",
        "Payout Fee",
    ]
    # payout_data keeps a running total of the net column; Gumroad adds a
    # Technical Adjustment row when it differs from amount_cents.
    assert sum(row.net for row in rows) == parse_payout(data).amount
    sale = rows[0]
    assert (sale.gross, sale.fee, sale.net) == (
        Decimal("10.00"),
        Decimal("1.35"),
        Decimal("8.65"),
    )
    assert sale.sale_id == "mW1n0Q9JcM3xZVfLr2Ykfw=="
    assert str(rows[2].tax) == "0.00"  # -0.0 reads as zero
    assert rows[1].sale_id is None and rows[1].fee is None  # "" cells


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("transactions"), "'transactions' is missing"),
        (lambda d: d.update(transactions={}), "'transactions' is not a list"),
        (
            lambda d: d["transactions"][0].pop(),
            r"'transactions\[0\]' is not a row of 11 cells",
        ),
        (
            lambda d: d["transactions"][3].__setitem__(10, "lots"),
            r"'transactions\[3\]\[10\] \(Net Total \(\$\)\)' is not an amount",
        ),
        (
            lambda d: d["transactions"][0].__setitem__(1, "07/01/2026"),
            r"'transactions\[0\]\[1\] \(Date\)' is not a YYYY-MM-DD date",
        ),
        (
            lambda d: d["transactions"][0].__setitem__(2, 7),
            r"'transactions\[0\]\[2\] \(Purchase ID\)' is not a string",
        ),
        (
            lambda d: d["transactions"][0].__setitem__(8, True),
            r"'transactions\[0\]\[8\] \(Sale Price \(\$\)\)' is not an amount",
        ),
    ],
)
def test_every_malformed_transaction_names_the_cell(mutate, message):
    data = recorded()
    mutate(data)
    with pytest.raises(MalformedPayloadError, match=message):
        parse_transactions(data, data["id"])


BOOKED = {
    "mW1n0Q9JcM3xZVfLr2Ykfw==": Decimal("8.65"),
    "q5sZyD2qX1Rk0Mn7eTL8vA==": Decimal("22.37"),
    "Jd4Lw9pA7sE2uXk1mQz0Ra==": Decimal("-10.48"),
    # The refund as Odoo booked it from the sale JSON: price less the fee given back.
    "b8Tq3vN1yW0aZp6sKcLm2g==": Decimal("-4.07"),
}


def by_key(matches):
    return {(m.kind, m.sale_id): m for m in matches}


def test_matching_lists_the_retained_fee_and_gumroads_own_rows():
    """A refund gives Gumroad's fee back and retains the processor's part
    (app/models/credit.rb refund fee retention; base.rb#summarize_full_refund puts
    retained_fee_cents in the fee and net cells): a difference to book."""
    matches = by_key(match_payout_transactions(parse_transactions(recorded()), BOOKED))
    assert matches["Sale", "mW1n0Q9JcM3xZVfLr2Ykfw=="].state == "matched"
    assert matches["Chargeback", "Jd4Lw9pA7sE2uXk1mQz0Ra=="].state == "matched"
    refund = matches["Full Refund", "b8Tq3vN1yW0aZp6sKcLm2g=="]
    assert (refund.state, refund.book) == ("adjustment", Decimal("-0.45"))
    assert refund.label.startswith("Processor fee Gumroad retained")
    credit = matches["Credit", None]
    assert (credit.state, credit.book, credit.label) == (
        "adjustment",
        Decimal("3.00"),
        "Gumroad credit (2026-07-03)",
    )
    assert matches["Payout Fee", None].book == Decimal("-2.00")
    # Affiliate credits are booked with their sales, not from the payout.
    affiliate = matches["Affiliate Credit", None]
    assert (affiliate.state, affiliate.book) == ("information", 0)


def test_matching_finds_a_sale_never_booked_and_an_amount_that_differs():
    booked = dict(BOOKED)
    del booked["mW1n0Q9JcM3xZVfLr2Ykfw=="]
    booked["q5sZyD2qX1Rk0Mn7eTL8vA=="] = Decimal("22.00")
    matches = by_key(match_payout_transactions(parse_transactions(recorded()), booked))
    missing = matches["Sale", "mW1n0Q9JcM3xZVfLr2Ykfw=="]
    assert (missing.state, missing.booked, missing.book) == ("not_booked", None, 0)
    differs = matches["Sale", "q5sZyD2qX1Rk0Mn7eTL8vA=="]
    assert (differs.state, differs.difference, differs.book) == (
        "amount",
        Decimal("0.37"),
        0,
    )


def row(kind, sale_id, gross, fee, net):
    cells = [kind, "2026-07-02", sale_id or "", "", "", "", "", "", gross, fee, net]
    return cells


def test_affiliate_credit_rows_match_the_commissions_booked_over_the_payout():
    """base.rb calculate_affiliate_for_balance: the Affiliate Credit row is the
    affiliate credits of the balance's sales, negative, given back by refunds."""
    rows = parse_transactions(
        {
            "transactions": [
                row("Sale", "a", 20.0, 2.5, 17.5),
                row("Affiliate Credit", None, -2.0, "", -2.0),
            ]
        }
    )
    [sale, affiliate] = sorted(
        match_payout_transactions(rows, {"a": Decimal("17.50")}, Decimal("2.00")),
        key=lambda m: m.kind,
    )[::-1]
    assert (sale.state, affiliate.state, affiliate.book) == ("matched", "matched", 0)
    [differs] = [
        m
        for m in match_payout_transactions(rows, {"a": Decimal("17.50")}, Decimal(3))
        if m.kind == "Affiliate Credit"
    ]
    assert (differs.state, differs.difference, differs.book) == (
        "amount",
        Decimal("1.00"),
        0,
    )


def test_retained_fee_difference_is_booked_against_the_retained_fee():
    """credit.rb create_for_refund_fee_retention! uses the purchase's own
    processor_fee_cents when Gumroad has it: the refund row may retain another
    amount than the connector's estimate (summarize_partial_refund)."""
    rows = parse_transactions(
        {"transactions": [row("Partial Refund", "a", -5.0, -0.35, -4.95)]}
    )
    [match] = match_payout_transactions(rows, {"a": Decimal("-4.89")})
    assert (match.state, match.book, match.against) == (
        "adjustment",
        Decimal("-0.06"),
        "retained",
    )
    assert match.label.startswith("Processor fee Gumroad retained (difference)")


def test_two_refunds_seen_as_one_book_their_difference_when_the_sale_row_agrees():
    """Two partial refunds the books saw as one: Gumroad floors each refund's fee
    share and retained fee on its own (summarize_partial_refund), so their rows sum
    to a cent or two from the books' one refund. The Sale row (price - fee) agrees,
    so the difference is the refunds': booked against the retained fee."""
    rows = parse_transactions(
        {
            "transactions": [
                row("Sale", "a", 20.0, 2.5, 17.5),
                row("Partial Refund", "a", -3.0, -0.37, -2.72),
                row("Partial Refund", "a", -2.0, -0.25, -1.81),
            ]
        }
    )
    booked = {"a": Decimal("12.99")}
    [match] = match_payout_transactions(rows, booked, sale_nets={"a": Decimal("17.5")})
    assert (match.state, match.book, match.against) == (
        "adjustment",
        Decimal("-0.02"),
        "retained",
    )
    # Without the Sale row's net, or when that row disagrees, the difference could be
    # the sale's own; beyond two cents a refund row, it is no floor (a refund the
    # books have not seen, say); with the Sale row alone, nothing is a refund's:
    # shown, not booked.
    for nets, mine in (
        ({}, booked),
        ({"a": Decimal("17.40")}, booked),
        ({"a": Decimal("17.5")}, {"a": Decimal("13.02")}),
    ):
        [match] = match_payout_transactions(rows, mine, sale_nets=nets)
        assert (match.state, match.book) == ("amount", 0)
    [alone] = match_payout_transactions(
        rows[:1], {"a": Decimal("17.49")}, sale_nets={"a": Decimal("17.5")}
    )
    assert (alone.state, alone.book) == ("amount", 0)


def test_refunds_seen_as_one_book_the_affiliate_cent_they_round_apart():
    """Gumroad rounds the affiliate's share of each refund on its own too
    (refundable.rb, the Affiliate Credit row of base.rb): for refunds seen as one,
    a cent per refund row of the Affiliate Credit row is theirs, booked against the
    affiliate commission; more is another sale's state, shown."""
    rows = parse_transactions(
        {
            "transactions": [
                row("Sale", "a", 20.0, 2.5, 17.5),
                row("Partial Refund", "a", -3.0, -0.37, -2.72),
                row("Partial Refund", "a", -2.0, -0.25, -1.81),
                row("Affiliate Credit", None, -1.51, "", -1.51),
            ]
        }
    )
    nets = {"a": Decimal("17.5")}
    matches = by_key(
        match_payout_transactions(
            rows, {"a": Decimal("12.99")}, Decimal("1.50"), sale_nets=nets
        )
    )
    affiliate = matches["Affiliate Credit", None]
    assert (affiliate.state, affiliate.book, affiliate.against) == (
        "adjustment",
        Decimal("-0.01"),
        "affiliate",
    )
    matches = by_key(
        match_payout_transactions(
            rows, {"a": Decimal("12.99")}, Decimal("1.40"), sale_nets=nets
        )
    )
    assert matches["Affiliate Credit", None].state == "amount"
    # Without refunds seen as one, an affiliate difference is never booked.
    matches = by_key(
        match_payout_transactions(
            rows, {"a": Decimal("12.97")}, Decimal("1.50"), sale_nets=nets
        )
    )
    assert (
        matches["Affiliate Credit", None].state,
        matches["Sale, Partial Refund, Partial Refund", "a"].state,
    ) == (
        "amount",
        "matched",
    )


def test_direct_sales_rows_are_information():
    """base.rb merge_paypal_sales_data / merge_stripe_connect_sales_data: sales
    paid by the processor directly are listed and net to zero in the payout."""
    rows = parse_transactions(
        {
            "transactions": [
                row("Sale", "d", 30.0, 3.5, 26.5),
                row("Stripe Connect Refund", "d", -30.0, 0, -30.0),
                row("Stripe Connect Payouts", None, 3.5, "", 3.5),
            ]
        }
    )
    matches = match_payout_transactions(rows, {}, direct={"d"})
    assert {m.state for m in matches} == {"information"}
    assert all(m.book == 0 for m in matches)


# -- the sandbox -------------------------------------------------------------------
def get(sandbox, path, **params):
    return requests.get(
        sandbox.base_url + path,
        params=params,
        headers={"Authorization": f"Bearer {sandbox.token}"},
        timeout=10,
    )


def test_sandbox_payouts_list_transactions_summing_to_their_amount(sandbox):
    listed = get(sandbox, "/payouts", include_upcoming="false").json()["payouts"]
    assert listed
    for item in listed:
        body = get(sandbox, f"/payouts/{item['id']}", include_transactions="true")
        payout = body.json()["payout"]
        rows = payout["transactions"]
        assert all(len(row) == len(TRANSACTION_COLUMNS) for row in rows)
        parsed = parse_transactions(payout)
        assert sum(row.net for row in parsed) == parse_payout(payout).amount
        sales = {row.sale_id for row in parsed if row.kind == "Sale"}
        assert sales == set(payout["sales"])
    plain = get(sandbox, f"/payouts/{listed[0]['id']}").json()["payout"]
    assert "transactions" not in plain


def test_sandbox_credit_refund_and_payout_rows(sandbox):
    old_sale = next(
        row
        for payout in sandbox.store.payouts
        for row in map(sandbox.store.rows_by_id.get, payout.sale_ids)
        if not (row.refunded_listed or row.disputed or row.gift_role)
    )
    before = sandbox.balance()["balance_cents"]
    sandbox.refund(old_sale.id)
    after_refund = sandbox.balance()["balance_cents"]
    balance = sandbox.add_credit(1234, "goodwill")["balance_cents"]
    assert balance == after_refund + 1234  # the credit moves the balance
    upcoming = get(sandbox, "/payouts/upcoming", include_transactions="true")
    [coming] = upcoming.json()["payouts"]
    assert Decimal(coming["amount"]) * 100 == balance
    assert sum(Decimal(str(r[-1])) for r in coming["transactions"]) * 100 == balance
    payout = sandbox.payout(sandbox.pay_out()["id"])
    assert Decimal(payout["amount"]) * 100 == balance
    rows = parse_transactions(payout)
    [refund] = [row for row in rows if row.sale_id == old_sale.id]
    assert refund.kind == "Full Refund"
    assert refund.net * 100 == after_refund - before  # from the sale's own methods
    [credit] = [row for row in rows if row.kind == "Credit"]
    assert (credit.net, credit.sale_id) == (Decimal("12.34"), None)
    assert sandbox.balance()["balance_cents"] == 0
    # Counted once: a later payout does not list them again.
    sandbox.add_sale()
    again = parse_transactions(sandbox.payout(sandbox.pay_out()["id"]))
    assert [row.kind for row in again] == ["Sale"]
