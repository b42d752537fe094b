"""Decoding Gumroad pings: the real form body, bracket keys, resources, fuzzing."""

import json
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gumroad import (
    PING_RESOURCES,
    MalformedPayloadError,
    Ping,
    decode_form,
    nest_form,
    parse_ping,
)

# Real-shaped Gumroad bodies, kept with the tests (data/README.md says what each is).
EXAMPLES = Path(__file__).resolve().parent / "data"


def example_form():
    return (EXAMPLES / "ping_sale.form").read_bytes()


def form(**fields):
    return urlencode(fields).encode()


# --- the real-shaped sale ping -------------------------------------------------


def test_decode_form_matches_what_werkzeug_makes_of_the_example():
    expected = json.loads((EXAMPLES / "ping_sale.decoded_form.json").read_text())
    assert decode_form(example_form()) == expected
    assert decode_form(example_form().decode()) == expected


def test_sale_ping_example_is_parsed():
    ping = parse_ping(example_form())
    assert isinstance(ping, Ping)
    assert ping.resource_name == "sale"
    assert ping.sale_id == "CuUxT7gPI_4IF6-oDnvUxA=="
    assert ping.subscription_id is None
    assert ping.is_test is False
    assert ping.is_gift_receiver is False
    assert ping.sale_timestamp == datetime(2026, 8, 20, 5, 4, 23, tzinfo=timezone.utc)
    assert ping.flat["card[visual]"] == "**** **** **** 4242"
    assert ping.flat["price"] == "7920"


def test_sale_ping_example_is_nested_like_rails_params():
    data = parse_ping(example_form()).data
    assert data["card"] == {
        "visual": "**** **** **** 4242",
        "type": "visa",
        "bin": None,
        "expiry_month": None,
        "expiry_year": None,
    }
    assert data["url_params"] == {
        "utm_source": "newsletter",
        "utm_medium": "email",
        "utm_campaign": "summer-launch",
    }
    assert data["variants"] == {"License type": "Team (5 seats)"}
    assert data["custom_fields"] == {
        "Company": "Martin SARL",
        "VAT ID": "FR12345678901",
    }
    assert data["VAT ID"] == "FR12345678901"
    assert data["full_name"] == "Théo Martin"
    assert data["refunded"] is False
    assert data["can_contact"] is True
    assert data["offer_code"] == "LAUNCH20"


def test_parse_ping_accepts_the_decoded_form_mapping():
    expected = json.loads((EXAMPLES / "ping_sale.decoded_form.json").read_text())
    from_mapping = parse_ping(expected)
    assert from_mapping == parse_ping(example_form())
    assert from_mapping.data == parse_ping(example_form()).data


# --- nesting ------------------------------------------------------------------


def test_nest_form_handles_lists_deep_keys_and_typed_values():
    nested = nest_form(
        {
            "purchase_ids[]": ["a==", "b=="],
            "old_plan[tier][id]": "t1",
            "old_plan[tier][name]": "Basic",
            "old_plan[price_cents]": "1000",
            "cancelled": "true",
            "free_trial_ends_at": "",
        }
    )
    assert nested == {
        "purchase_ids": ["a==", "b=="],
        "old_plan": {"tier": {"id": "t1", "name": "Basic"}, "price_cents": "1000"},
        "cancelled": True,
        "free_trial_ends_at": None,
    }


def test_repeated_list_keys_keep_every_item_from_a_raw_body():
    body = (
        b"subscription_id=s1&resource_name=cancellation"
        b"&purchase_ids[]=a&purchase_ids[]=b"
    )
    ping = parse_ping(body)
    assert ping.data["purchase_ids"] == ["a", "b"]
    assert ping.flat["purchase_ids[]"] == "b"  # flat keeps the last value


def test_clashing_keys_are_kept_literally_instead_of_failing():
    nested = nest_form({"card": "x", "card[visual]": "y", "a[b": "1", "c[][d]": "2"})
    assert nested == {"card": "x", "card[visual]": "y", "a[b": "1", "c[][d]": "2"}
    nested = nest_form({"card[visual]": "y", "card": "x"})
    assert nested == {"card": {"visual": "y"}}


def test_pre_escaped_custom_field_brackets_do_not_break_decoding():
    body = form(
        resource_name="sale",
        sale_id="s==",
        **{"Size [cm]": "10", "custom_fields[Size [cm]]": "10"},
    )
    ping = parse_ping(body)
    assert ping.flat["Size [cm]"] == "10"


# --- resources ------------------------------------------------------------------


@pytest.mark.parametrize("resource", ["sale", "refund", "dispute", "dispute_won"])
def test_sale_resources_need_a_sale_id(resource):
    assert parse_ping(form(resource_name=resource, sale_id="s==")).sale_id == "s=="
    with pytest.raises(MalformedPayloadError, match="sale_id"):
        parse_ping(form(resource_name=resource))
    with pytest.raises(MalformedPayloadError, match="sale_id"):
        parse_ping(form(resource_name=resource, sale_id=""))


@pytest.mark.parametrize(
    "resource",
    [
        "cancellation",
        "subscription_updated",
        "subscription_ended",
        "subscription_restarted",
    ],
)
def test_subscription_resources_need_a_subscription_id(resource):
    ping = parse_ping(form(resource_name=resource, subscription_id="sub=="))
    assert ping.subscription_id == "sub=="
    assert ping.sale_id is None
    with pytest.raises(MalformedPayloadError, match="subscription_id"):
        parse_ping(form(resource_name=resource))


def test_every_documented_resource_is_known():
    assert set(PING_RESOURCES) == {
        "sale",
        "refund",
        "dispute",
        "dispute_won",
        "cancellation",
        "subscription_updated",
        "subscription_ended",
        "subscription_restarted",
    }


def test_unknown_resource_is_malformed():
    with pytest.raises(MalformedPayloadError) as caught:
        parse_ping(form(resource_name="chargeback", sale_id="s=="))
    assert caught.value.field == "resource_name"
    assert "chargeback" in str(caught.value)


def test_settings_test_ping_has_no_resource_name():
    ping = parse_ping(form(test="true", sale_id="s==", price="100"))
    assert ping.resource_name == "test"
    assert ping.is_test is True


def test_ping_without_resource_name_or_test_flag_is_malformed():
    with pytest.raises(MalformedPayloadError, match="resource_name"):
        parse_ping(form(sale_id="s=="))


def test_test_purchase_ping_keeps_its_resource():
    ping = parse_ping(form(resource_name="sale", sale_id="s==", test="true"))
    assert ping.resource_name == "sale"
    assert ping.is_test is True


def test_gift_receiver_ping():
    ping = parse_ping(
        form(
            resource_name="sale",
            sale_id="r==",
            price="0",
            is_gift_receiver_purchase="true",
            gift_price="2900",
            gifter_email="maria@example.com",
        )
    )
    assert ping.is_gift_receiver is True
    assert ping.data["gift_price"] == "2900"


def test_retry_count_is_just_another_field():
    ping = parse_ping(form(resource_name="refund", sale_id="s==", retry_count="2"))
    assert ping.resource_name == "refund"
    assert ping.flat["retry_count"] == "2"


def test_bad_sale_timestamp_is_malformed():
    with pytest.raises(MalformedPayloadError) as caught:
        parse_ping(
            form(resource_name="sale", sale_id="s==", sale_timestamp="yesterday")
        )
    assert caught.value.field == "sale_timestamp"
    assert caught.value.sale_id == "s=="


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe", b"resource_name=sale&sale_id=%FF", b"sale_id=%C3%28"],
)
def test_undecodable_bodies_are_malformed(body):
    with pytest.raises(MalformedPayloadError):
        parse_ping(body)


@pytest.mark.parametrize("body", [None, 5, ["a"], {"resource_name": 5}, {5: "x"}])
def test_non_form_inputs_are_malformed(body):
    with pytest.raises(MalformedPayloadError):
        parse_ping(body)


def test_trailing_newline_of_a_saved_body_is_ignored():
    assert decode_form(b"a=1&b=false\n") == {"a": "1", "b": "false"}


# --- fuzzing --------------------------------------------------------------------


def parse_or_malformed(body):
    try:
        ping = parse_ping(body)
    except MalformedPayloadError as err:
        assert str(err)
        return None
    assert ping.resource_name in PING_RESOURCES + ("test",)
    assert isinstance(ping.data, dict)
    return ping


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_parse_ping_on_random_bytes(body):
    parse_or_malformed(body)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=1300))
def test_fuzz_parse_ping_on_truncated_real_bodies(cut):
    body = example_form()
    ping = parse_or_malformed(body[:cut])
    if ping is not None:
        assert ping.resource_name in PING_RESOURCES + ("test",)


KEY_PARTS = st.sampled_from(
    [
        "resource_name",
        "sale_id",
        "subscription_id",
        "test",
        "card",
        "[",
        "]",
        "[]",
        "[x]",
        "purchase_ids",
        "sale_timestamp",
        "=",
        "&",
        "%",
        "%5B",
        "%ZZ",
        " ",
        "é",
    ]
)
VALUE_TEXT = st.sampled_from(
    list(PING_RESOURCES) + ["true", "false", "", "2026-08-20T05:04:23Z", "x==", "%FF"]
) | st.text(max_size=10)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(KEY_PARTS, min_size=1, max_size=4).map("".join), VALUE_TEXT),
        max_size=8,
    )
)
def test_fuzz_parse_ping_on_random_forms(pairs):
    raw = "&".join(f"{key}={value}" for key, value in pairs)
    parse_or_malformed(raw)
    parse_or_malformed(raw.encode("utf-8"))
    parse_or_malformed(urlencode(pairs).encode())


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=12), VALUE_TEXT, max_size=8))
def test_fuzz_parse_ping_on_random_mappings(mapping):
    parse_or_malformed(mapping)
    nest_form(mapping)
