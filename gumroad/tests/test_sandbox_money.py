"""The sandbox books every kind of sale by Gumroad's money rules G1-G8 (issue #17).

Figures, USD cents, for the $29 handbook (`odoohb`): price 2900, fee 10 % + 50 =
340, an affiliate credit of 250, so the seller earns 2900 - 340 - 250 = 2310.
"""

from urllib.parse import parse_qs

import pytest
import requests

from gumroad_sandbox import SandboxError
from gumroad_sandbox.ledger import retained_fee

HANDBOOK = "odoohb"
POSTER = "closepst"  # the demo's physical product


def _product_id(server, permalink):
    return server.store.product(permalink).id


def _money(server):
    balance = server.balance()
    return {key: value for key, value in balance.items() if key.endswith("_cents")}


def _delta(before, after):
    return {key: after[key] - before[key] for key in after if after[key] != before[key]}


@pytest.fixture
def server(make_sandbox):
    return make_sandbox(sales=40, seed=11)


def _affiliated(server, **options):
    return server.add_sale(
        product_id=_product_id(server, HANDBOOK),
        affiliate_email="aff@example.com",
        affiliate_credit_cents=250,
        **options,
    )


def test_a_sale_credits_price_less_fee_less_affiliate_credit(server):
    before = _money(server)
    sale = _affiliated(server)
    assert (sale["price"], sale["gumroad_fee"]) == (2900, 340)
    assert sale["affiliate"] == {"email": "aff@example.com", "amount": "$2.50"}
    assert _delta(before, _money(server)) == {
        "gross_cents": 2900,
        "fees_cents": 340,
        "affiliate_cents": 250,
        "earned_cents": 2310,
        "balance_cents": 2310,
    }
    ping = parse_qs(server.ping_body("sale", sale["id"]).decode())
    assert ping["affiliate_credit_amount_cents"] == ["250"]
    assert ping["affiliate"] == ["aff@example.com"]


def test_a_whole_dollar_affiliate_credit_reads_without_cents(server):
    sale = _affiliated(server)
    assert sale["affiliate"]["amount"] == "$2.50"
    whole = server.add_sale(
        product_id=_product_id(server, HANDBOOK),
        affiliate_email="aff@example.com",
        affiliate_credit_cents=300,
    )
    assert whole["affiliate"]["amount"] == "$3"
    zero = server.add_sale(
        product_id=_product_id(server, HANDBOOK),
        affiliate_email="self@example.com",
        affiliate_credit_cents=0,
    )
    assert zero["affiliate"]["amount"] == "$0"
    ping = parse_qs(server.ping_body("sale", zero["id"]).decode())
    assert "affiliate_credit_amount_cents" not in ping  # no AffiliateCredit row
    assert ping["affiliate"] == ["self@example.com"]


def test_a_full_refund_leaves_minus_the_retained_processor_fee(server):
    sale = _affiliated(server)
    before = _money(server)
    server.refund(sale["id"])
    # round_half_up(2900 * 29 / 1000 + 30 * 2900 / 2900) = round(114.1) = 114
    assert retained_fee(2900, 2900) == 114
    assert _delta(before, _money(server)) == {
        "refunded_cents": 2900,
        "fees_cents": -340,
        "affiliate_cents": -250,
        "retained_cents": 114,
        "earned_cents": -2310 - 114,
        "balance_cents": -2310 - 114,
    }


def test_partial_refunds_split_fee_and_affiliate_per_refund(server):
    sale = _affiliated(server)
    before = _money(server)
    server.refund(sale["id"], 1000)
    # fee_back floor(340 * 1000 / 2900) = 117, aff_back round(86.2) = 86,
    # seller 1000 - 117 - 86 = 797, retained round(29 + 10.34) = 39.
    assert _delta(before, _money(server)) == {
        "refunded_cents": 1000,
        "fees_cents": -117,
        "affiliate_cents": -86,
        "retained_cents": 39,
        "earned_cents": -797 - 39,
        "balance_cents": -797 - 39,
    }
    middle = _money(server)
    refunded = server.refund(sale["id"])  # the remaining 1900: a partial refund too
    assert refunded["refunded"] is True
    # fee_back floor(222.76) = 222, aff_back min(round(163.79), 250 - 86) = 164,
    # seller 1900 - 222 - 164 = 1514, retained round(55.1 + 19.66) = 75.
    assert _delta(middle, _money(server)) == {
        "refunded_cents": 1900,
        "fees_cents": -222,
        "affiliate_cents": -164,
        "retained_cents": 75,
        "earned_cents": -1514 - 75,
        "balance_cents": -1514 - 75,
    }
    # One cent of fee stays booked: the floors of two refunds, not of one.
    assert _delta(before, _money(server))["fees_cents"] == -339


def test_a_chargeback_takes_back_what_is_left_and_a_won_dispute_gives_it_back(server):
    plain = _affiliated(server)
    before = _money(server)
    server.dispute(plain["id"])
    assert _delta(before, _money(server)) == {
        "refunded_cents": 2900,
        "fees_cents": -340,
        "affiliate_cents": -250,
        "earned_cents": -2310,
        "balance_cents": -2310,  # no dispute fee, nothing retained
    }
    server.win_dispute(plain["id"])
    assert _money(server) == before

    partly = _affiliated(server)
    server.refund(partly["id"], 1000)
    before = _money(server)
    server.dispute(partly["id"])
    # The G3 split of the remaining 1900: seller 1514, no retention.
    assert _delta(before, _money(server))["balance_cents"] == -1514
    server.win_dispute(partly["id"])
    assert _money(server) == before


def test_direct_sales_never_touch_the_gumroad_balance(server):
    before = _money(server)
    stripe = _affiliated(server, payment_processor="stripe_connect")
    paypal = _affiliated(server, payment_processor="paypal", processor_fee_cents=150)
    # Stripe's own fee defaults to 2.9 % + 30: round(84.1) + 30 = 114.
    assert stripe["processor_fee_cents"] == 114
    assert paypal["processor_fee_cents"] == 150
    assert _delta(before, _money(server)) == {
        "direct_sales_cents": (2310 - 114) + (2310 - 150),
        "direct_gross_cents": 2 * 2900,
        "direct_fees_cents": 2 * 340,
        "direct_affiliate_cents": 2 * 250,
        "direct_processor_fees_cents": 114 + 150,
    }
    server.refund(stripe["id"], 1000)  # the seller's own account pays it back
    server.refund(paypal["id"])
    after = _delta(before, _money(server))
    assert after["direct_sales_cents"] == (2310 - 114 - 1000) + (2310 - 150 - 2900)
    assert after["direct_refunded_cents"] == 1000 + 2900
    assert after["direct_fees_cents"] == 2 * 340  # no application fee comes back
    assert "balance_cents" not in after and "retained_cents" not in after


def test_direct_sales_carry_the_processor_keys_and_no_other_sale_does(server):
    stripe = _affiliated(server, payment_processor="stripe_connect")
    paypal = _affiliated(server, payment_processor="paypal")
    plain = _affiliated(server)
    assert stripe["payment_processor"] == "stripe_connect"
    assert stripe["processor_transaction_id"].startswith("ch_")
    assert stripe["processor_fee_currency"] == "usd"
    assert stripe["transaction_url_for_seller"].endswith(
        stripe["processor_transaction_id"]
    )
    assert paypal["payment_processor"] == "paypal"
    assert len(paypal["processor_transaction_id"]) == 17
    assert paypal["card"]["type"] == "paypal"
    for key in (
        "payment_processor",
        "processor_transaction_id",
        "processor_fee_cents",
        "processor_fee_currency",
        "transaction_url_for_seller",
    ):
        assert key not in plain
    ping = parse_qs(server.ping_body("sale", stripe["id"]).decode())
    assert "payment_processor" not in ping and "processor_fee_cents" not in ping


def test_shipping_tip_and_seller_tax_are_inside_price_gumroad_tax_outside(server):
    before = _money(server)
    poster = server.add_sale(
        product_id=_product_id(server, POSTER),
        email="buyer@example.com",
        shipping_cents=500,
        tip_cents=300,
        street_address="1 Main Street",
        city="Austin",
    )
    # 2500 + 500 shipping + 300 tip; fee round(330) + 50 = 380.
    assert (poster["price"], poster["gumroad_fee"]) == (3300, 380)
    assert poster["shipping_cents"] == 500 and poster["tip_cents"] == 300
    assert poster["formatted_shipping_amount"] == "$5"
    assert poster["is_product_physical"] is True
    assert (poster["street_address"], poster["city"]) == ("1 Main Street", "Austin")
    assert poster["shipped"] is False and poster["tracking_url"] is None
    assert poster["sku_id"] == f"pid_{poster['product_id']}"
    assert _delta(before, _money(server)) == {
        "gross_cents": 3300,
        "fees_cents": 380,
        "earned_cents": 2920,
        "balance_cents": 2920,
    }
    ping = parse_qs(server.ping_body("sale", poster["id"]).decode())
    assert ping["shipping_rate"] == ["500"]
    assert ping["street_address"] == ping["shipping_information[street_address]"]

    seller_tax = server.add_sale(
        product_id=_product_id(server, HANDBOOK), seller_tax_cents=232
    )
    assert seller_tax["price"] == 2900 + 232
    assert seller_tax["tax_cents"] == 232
    assert seller_tax["tax_included_in_price"] is False

    middle = _money(server)
    vat = server.add_sale(
        product_id=_product_id(server, HANDBOOK),
        country_iso2="FR",
        gumroad_tax_cents=580,
    )
    assert (vat["price"], vat["tax_cents"], vat["tax_label"]) == (2900, 580, "VAT")
    assert _delta(middle, _money(server))["balance_cents"] == 2900 - 340


def test_buyer_presentment_tells_seller_tax_from_gumroad_tax(server):
    course = server.store.product("acctc")  # a EUR product
    seller = server.add_sale(
        product_id=course.id, seller_tax_cents=100, buyer_currency=True
    )
    gumroad = server.add_sale(
        product_id=course.id, gumroad_tax_cents=100, buyer_currency=True
    )
    plain = server.add_sale(product_id=course.id, seller_tax_cents=100)
    assert "buyer_presentment" not in plain  # charged in US dollars
    with pytest.raises(SandboxError, match="US dollars"):
        server.add_sale(product_id=_product_id(server, HANDBOOK), buyer_currency=True)
    seller = server.sale(seller["id"])["buyer_presentment"]
    gumroad = server.sale(gumroad["id"])["buyer_presentment"]
    # 100 USD cents are 91 euro cents at the sandbox's 1.10 rate.
    assert (seller["seller_tax_cents"], seller["gumroad_tax_cents"]) == (91, 0)
    assert (gumroad["seller_tax_cents"], gumroad["gumroad_tax_cents"]) == (0, 91)
    assert gumroad["total_cents"] == gumroad["price_cents"] + 91
    assert seller["total_cents"] == seller["price_cents"]


def test_a_preorder_books_nothing_until_its_release_charges_a_new_sale(server):
    before = _money(server)
    listed = len(server.sales)
    authorization = server.add_sale(
        product_id=_product_id(server, POSTER), preorder=True
    )
    assert authorization["is_preorder_authorization"] is True
    assert authorization["is_in_preorder_state"] is True
    assert authorization["preorder_cancelled"] is False
    assert "preorder_authorization_time" not in authorization
    assert len(server.sales) == listed  # not in GET /v2/sales
    assert server.sale(authorization["id"])["id"] == authorization["id"]
    ping = parse_qs(server.ping_body("sale", authorization["id"]).decode())
    assert ping["is_preorder_authorization"] == ["true"]
    assert _money(server) == before
    for change in (server.refund, server.dispute):
        with pytest.raises(SandboxError, match="unable to be modified"):
            change(authorization["id"])  # it charged nothing

    charge = server.release_preorder(authorization["id"])
    assert charge["id"] != authorization["id"]
    assert charge["is_preorder_authorization"] is False
    assert charge["preorder_authorization_time"] == authorization["created_at"]
    assert charge["price"] == authorization["price"] == 2500
    assert len(server.sales) == listed + 1
    assert server.sale(authorization["id"])["is_in_preorder_state"] is False
    assert _delta(before, _money(server))["balance_cents"] == 2500 - 300
    with pytest.raises(SandboxError, match="already charged"):
        server.release_preorder(authorization["id"])


def test_payout_rows_show_retained_fees_affiliates_and_direct_sales(server):
    server.pay_out()
    assert server.balance()["balance_cents"] == 0
    sale = _affiliated(server)
    server.refund(sale["id"], 1000)
    _affiliated(server, payment_processor="stripe_connect")
    payout = server.pay_out()
    assert payout["amount"] == "14.74"  # 2310 - 797 - 39
    assert server.balance()["balance_cents"] == 0
    rows = server.payout(payout["id"])["transactions"]
    by_kind = {}
    for row in rows:
        by_kind.setdefault(row[0], []).append(row)
    assert by_kind["Partial Refund"][0][8:] == [-10.0, -0.78, -9.22]  # -1.17 + 0.39
    assert by_kind["Affiliate Credit"][0][8:] == [-1.64, "", -1.64]  # -2.50 + 0.86
    assert [r[8:] for r in by_kind["Sale"]] == [[29.0, 3.4, 25.6]] * 2
    assert by_kind["Stripe Connect Affiliate Fees"][0][10] == -2.5
    assert by_kind["Stripe Connect Payouts"][0][10] == -23.1
    assert "Technical Adjustment" not in by_kind
    assert round(sum(row[10] for row in rows), 2) == 14.74


def test_a_full_refund_row_carries_the_retained_fee(server):
    server.pay_out()
    sale = _affiliated(server)
    server.pay_out()
    server.refund(sale["id"])
    server.add_sale(product_id=_product_id(server, HANDBOOK))  # 2560 to pay out
    payout = server.pay_out()
    assert payout["amount"] == f"{(2560 - 2310 - 114) / 100:.2f}"
    rows = server.payout(payout["id"])["transactions"]
    refund = next(row for row in rows if row[0] == "Full Refund")
    assert refund[8:] == [-29.0, -2.26, -26.74]  # -3.40 + 1.14, -25.60 - 1.14
    assert next(row for row in rows if row[0] == "Affiliate Credit")[10] == 2.5


def test_add_sale_refuses_money_options_that_cannot_be(server):
    handbook = _product_id(server, HANDBOOK)
    with pytest.raises(SandboxError, match="physical"):
        server.add_sale(product_id=handbook, shipping_cents=500)
    with pytest.raises(SandboxError, match="payment_processor must be"):
        server.add_sale(product_id=handbook, payment_processor="braintree")
    with pytest.raises(SandboxError, match="affiliate_email"):
        server.add_sale(product_id=handbook, affiliate_credit_cents=100)
    with pytest.raises(SandboxError, match="not both"):
        server.add_sale(product_id=handbook, seller_tax_cents=1, gumroad_tax_cents=1)


def test_control_routes_convert_the_money_options(server):
    root = server.root_url
    body = requests.post(
        root + "/_sandbox/add_sale",
        data={
            "product_id": _product_id(server, POSTER),
            "shipping_cents": "1500",
            "affiliate_email": "aff@example.com",
            "affiliate_credit_cents": "300",
            "payment_processor": "paypal",
            "processor_fee_cents": "99",
            "preorder": "true",
        },
        timeout=5,
    ).json()
    assert body["ok"] is True, body
    sale = body["sale"]
    assert (sale["price"], sale["shipping_cents"]) == (4000, 1500)
    assert sale["affiliate"]["amount"] == "$3"
    assert sale["processor_fee_cents"] == 99
    assert sale["is_preorder_authorization"] is True
    released = requests.post(
        root + "/_sandbox/release_preorder", data={"sale_id": sale["id"]}, timeout=5
    ).json()
    assert released["ok"] is True, released
    assert released["sale"]["preorder_authorization_time"] == sale["created_at"]
    assert released["sale"]["payment_processor"] == "paypal"
    again = requests.post(
        root + "/_sandbox/release_preorder", data={"sale_id": sale["id"]}, timeout=5
    ).json()
    assert again == {"ok": False, "error": "The pre-order was already charged."}
    balance = requests.get(root + "/_sandbox/balance", timeout=5).json()
    for key in ("affiliate_cents", "retained_cents", "direct_sales_cents"):
        assert isinstance(balance[key], int)


def test_the_demo_has_every_kind_of_sale(make_sandbox):
    server = make_sandbox(sales=300, seed=1)
    store = server.store
    listed = store.listed.rows
    assert len(listed) == 300

    def count(test):
        return sum(1 for row in listed if test(row))

    assert 20 <= count(lambda r: r.affiliate_email) <= 45
    assert 30 <= count(lambda r: r.gumroad_tax_cents) <= 60
    assert 3 <= count(lambda r: r.seller_tax) <= 20
    assert 8 <= count(lambda r: r.shipping_cents) <= 25
    assert 8 <= count(lambda r: r.tip_cents) <= 30
    assert 8 <= count(lambda r: r.payment_processor == "paypal") <= 25
    assert 8 <= count(lambda r: r.payment_processor == "stripe_connect") <= 25
    authorizations = [
        r for r in store.rows_by_id.values() if r.is_preorder_authorization
    ]
    assert len(authorizations) == 3
    assert sum(1 for r in authorizations if r.preorder.charge is not None) == 2
    # Refunds, partial refunds and chargebacks reach the new kinds too.
    special = [r for r in listed if r.affiliate_email or r.payment_processor]
    assert any(r.fully_refunded for r in special)
    assert any(r.partially_refunded for r in special)
    assert any(r.disputed for r in special)
    # The payouts and the balance add up, and a payout empties it.
    balance = server.balance()
    assert balance["earned_cents"] == (
        balance["gross_cents"]
        - balance["refunded_cents"]
        - balance["fees_cents"]
        - balance["affiliate_cents"]
        - balance["retained_cents"]
    )
    assert balance["direct_sales_cents"] == (
        balance["direct_gross_cents"]
        - balance["direct_refunded_cents"]
        - balance["direct_fees_cents"]
        - balance["direct_affiliate_cents"]
        - balance["direct_processor_fees_cents"]
    )
    for payout in store.payouts:
        rows = server.payout(payout.id)["transactions"]
        assert round(sum(row[10] for row in rows) * 100) == payout.amount_cents
        assert all(row[0] != "Technical Adjustment" for row in rows)
    server.pay_out()
    assert server.balance()["balance_cents"] == 0
