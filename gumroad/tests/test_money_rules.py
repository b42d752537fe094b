"""Gumroad's money rules G1-G8 (issue #17), each read from Gumroad's source.

Paths are antiwork/gumroad's, as readme/GUMROAD_MONEY.md cites them.
"""

from decimal import Decimal

import pytest

from gumroad import MalformedPayloadError
from gumroad.balance import (
    SaleMoney,
    booked_after,
    plan_money,
    retained_fee_cents,
    sale_money,
)
from gumroad.tests.test_accounting import make_sale

D = Decimal


def book(sale, booked=None):
    """Book what the sale's state asks for on top of `booked`."""
    booked = booked or SaleMoney()
    return booked_after(booked, plan_money(sale_money(sale, booked), booked))


def refunded(price, refundable, total=None, **extra):
    return make_sale(
        price=price,
        total=total or f"${price / 100:.2f}",
        refundable=refundable,
        partially_refunded=True,
        **extra,
    )


# -- parsing -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("amount", "usd"),
    [("$2.50", D("2.50")), ("$3", D("3.00")), ("$1,234.50", D("1234.50"))],
)
def test_affiliate_amount_is_a_formatted_usd_string(amount, usd):
    """app/models/purchase.rb:1052-1057: `amount: Money.new(affiliate_credit_cents)
    .format(no_cents_if_whole: true, symbol: true)`."""
    sale = make_sale(affiliate={"email": "aff@example.com", "amount": amount})
    assert sale.affiliate_usd == usd
    assert sale.affiliate_email == "aff@example.com"


def test_ping_affiliate_credit_is_in_cents():
    """app/modules/purchase/ping_notification.rb: `affiliate_credit_amount_cents`
    when an AffiliateCredit exists, `affiliate` is the email."""
    sale = make_sale(affiliate="aff@example.com", affiliate_credit_amount_cents=250)
    assert (sale.affiliate_usd, sale.affiliate_email) == (D("2.50"), "aff@example.com")
    assert make_sale(affiliate="aff@example.com").affiliate_usd == 0


def test_a_malformed_affiliate_amount_names_the_key():
    with pytest.raises(MalformedPayloadError, match="affiliate.amount"):
        make_sale(affiliate={"email": "a@b.c", "amount": 250})


def test_payment_processor_and_its_fee_only_for_direct_sales():
    """app/models/purchase.rb web_csv_payment_processor: "paypal" when
    paypal_order_id?, "stripe_connect" when charged_using_stripe_connect_account?;
    processor_fee_cents / _currency come only with it."""
    sale = make_sale(
        payment_processor="stripe_connect",
        processor_fee_cents=320,
        processor_fee_currency="usd",
    )
    assert (sale.is_direct, sale.processor_fee_usd) == (True, D("3.20"))
    euro = make_sale(
        payment_processor="paypal",
        processor_fee_cents=300,
        processor_fee_currency="eur",
    )
    assert euro.is_direct and euro.processor_fee_usd == 0  # not USD: not booked
    assert not make_sale().is_direct


# -- G1 ------------------------------------------------------------------------------
def test_g1_gumroad_account_sale_credits_price_less_fee_less_affiliate():
    """app/models/purchase.rb:1832-1866 increment_sellers_balance!:
    `issued_net_cents: payment_cents - affiliate_credit_cents`, payment_cents =
    price_cents - fee_cents (:1763-1765)."""
    money = sale_money(make_sale(price=10000, affiliate={"amount": "$7.25"}))
    assert (money.collected, money.fee, money.affiliate) == (D(100), D(10), D("7.25"))
    assert money.earnings == D("82.75")
    assert money.retained == money.processor_fee == 0


# -- G2 ------------------------------------------------------------------------------
def test_g2_full_refund_takes_back_the_net_and_retains_the_processor_fee():
    """app/models/purchase.rb:2366-2370 (seller_refund_cents = payment_cents -
    affiliate_credit_cents) and app/models/credit.rb:294-391
    create_for_refund_fee_retention! (fallback: R * 29/1000 + 30 * R / price)."""
    sold = book(make_sale(price=2999, total="$29.99", affiliate={"amount": "$3"}))
    money = book(
        make_sale(
            price=2999,
            total="$29.99",
            refunded=True,
            refundable="0",
            affiliate={"amount": "$3"},
        ),
        sold,
    )
    # round(2999 * 0.029 + 30) = round(116.971) = 117
    assert retained_fee_cents(2999, 2999) == 117
    assert (money.fee, money.affiliate, money.retained) == (0, 0, D("1.17"))
    assert money.earnings == D("-1.17")


def test_g2_retention_rounds_half_up():
    """credit.rb uses Ruby's Float#round (half away from zero)."""
    # 500 * 29 / 1000 + 30 * 500 / 1000 = 14.5 + 15 = 29.5 -> 30
    assert retained_fee_cents(500, 1000) == 30
    assert retained_fee_cents(0, 1000) == 0


# -- G3 ------------------------------------------------------------------------------
def test_g3_partial_refunds_split_the_fee_floored_and_the_affiliate_pro_rata():
    """app/modules/purchase/refundable.rb:255 build_partial_refund
    `((fee_cents.to_f / price_cents.to_f) * refund_amount_cents).floor`;
    app/models/purchase.rb:2371-2391 (affiliate share pro rata, the connector's
    estimate without the affiliate's basis points)."""
    extra = {"affiliate": {"amount": "$1.01"}}
    price = 1001  # fee 100, affiliate 101
    booked = book(make_sale(price=price, total="$10.01", **extra))
    # First refund: R = 3.33 -> fee back floor(100 * 333 / 1001) = 33,
    # affiliate back round(101 * 333 / 1001) = round(33.6) = 34.
    booked = book(refunded(price, "6.68", **extra), booked)
    assert (booked.returned, booked.fee, booked.affiliate) == (
        D("3.33"),
        D("0.67"),
        D("0.67"),
    )
    assert booked.retained == D("0.20")  # round(9.657 + 9.98) = 20
    # Second refund: R = 3.33 again, split the same way.
    booked = book(refunded(price, "3.35", **extra), booked)
    assert (booked.fee, booked.affiliate, booked.retained) == (
        D("0.34"),
        D("0.33"),
        D("0.40"),
    )
    # The refund that completes the price is a partial refund of the remainder
    # (3.35): fee back floor(33.47) = 33, affiliate back min(round(33.8), 33).
    last = make_sale(
        price=price, total="$10.01", refunded=True, refundable="0", **extra
    )
    booked = book(last, booked)
    assert (booked.returned, booked.fee, booked.affiliate) == (D("10.01"), D("0.01"), 0)
    assert booked.retained == D("0.60")  # 20 + 20 + round(9.715 + 10.04) = 20
    assert booked.earnings == D("-0.61")
    # Seen again: nothing more.
    assert plan_money(sale_money(last, booked), booked) is None


# -- G4 ------------------------------------------------------------------------------
def test_g4_chargeback_takes_back_what_is_left_and_retains_nothing():
    """app/models/purchase.rb:554 "chargeback fees are always waived as of now";
    app/models/concerns/charge/disputable.rb perform_dispute_formalized_side_effects!
    -> decrement_balance_for_refund_or_chargeback! (:2366-2391)."""
    extra = {"affiliate": {"amount": "$10"}}
    whole = book(make_sale(price=10000, chargedback=True, **extra))
    assert whole.earnings == 0 and whole.retained == 0
    booked = book(refunded(10000, "75.00", **extra), book(make_sale(**extra)))
    # R = 25: fee back 2.50, affiliate back 2.50, retained round(72.5 + 7.5) = 80.
    assert (booked.fee, booked.affiliate, booked.retained) == (
        D("7.50"),
        D("7.50"),
        D("0.80"),
    )
    charged = book(make_sale(chargedback=True, **extra), booked)
    assert (charged.returned, charged.fee, charged.affiliate) == (D(100), 0, 0)
    assert charged.retained == D("0.80")  # the refund's, nothing for the dispute
    assert charged.earnings == D("-0.80")


# -- G5 ------------------------------------------------------------------------------
def test_g5_won_dispute_recredits_exactly_what_the_chargeback_took():
    """app/models/concerns/purchase/dispute_win_credits.rb
    create_credit_for_dispute_won!; app/models/concerns/charge/disputable.rb
    handle_event_dispute_won!."""
    extra = {"affiliate": {"amount": "$3.33"}}
    sold = book(make_sale(price=999, total="$9.99", **extra))
    part = book(refunded(999, "6.66", total="$9.99", **extra), sold)
    charged = book(make_sale(price=999, total="$9.99", chargedback=True, **extra), part)
    won = book(
        make_sale(
            price=999,
            total="$9.99",
            refundable="6.66",
            partially_refunded=True,
            dispute_won=True,
            **extra,
        ),
        charged,
    )
    money = ("returned", "fee", "affiliate", "retained", "earnings")
    assert [getattr(won, name) for name in money] == [
        getattr(part, name) for name in money
    ]
    assert won.dispute_returned == 0
    assert won.dispute_affiliate == charged.dispute_affiliate > 0
    assert charged.earnings < part.earnings


# -- G6 ------------------------------------------------------------------------------
def test_g6_direct_sale_pays_the_seller_account_less_application_and_processor_fee():
    """app/models/purchase.rb:1838 (`return unless
    charged_using_gumroad_merchant_account?`), :1548-1550 (the application fee is
    fee + affiliate credit + Gumroad tax); processor_fee_cents is the processor's."""
    sale = make_sale(
        price=5000,
        total="$50",
        tax_cents=400,
        affiliate={"amount": "$5"},
        payment_processor="paypal",
        processor_fee_cents=195,
        processor_fee_currency="usd",
    )
    money = sale_money(sale)
    assert money.earnings == D("50") - D("5") - D("5") - D("1.95")
    assert money.processor_fee == D("1.95")


def test_g6_direct_refund_keeps_the_application_fee_and_retains_nothing():
    """app/business/payments/charging/implementations/stripe/
    stripe_charge_processor.rb refund!: `params[:refund_application_fee] = false`
    for a Stripe Connect account; purchase.rb refund_purchase!:
    `is_refund_chargeback_fee_waived = !charged_using_gumroad_merchant_account?`."""
    extra = {
        "payment_processor": "stripe_connect",
        "processor_fee_cents": 175,
        "processor_fee_currency": "usd",
    }
    sold = book(make_sale(price=5000, total="$50", **extra))
    money = book(
        make_sale(price=5000, total="$50", refunded=True, refundable="0", **extra), sold
    )
    assert (money.returned, money.fee, money.retained) == (D(50), D(5), 0)
    assert money.earnings == D("-6.75")  # fee 5.00 and processor fee 1.75 stay spent


# -- G7 ------------------------------------------------------------------------------
def test_g7_preorder_authorization_books_nothing_and_its_release_books_once():
    """app/models/purchase.rb:3874-3877 (an authorization returns before any
    charge); app/models/preorder.rb:79-91 (the release is a new purchase)."""
    authorization = make_sale(price=2000, total="$20", is_preorder_authorization=True)
    assert sale_money(authorization) == SaleMoney()
    release = make_sale(
        price=2000, total="$20", preorder_authorization_time="2026-07-01T10:00:00Z"
    )
    booked = book(release)
    assert booked.earnings == D(18)
    assert plan_money(sale_money(release, booked), booked) is None


# -- G8 ------------------------------------------------------------------------------
def test_g8_gumroad_tax_is_outside_price_and_seller_parts_inside():
    """app/models/purchase.rb:3856-3861 process_without_charging!: price +=
    seller tax and shipping, total_transaction_cents = price + gumroad_tax_cents;
    :537-548 "gumroad_tax_cents ... NOT remitted to the seller"."""
    plain = sale_money(make_sale(price=12000, total="$120"))
    taxed = sale_money(
        make_sale(
            price=12000,
            total="$120",
            tax_cents=1500,
            shipping_cents=1000,
            tip_cents=500,
        )
    )
    assert taxed == plain
