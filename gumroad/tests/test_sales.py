"""Reading Gumroad sale objects: real-shaped bodies, hand-built variants, fuzzing."""

import copy
import json
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gumroad import MalformedPayloadError, Sale, parse_sale

# Real-shaped Gumroad bodies, kept with the tests (data/README.md says what each is).
EXAMPLES = Path(__file__).resolve().parent / "data"


def load_example(name):
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def base_sale(**overrides):
    """A plain $29 USD sale shaped like GET /v2/sales/:id (nil keys left out)."""
    sale = {
        "id": "VE_WIQIBoFtF6h-JZ5XRbw==",
        "email": "maria.lopez@example.com",
        "seller_id": "pCeerkeqp0F9piQ0eVoBHA==",
        "timestamp": "3 days ago",
        "daystamp": "17 Aug 2026  2:07 AM",
        "created_at": "2026-08-17T09:07:04Z",
        "product_name": "The Odoo Integration Handbook",
        "product_has_variants": False,
        "price": 2900,
        "gumroad_fee": 340,
        "formatted_display_price": "$29",
        "formatted_total_price": "$29",
        "currency_symbol": "$",
        "amount_refundable_in_currency": "29",
        "product_id": "8sxuN3ANRcJ5eqBATUY8wA==",
        "product_permalink": "odoohb",
        "refunded": False,
        "partially_refunded": False,
        "chargedback": False,
        "purchase_email": "maria.lopez@example.com",
        "full_name": "Maria Lopez",
        "country": "United States",
        "country_iso2": "US",
        "paid": True,
        "has_variants": False,
        "variants_and_quantity": "",
        "custom_fields": {},
        "order_id": 635527305,
        "disputed": False,
        "dispute_won": False,
        "is_gift_sender_purchase": False,
        "is_gift_receiver_purchase": False,
        "tax_cents": 0,
        "shipping_cents": 0,
        "card": {"visual": "**** **** **** 4242", "type": "visa", "bin": None},
        "product_rating": None,
        "quantity": 1,
    }
    sale.update(overrides)
    return {k: v for k, v in sale.items() if v is not ...}


# --- the real-shaped example ---------------------------------------------------


def test_plain_usd_example_is_read_field_by_field():
    payload = load_example("sale_get_plain_usd.json")
    sale = parse_sale(payload["sale"])
    assert isinstance(sale, Sale)
    assert sale.id == "VE_WIQIBoFtF6h-JZ5XRbw=="
    assert sale.order_id == 635527305
    assert sale.created_at == datetime(2026, 8, 17, 9, 7, 4, tzinfo=timezone.utc)
    assert sale.sale_date == date(2026, 8, 17)
    assert sale.product_id == "8sxuN3ANRcJ5eqBATUY8wA=="
    assert sale.product_name == "The Odoo Integration Handbook"
    assert sale.product_permalink == "odoohb"
    assert sale.email == "maria.lopez@example.com"
    assert sale.full_name == "Maria Lopez"
    assert sale.country == "United States"
    assert sale.country_iso2 is None  # left out when nil
    assert sale.quantity == 1
    assert sale.price_usd == Decimal("29.00")
    assert sale.gumroad_fee_usd == Decimal("3.40")
    assert sale.tax_usd == Decimal(0)
    assert sale.listed_currency == "usd"
    assert sale.listed_total == Decimal(29)
    assert sale.listed_refundable == Decimal(29)
    assert sale.paid is True
    assert sale.refund_state == "none"
    assert sale.dispute_state == "none"
    assert sale.listed_refunded == Decimal(0)
    assert sale.usd_refunded == Decimal(0)
    assert sale.variants == {}
    assert sale.offer_code is None
    assert sale.subscription_id is None
    assert sale.is_recurring_charge is False
    assert sale.raw is payload["sale"]


def test_example_sale_is_hashable_and_equal_to_itself_reparsed():
    payload = load_example("sale_get_plain_usd.json")["sale"]
    assert parse_sale(payload) == parse_sale(copy.deepcopy(payload))
    assert hash(parse_sale(payload)) == hash(parse_sale(copy.deepcopy(payload)))


# --- hand-built variants ------------------------------------------------------


def test_eur_product_keeps_usd_price_and_listed_amounts_apart():
    sale = parse_sale(
        base_sale(
            price=1100,
            gumroad_fee=130,
            currency="eur",
            currency_symbol="€",
            formatted_display_price="€10",
            formatted_total_price="€10",
            amount_refundable_in_currency="10",
        )
    )
    assert sale.price_usd == Decimal("11.00")
    assert sale.listed_currency == "eur"
    assert sale.listed_total == Decimal(10)
    assert sale.listed_refundable == Decimal(10)
    assert sale.usd_refunded == Decimal(0)


def test_listed_currency_is_none_when_gumroad_does_not_send_it():
    sale = parse_sale(base_sale())
    assert sale.listed_currency is None


def test_listed_currency_is_lowercased():
    assert parse_sale(base_sale(currency="EUR")).listed_currency == "eur"


def test_partial_refund_uses_the_remaining_listed_amount():
    sale = parse_sale(
        base_sale(
            price=10000,
            formatted_total_price="$100",
            amount_refundable_in_currency="49.50",
            partially_refunded=True,
        )
    )
    assert sale.refund_state == "partial"
    assert sale.listed_refunded == Decimal("50.50")
    assert sale.usd_refunded == Decimal("50.50")


def test_partial_refund_of_a_eur_sale_scales_the_usd_price():
    # €10 listed, 1100 USD cents; €2.50 refunded -> a quarter of $11.00.
    sale = parse_sale(
        base_sale(
            price=1100,
            currency="eur",
            formatted_total_price="€10",
            amount_refundable_in_currency="7.50",
            partially_refunded=True,
        )
    )
    assert sale.listed_refunded == Decimal("2.50")
    assert sale.usd_refunded == Decimal("2.75")


def test_usd_refunded_rounds_half_up_to_the_cent():
    # $10.01 listed $3 -> one third refunded: 3.336... -> 3.34 (ROUND_HALF_UP at .005)
    sale = parse_sale(
        base_sale(
            price=1001,
            formatted_total_price="$3",
            amount_refundable_in_currency="2",
            partially_refunded=True,
        )
    )
    assert sale.usd_refunded == Decimal("3.34")
    half = parse_sale(
        base_sale(
            price=1,
            formatted_total_price="$2",
            amount_refundable_in_currency="1",
            partially_refunded=True,
        )
    )
    assert half.usd_refunded == Decimal("0.01")  # 0.005 rounds up


def test_two_successive_partial_refunds_add_up():
    first = parse_sale(
        base_sale(
            price=10000,
            formatted_total_price="$100",
            amount_refundable_in_currency="70",
            partially_refunded=True,
        )
    )
    second = parse_sale(
        {**first.raw, "amount_refundable_in_currency": "45.25"},
    )
    assert first.usd_refunded == Decimal("30.00")
    assert second.refund_state == "partial"
    assert second.usd_refunded == Decimal("54.75")
    assert second.listed_refunded == Decimal("54.75")


def test_partial_refunds_reaching_the_total_become_a_full_refund():
    sale = parse_sale(
        base_sale(
            price=10000,
            formatted_total_price="$100",
            amount_refundable_in_currency="0",
            refunded=True,
            partially_refunded=False,
        )
    )
    assert sale.refund_state == "full"
    assert sale.usd_refunded == Decimal("100.00")


def test_full_refund_refunds_the_whole_price():
    sale = parse_sale(
        base_sale(refunded=True, amount_refundable_in_currency="0"),
    )
    assert sale.refund_state == "full"
    assert sale.listed_refunded == Decimal(29)
    assert sale.usd_refunded == Decimal("29.00")


def test_unrefunded_sale_ignores_a_rounding_gap_between_the_two_strings():
    sale = parse_sale(
        base_sale(formatted_total_price="€10.01", amount_refundable_in_currency="10")
    )
    assert sale.listed_refunded == Decimal(0)


def test_open_dispute():
    sale = parse_sale(base_sale(disputed=True, chargedback=True, dispute_won=False))
    assert sale.dispute_state == "open"
    assert sale.disputed and sale.chargedback


def test_won_dispute():
    sale = parse_sale(base_sale(disputed=True, chargedback=False, dispute_won=True))
    assert sale.dispute_state == "won"


def test_gift_sender_row_is_paid_and_names_the_giftee():
    sale = parse_sale(
        base_sale(
            is_gift_sender_purchase=True,
            giftee_email="friend@example.com",
            gifter_email="maria.lopez@example.com",
        )
    )
    assert sale.is_gift_sender and not sale.is_gift_receiver
    assert sale.giftee_email == "friend@example.com"
    assert sale.gifter_email == "maria.lopez@example.com"
    assert sale.paid


def test_gift_receiver_row_is_free():
    sale = parse_sale(
        base_sale(
            id="GiFtReCeIvEr0000000000==",
            price=0,
            gumroad_fee=0,
            email="friend@example.com",
            formatted_total_price="$0",
            amount_refundable_in_currency="0",
            is_gift_receiver_purchase=True,
            giftee_email="friend@example.com",
            gifter_email="maria.lopez@example.com",
            refunded=...,
        )
    )
    assert sale.is_gift_receiver
    assert sale.paid is False
    assert sale.price_usd == Decimal(0)
    assert sale.refund_state == "none"


def test_free_product_without_refunded_key():
    data = base_sale(
        price=0,
        gumroad_fee=0,
        formatted_total_price="$0",
        formatted_display_price="$0",
        amount_refundable_in_currency="0",
        paid=False,
        refunded=...,
    )
    assert "refunded" not in data
    sale = parse_sale(data)
    assert sale.refunded is False
    assert sale.paid is False
    assert sale.listed_total == Decimal(0)
    assert sale.usd_refunded == Decimal(0)


def test_paid_follows_the_price_not_the_paid_key():
    # The docs example shows "paid": false for a $10 sale; the code says price != 0.
    assert parse_sale(base_sale(paid=False)).paid is True


def test_subscription_renewal():
    sale = parse_sale(
        base_sale(
            subscription_id="sUbScRiPtIoN0000000000==",
            recurring_charge=True,
            is_recurring_billing=True,
            cancelled=False,
            dead=False,
            ended=False,
            free_trial_ended=None,
            free_trial_ends_on=None,
            subscription_duration="monthly",
            formatted_total_price="$10 a month",
            amount_refundable_in_currency="10",
            price=1000,
        )
    )
    assert sale.subscription_id == "sUbScRiPtIoN0000000000=="
    assert sale.is_recurring_charge is True
    assert sale.listed_total == Decimal(10)


def test_first_subscription_charge_is_not_a_renewal():
    sale = parse_sale(base_sale(subscription_id="abc==", recurring_charge=False))
    assert sale.is_recurring_charge is False


def test_variants_offer_code_and_license():
    sale = parse_sale(
        base_sale(
            variants={"License type": "Team (5 seats)", "Size": "Large"},
            offer_code={"code": "LAUNCH20", "displayed_amount_off": "20%", "name": "x"},
            license_key="B68973C0-70AFC2B5-4D070A2E-13CBA06E",
            quantity=2,
        )
    )
    assert sale.variants == {"License type": "Team (5 seats)", "Size": "Large"}
    assert sale.offer_code == "LAUNCH20"
    assert sale.license_key == "B68973C0-70AFC2B5-4D070A2E-13CBA06E"
    assert sale.quantity == 2


def test_thousands_separators_in_listed_amounts():
    sale = parse_sale(
        base_sale(
            price=670,
            currency="jpy",
            formatted_total_price="¥1,000",
            amount_refundable_in_currency="1,000",
        )
    )
    assert sale.listed_total == Decimal(1000)
    assert sale.listed_refundable == Decimal(1000)
    partial = parse_sale(
        base_sale(
            price=670000,
            formatted_total_price="$6,700",
            amount_refundable_in_currency="1,675.50",
            partially_refunded=True,
        )
    )
    assert partial.listed_refunded == Decimal("5024.50")
    assert partial.usd_refunded == Decimal("5024.50")


def test_missing_optional_keys_take_their_defaults():
    data = base_sale(
        quantity=...,
        tax_cents=...,
        full_name=...,
        country=...,
        country_iso2=...,
        order_id=...,
        product_permalink=...,
        chargedback=...,
        disputed=...,
        dispute_won=...,
        partially_refunded=...,
    )
    sale = parse_sale(data)
    assert sale.quantity == 1
    assert sale.tax_usd == Decimal(0)
    assert sale.full_name is None and sale.country is None
    assert sale.order_id is None
    assert sale.dispute_state == "none"


def test_tax_cents_are_usd():
    assert parse_sale(base_sale(tax_cents=245)).tax_usd == Decimal("2.45")


def test_created_at_is_converted_to_utc():
    sale = parse_sale(base_sale(created_at="2026-08-17T23:30:00-05:00"))
    assert sale.created_at == datetime(2026, 8, 18, 4, 30, tzinfo=timezone.utc)
    assert sale.sale_date == date(2026, 8, 18)


# --- errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"price": "x"},
            "price",
            "Sale 'VE_WIQIBoFtF6h-JZ5XRbw==': field 'price' is not an integer ('x').",
        ),
        (
            {"price": ...},
            "price",
            "Sale 'VE_WIQIBoFtF6h-JZ5XRbw==': field 'price' is missing.",
        ),
        ({"price": -5}, "price", None),
        ({"price": True}, "price", None),
        ({"created_at": "3 days ago"}, "created_at", None),
        ({"formatted_total_price": "free"}, "formatted_total_price", None),
        ({"amount_refundable_in_currency": ...}, "amount_refundable_in_currency", None),
        ({"refunded": "false"}, "refunded", None),
        ({"variants": ["Large"]}, "variants", None),
        ({"offer_code": 5}, "offer_code", None),
        ({"quantity": 0}, "quantity", None),
        ({"email": 5}, "email", None),
        ({"product_id": ...}, "product_id", None),
    ],
)
def test_malformed_field_is_named(overrides, field, message):
    with pytest.raises(MalformedPayloadError) as caught:
        parse_sale(base_sale(**overrides))
    assert caught.value.field == field
    assert caught.value.sale_id == "VE_WIQIBoFtF6h-JZ5XRbw=="
    assert field in str(caught.value)
    if message:
        assert str(caught.value) == message


def test_sale_without_id_is_malformed():
    with pytest.raises(MalformedPayloadError) as caught:
        parse_sale(base_sale(id=...))
    assert caught.value.field == "id"
    assert caught.value.sale_id is None
    assert str(caught.value) == "Field 'id' is missing."


@pytest.mark.parametrize("data", [None, [], "sale", 5])
def test_non_object_sale_is_malformed(data):
    with pytest.raises(MalformedPayloadError):
        parse_sale(data)


# --- fuzzing ------------------------------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
SALE_KEYS = sorted(base_sale()) + [
    "currency",
    "variants",
    "offer_code",
    "subscription_id",
    "recurring_charge",
    "giftee_email",
    "gifter_email",
    "license_key",
]


def exercise(sale):
    """Touch every derived value: none of them may raise either."""
    assert isinstance(sale, Sale)
    assert sale.refund_state in ("none", "partial", "full")
    assert sale.dispute_state in ("none", "open", "won")
    assert sale.listed_refunded >= 0
    assert 0 <= sale.usd_refunded <= sale.price_usd
    assert sale.created_at.tzinfo is not None


def parse_or_malformed(data):
    try:
        sale = parse_sale(data)
    except MalformedPayloadError as err:
        assert str(err)
        return None
    exercise(sale)
    return sale


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(SALE_KEYS) | st.text(max_size=8), JSON_VALUES))
def test_fuzz_parse_sale_on_random_dicts(data):
    parse_or_malformed(data)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_fuzz_parse_sale_on_random_json_values(data):
    parse_or_malformed(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(SALE_KEYS), max_size=6, unique=True),
    st.dictionaries(st.sampled_from(SALE_KEYS), JSON_VALUES, max_size=4),
    st.dictionaries(st.sampled_from(SALE_KEYS), st.text(max_size=12), max_size=3),
)
def test_fuzz_parse_sale_on_mutated_real_shaped_sales(dropped, swapped, strings):
    data = base_sale(
        currency="eur",
        variants={"Size": "Large"},
        offer_code={"code": "X"},
        partially_refunded=True,
        amount_refundable_in_currency="1,000.50",
        formatted_total_price="€2,000",
    )
    for key in dropped:
        data.pop(key, None)
    data.update(swapped)
    data.update(strings)
    parse_or_malformed(data)


@settings(max_examples=300, deadline=None)
@given(
    price=st.integers(min_value=0, max_value=10**9),
    total_cents=st.integers(min_value=0, max_value=10**9),
    refundable_cents=st.integers(min_value=0, max_value=10**9),
    refunded=st.booleans(),
    partial=st.booleans(),
)
def test_fuzz_refund_amounts_stay_within_the_price(
    price, total_cents, refundable_cents, refunded, partial
):
    def text(cents):
        whole, minor = divmod(cents, 100)
        return f"{whole:,}.{minor:02d}"

    sale = parse_sale(
        base_sale(
            price=price,
            formatted_total_price="€" + text(total_cents),
            amount_refundable_in_currency=text(refundable_cents),
            refunded=refunded,
            partially_refunded=partial,
        )
    )
    exercise(sale)
    assert sale.listed_refunded <= sale.listed_total
