"""Amounts: USD cents and Gumroad's formatted listed-currency strings."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gumroad import MalformedPayloadError, cents_to_decimal, parse_amount


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100", "100"),
        ("49.50", "49.50"),
        ("0", "0"),
        ("1,000", "1000"),
        ("1,234.56", "1234.56"),
        ("1,000,000", "1000000"),
        ("$10", "10"),
        ("€9.50", "9.50"),
        ("¥1,000", "1000"),
        ("$10 a month", "10"),
        ("$5+", "5"),
        ("US$ 12.5", "12.5"),
        ("  29  ", "29"),
        ("£1,234.56 every 3 months", "1234.56"),
        ("1.234,56", "1234.56"),
        ("9,50", "9.50"),
        ("1 000", "1000"),
        ("1'000", "1000"),
        ("-$5", "-5"),
    ],
)
def test_parse_amount_reads_gumroad_money_text(text, expected):
    assert parse_amount(text) == Decimal(expected)


def test_parse_amount_keeps_the_cents_as_written():
    assert str(parse_amount("49.50")) == "49.50"


@pytest.mark.parametrize("text", ["", "   ", "abc", "$", "1,2.5", "1.2.3", "--"])
def test_parse_amount_rejects_text_without_a_readable_number(text):
    with pytest.raises(MalformedPayloadError):
        parse_amount(text)


@pytest.mark.parametrize("value", [None, 1.5j, [], {}, True, b"10"])
def test_parse_amount_rejects_non_text(value):
    with pytest.raises(MalformedPayloadError):
        parse_amount(value)


def test_parse_amount_accepts_integers_and_decimals():
    assert parse_amount(10) == Decimal(10)
    assert parse_amount(Decimal("9.5")) == Decimal("9.5")


def test_parse_amount_refuses_absurdly_large_numbers():
    with pytest.raises(MalformedPayloadError, match="too large"):
        parse_amount("1" * 40)


def test_parse_amount_error_names_the_sale_and_the_field():
    with pytest.raises(MalformedPayloadError) as caught:
        parse_amount("n/a", field="amount_refundable_in_currency", sale_id="abc==")
    err = caught.value
    assert str(err) == (
        "Sale 'abc==': field 'amount_refundable_in_currency' is not an amount ('n/a')."
    )
    assert err.sale_id == "abc=="
    assert err.field == "amount_refundable_in_currency"
    assert isinstance(err, ValueError)


def test_cents_to_decimal_gives_two_decimal_places():
    assert cents_to_decimal(2900) == Decimal("29.00")
    assert str(cents_to_decimal(2900)) == "29.00"
    assert cents_to_decimal(1) == Decimal("0.01")
    assert cents_to_decimal(0) == Decimal(0)


@pytest.mark.parametrize("value", ["2900", 29.0, True, None])
def test_cents_to_decimal_wants_an_int(value):
    with pytest.raises(TypeError):
        cents_to_decimal(value)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_fuzz_parse_amount_on_random_text_returns_or_raises_malformed(text):
    try:
        value = parse_amount(text)
    except MalformedPayloadError:
        return
    assert isinstance(value, Decimal)
    assert value.is_finite()


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=0, max_value=10**12),
    st.sampled_from(["", "$", "€", "¥", "US$ "]),
    st.sampled_from(["", " a month", "+"]),
)
def test_fuzz_parse_amount_reads_what_gumroad_formats(cents, symbol, suffix):
    whole, minor = divmod(cents, 100)
    text = f"{whole:,}" if minor == 0 else f"{whole:,}.{minor:02d}"
    assert parse_amount(symbol + text + suffix) == Decimal(cents) / 100
