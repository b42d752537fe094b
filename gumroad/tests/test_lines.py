"""Invoice lines and taxes of a sale (issue #17, part B), rule by rule.

Each rule cites the place of Gumroad's source it was read in (readme/GUMROAD_MONEY.md
sections 2 and 7(a), facts file section 4.1).
"""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gumroad import parse_sale
from gumroad.accounting import sale_target
from gumroad.lines import SaleLine, invoice_lines, sale_parts, split_amount

from .test_sales import base_sale

D = Decimal


def lines_of(sale, amount=None):
    amount = sale.price_usd if amount is None else amount
    return {line.kind: line.amount for line in invoice_lines(sale, amount)}


def test_shipping_and_tip_are_inside_price():
    """purchase.rb:3856-3861 (`self.price_cents += shipping_cents`) and :3133 (a tip
    makes the price customizable: `displayed_price_cents` is tip-inclusive):
    `shipping_cents` and `tip_cents` are parts of `price`, not added to it."""
    sale = parse_sale(base_sale(price=3500, shipping_cents=500, tip_cents=300))
    assert sale.shipping_usd == D("5.00")
    assert sale.tip_usd == D("3.00")
    assert lines_of(sale) == {
        "product": D("27.00"),
        "shipping": D("5.00"),
        "tip": D("3.00"),
    }
    assert sum(lines_of(sale).values()) == sale.price_usd


def test_seller_tax_is_inside_price_and_proven_by_buyer_presentment():
    """purchase.rb:3856 (`price_cents += tax_cents if was_tax_excluded_from_price`):
    seller tax is inside `price`; the JSON's `tax_cents` is the seller's only when
    `buyer_presentment.seller_tax_cents` says so (`buyer_presentment_api_fields`,
    purchase.rb:3729-3745; `web_csv_tax_cents`, :3717-3719)."""
    payload = base_sale(
        price=1083,
        tax_cents=83,
        tax_label="Sales tax",
        tax_included_in_price=False,
        buyer_presentment={
            "currency": "CAD",
            "price_cents": 1480,
            "total_cents": 1480,
            "tip_cents": 0,
            "seller_tax_cents": 113,
            "gumroad_tax_cents": 0,
            "shipping_cents": 0,
            "fx_rate": "1.3665",
            "refunded_cents": 0,
        },
    )
    sale = parse_sale(payload)
    assert sale.tax_collector == "seller"
    assert sale.seller_tax_usd == D("0.83")
    assert sale.gumroad_tax_usd == 0
    assert sale.tax_label == "Sales tax"
    assert sale.tax_included_in_price is False
    assert sale.buyer_presentment.currency == "cad"
    assert sale.buyer_presentment.fx_rate == D("1.3665")
    assert lines_of(sale) == {"product": D("10.00"), "seller_tax": D("0.83")}


def test_gumroad_tax_is_outside_price_and_books_nothing():
    """purchase.rb:537-548: "gumroad_tax_cents - Tax that Gumroad is responsible for.
    This amount is NOT remitted to the seller"; `total_transaction_cents = price_cents
    + gumroad_tax_cents` (:3857): the invoice is `price`, with no tax line."""
    sale = parse_sale(
        base_sale(
            price=2900,
            tax_cents=580,
            tax_label="VAT",
            buyer_presentment={
                "currency": "eur",
                "price_cents": 2700,
                "total_cents": 3240,
                "seller_tax_cents": 0,
                "gumroad_tax_cents": 540,
                "shipping_cents": 0,
                "fx_rate": "0.93",
            },
        )
    )
    assert sale.tax_collector == "gumroad"
    assert sale.gumroad_tax_usd == D("5.80")
    assert lines_of(sale) == {"product": D("29.00")}


def test_usd_sale_without_presentment_is_treated_as_gumroad_tax():
    """Without `buyer_presentment` (ordinary USD sales, purchase.rb:3729-3745) the JSON
    cannot tell seller tax from Gumroad tax (`web_csv_tax_cents`, :3717-3719). Current
    code collects US/Canada tax as marketplace facilitator (`gumroad_is_mpf` in
    SalesTaxCalculator), so the tax is recorded as "unknown", booked as Gumroad's."""
    sale = parse_sale(base_sale(price=2900, tax_cents=232, tax_label="Sales tax"))
    assert sale.tax_collector == "unknown"
    assert sale.seller_tax_usd == 0
    assert sale.gumroad_tax_usd == D("2.32")
    assert lines_of(sale) == {"product": D("29.00")}
    untaxed = parse_sale(base_sale())
    assert untaxed.tax_collector == "none"
    assert untaxed.gumroad_tax_usd == 0


def test_listed_mode_converts_every_part_exactly_to_the_cent():
    """Listed mode: the invoice is the listed total (formatted_total_price); each part
    is converted by the same proportion, the remainder on the product line."""
    sale = parse_sale(
        base_sale(
            price=1097,
            shipping_cents=333,
            tip_cents=111,
            formatted_total_price="€10.01",
            amount_refundable_in_currency="10.01",
            currency="eur",
        )
    )
    target = sale_target(sale, mode="listed")
    lines = lines_of(sale, target.invoice_amount)
    assert sum(lines.values()) == D("10.01")
    assert lines["shipping"] == D("3.04")  # 3.33 * 10.01 / 10.97 = 3.0386
    assert lines["tip"] == D("1.01")  # 1.11 * 10.01 / 10.97 = 1.0129
    assert lines["product"] == D("5.96")


def test_partial_refund_credit_note_is_split_in_proportion():
    """A partial refund of R is split like the invoice (Gumroad refunds an amount of
    the purchase, not a line: refundable.rb `build_partial_refund`), each part rounded
    to the cent and the remainder on the product line."""
    sale = parse_sale(base_sale(price=3500, shipping_cents=500, tip_cents=300))
    credit = lines_of(sale, D("10.00"))
    assert credit == {"product": D("7.71"), "shipping": D("1.43"), "tip": D("0.86")}
    assert sum(credit.values()) == D("10.00")


def test_parts_exceeding_price_fall_back_to_one_line():
    sale = parse_sale(base_sale(price=500, shipping_cents=400, tip_cents=300))
    assert sale_parts(sale) == [SaleLine("product", D("5.00"))]


def test_malformed_presentment_names_the_key():
    with pytest.raises(Exception, match="buyer_presentment"):
        parse_sale(base_sale(buyer_presentment="cad"))


@given(
    product=st.integers(0, 10**6),
    shipping=st.integers(0, 10**5),
    tip=st.integers(0, 10**5),
    tax=st.integers(0, 10**5),
    amount=st.integers(0, 10**7),
)
def test_lines_always_add_up_exactly(product, shipping, tip, tax, amount):
    parts = [
        SaleLine("product", D(product) / 100),
        SaleLine("shipping", D(shipping) / 100),
        SaleLine("tip", D(tip) / 100),
        SaleLine("seller_tax", D(tax) / 100),
    ]
    lines = split_amount(parts, D(amount) / 100)
    assert sum(line.amount for line in lines) == D(amount) / 100
    assert all(line.amount >= 0 for line in lines)


def test_sandbox_makes_seller_and_gumroad_taxed_sales_the_parser_tells_apart():
    """The sandbox carves seller tax out of some buyer-currency sales (inside price,
    `buyer_presentment.seller_tax_cents`) and keeps Gumroad's VAT outside price."""
    from gumroad_sandbox import SandboxServer

    server = SandboxServer(sales=300, seed=7)
    try:
        server.start()
        sales = [parse_sale(server.sale(s["id"])) for s in server.sales]
    finally:
        server.stop()
    kinds = {sale.tax_collector for sale in sales}
    assert {"seller", "gumroad", "none"} <= kinds
    for sale in sales:
        lines = invoice_lines(sale, sale.price_usd)
        assert sum(line.amount for line in lines) == sale.price_usd
        if sale.tax_collector == "seller":
            assert sale.tax_label in ("GST", "HST")
            assert {line.kind for line in lines} >= {"product", "seller_tax"}
