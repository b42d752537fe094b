"""The sandbox imitates Gumroad: shapes, paging, errors, faults, refunds and pings.

Plain `requests` only: these tests check the sandbox itself, not the client.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import requests

from dev import reliability
from gumroad_sandbox import SandboxServer

# Real-shaped Gumroad bodies, kept with the tests (data/README.md says what each is).
EXAMPLES = Path(__file__).resolve().parent / "data"
REPO_ROOT = Path(__file__).resolve().parents[2]
PAGE_KEY_RE = re.compile(r"^\d{20}-\d+$")
UTC = timezone.utc


def example(name):
    return (EXAMPLES / name).read_bytes()


def example_json(name):
    return json.loads(example(name))


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def api_get(sandbox, path, token=None, **params):
    return requests.get(
        sandbox.base_url + path,
        params=params,
        headers=auth(token or sandbox.token),
        timeout=10,
    )


def api_put(sandbox, path, token=None, **data):
    return requests.put(
        sandbox.base_url + path,
        data=data,
        headers=auth(token or sandbox.token),
        timeout=10,
    )


def all_sales(sandbox, **params):
    """Follow next_page_key to the end; returns (sales, pages)."""
    sales, pages = [], []
    while True:
        body = api_get(sandbox, "/sales", **params).json()
        assert body["success"] is True
        pages.append(body)
        sales.extend(body["sales"])
        if "next_page_key" not in body:
            return sales, pages
        params["page_key"] = body["next_page_key"]


def product_by_permalink(sandbox, permalink):
    return next(p for p in sandbox.products if p["short_url"].endswith("/" + permalink))


def half_up(value):
    return int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@pytest.fixture(scope="module")
def big_sandbox():
    server = SandboxServer(
        sales=1000, seed=3, start_date="2026-05-01", end_date="2026-06-30"
    ).start()
    yield server
    server.stop()


# -- shapes ----------------------------------------------------------------------------
def test_user_matches_example_key_for_key(sandbox):
    expected = example_json("user_get.json")
    body = api_get(sandbox, "/user").json()
    assert list(body) == list(expected)
    assert list(body["user"]) == list(expected["user"])
    assert body["user"]["user_id"] == sandbox.sales[0]["seller_id"]
    assert re.fullmatch(r"\d{13}", body["user"]["id"])


def test_user_without_private_scope_has_public_keys_only(sandbox):
    user = api_get(sandbox, "/user", token="public-only").json()["user"]
    assert "email" not in user and "currency_type" not in user
    assert "display_name" not in user
    assert "twitter_handle" not in user  # nulls are dropped in the public shape


def test_products_list_matches_example_and_pages_by_ten(make_sandbox):
    expected = example_json("products_list_page1_with_next_page_key.json")
    server = make_sandbox(sales=20, products=13)
    first = api_get(server, "/products").json()
    assert list(first) == list(expected)
    assert len(first["products"]) == 10
    expected_keys = list(expected["products"][0])
    for product in first["products"]:
        assert list(product) == expected_keys
    assert PAGE_KEY_RE.match(first["next_page_key"])
    assert first["next_page_url"] == f"/v2/products?page_key={first['next_page_key']}"
    second = api_get(server, "/products", page_key=first["next_page_key"]).json()
    assert len(second["products"]) == 3
    assert "next_page_key" not in second and "next_page_url" not in second
    ids = [p["id"] for p in first["products"] + second["products"]]
    assert len(set(ids)) == 13


def test_product_get_has_full_json_and_scope_dependent_stats(sandbox):
    product = sandbox.products[0]
    full = api_get(sandbox, f"/products/{product['id']}").json()["product"]
    for key in ("custom_html", "refund_policy", "rich_content", "sections", "files"):
        assert key in full
    assert full["sales_count"] >= 0 and "custom_delivery_url" in full
    public = api_get(sandbox, f"/products/{product['id']}", token="public-only").json()
    assert "sales_count" not in public["product"]


def test_plain_usd_sale_matches_example_key_for_key(sandbox):
    expected = example_json("sale_get_plain_usd.json")
    handbook = product_by_permalink(sandbox, "odoo-handbook")
    sale = sandbox.add_sale(
        product_id=handbook["id"],
        country_iso2="US",
        full_name="Maria Lopez",
        purchaser_id="1745783678807",
        custom_fields={},
        referrer="direct",
    )
    body = api_get(sandbox, f"/sales/{sale['id']}").json()
    assert list(body) == list(expected)
    got, want = body["sale"], expected["sale"]
    # country_iso2 is "omitted if nil"; the example's row had none stored.
    assert [key for key in got if key != "country_iso2"] == list(want)
    for key, value in want.items():
        if value is not None:  # null in the example: the type varies (product_rating)
            assert type(got[key]) is type(value), key
    assert list(got["card"]) == list(want["card"])


def test_sale_amounts_are_consistent(big_sandbox):
    for sale in big_sandbox.sales[:300]:
        price = sale["price"]
        if price:
            assert sale["gumroad_fee"] == min(price, half_up(price * 0.1) + 50)
            assert sale["paid"] is True and "refunded" in sale
        else:
            # $0 rows never had a charge: the refunded column is NULL, so no key.
            assert sale["paid"] is False and "refunded" not in sale
            assert "invoice_url" not in sale
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}==", sale["id"])
        assert 0 < sale["order_id"] < 2**30
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", sale["created_at"])
        for key, value in sale.items():
            if key not in (
                "card",
                "product_rating",
                "free_trial_ended",
                "free_trial_ends_on",
            ):
                assert value is not None, key
        if "license_key" in sale:
            assert re.fullmatch(r"([0-9A-F]{8}-){3}[0-9A-F]{8}", sale["license_key"])


def test_non_usd_prices_are_usd_cents_and_texts_in_listed_currency(big_sandbox):
    rates = {"eur": Decimal("1.10"), "jpy": Decimal("0.0067")}
    seen = set()
    for sale in big_sandbox.sales:
        currency = sale["currency"]
        if currency not in rates or not sale["price"]:
            continue
        seen.add(currency)
        listed_text = sale["formatted_total_price"][1:].replace(",", "")
        assert sale["formatted_total_price"][0] == {"eur": "€", "jpy": "¥"}[currency]
        major = Decimal(listed_text)
        assert abs(Decimal(sale["price"]) / 100 - major * rates[currency]) < 1
        if currency == "jpy" and major >= 1000:
            assert "," in sale["formatted_total_price"]
    assert seen == {"eur", "jpy"}


def test_demo_data_has_every_kind_of_sale(big_sandbox):
    sales = big_sandbox.sales
    assert sum(s.get("refunded", False) for s in sales) >= 20
    assert sum(s["partially_refunded"] for s in sales) >= 20
    assert any(s["disputed"] and s["dispute_won"] for s in sales)
    assert any(s["chargedback"] for s in sales)
    assert any(s["is_gift_sender_purchase"] for s in sales)
    assert any(s.get("recurring_charge") for s in sales)
    assert any("offer_code" in s for s in sales)
    assert any(s["variants"] for s in sales if "variants" in s)
    assert any(s["quantity"] > 1 for s in sales)
    assert not any(s["is_gift_receiver_purchase"] for s in sales)


def test_same_seed_gives_same_data():
    def snapshot():
        server = SandboxServer(
            sales=40, seed=11, start_date="2026-01-01", end_date="2026-02-01"
        )
        return [
            (s["id"], s["order_id"], s["price"], s["created_at"]) for s in server.sales
        ]

    assert snapshot() == snapshot()


def test_generating_many_sales_is_fast():
    started = time.monotonic()
    server = SandboxServer(sales=20000)
    assert time.monotonic() - started < 10
    assert server.summary()["listed_sales"] == 20000


# -- pagination and dates --------------------------------------------------------------
def test_pagination_returns_every_sale_once_newest_first(make_sandbox):
    server = make_sandbox(sales=1000, seed=3)
    sales, pages = all_sales(server)
    assert len(sales) == 1000 == len({s["id"] for s in sales})
    assert [s["id"] for s in sales] == [s["id"] for s in server.sales]
    assert all(len(page["sales"]) == 10 for page in pages)
    stamps = [(s["created_at"], s["order_id"]) for s in sales]
    assert [s[0] for s in stamps] == sorted((s[0] for s in stamps), reverse=True)
    for page in pages[:-1]:
        key = page["next_page_key"]
        assert PAGE_KEY_RE.match(key)
        last = page["sales"][-1]
        assert key.endswith(f"-{last['order_id']}")
        assert key[:14] == re.sub(r"\D", "", last["created_at"])
        assert page["next_page_url"] == f"/v2/sales?page_key={key}"
    assert "next_page_key" not in pages[-1] and "next_page_url" not in pages[-1]


def test_next_page_url_keeps_query_filters_sorted(big_sandbox):
    body = api_get(
        big_sandbox, "/sales", before="2026-06-30", after="2026-05-10"
    ).json()
    key = body["next_page_key"]
    assert body["next_page_url"] == (
        f"/v2/sales?after=2026-05-10&before=2026-06-30&page_key={key}"
    )
    # Filters sent in a form body are not carried over (built from the query only).
    response = requests.get(
        big_sandbox.base_url + "/sales",
        data={"after": "2026-05-10"},
        headers=auth(big_sandbox.token),
        timeout=10,
    )
    body = response.json()
    assert body["next_page_url"] == f"/v2/sales?page_key={body['next_page_key']}"


def test_after_is_inclusive_and_before_exclusive_in_utc(big_sandbox):
    day = date(2026, 5, 20)
    sales, _ = all_sales(big_sandbox, after="2026-05-20", before="2026-05-21")
    expected = [
        s["id"] for s in big_sandbox.sales if s["created_at"][:10] == "2026-05-20"
    ]
    assert [s["id"] for s in sales] == expected and expected
    # Sales exactly on the UTC midnights: `after` includes 00:00:00, `before` excludes.
    midnight = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    on_edge = big_sandbox.add_sale(created_at=midnight)
    next_edge = big_sandbox.add_sale(created_at=midnight + timedelta(days=1))
    day_ids = {
        s["id"]
        for s in all_sales(big_sandbox, after="2026-05-20", before="2026-05-21")[0]
    }
    assert on_edge["id"] in day_ids and next_edge["id"] not in day_ids
    before_ids = {s["id"] for s in all_sales(big_sandbox, before="2026-05-20")[0]}
    assert on_edge["id"] not in before_ids


def test_new_sales_arrive_on_top_without_disturbing_paging(big_sandbox):
    first = api_get(big_sandbox, "/sales").json()
    fresh = big_sandbox.add_sale()
    rest, _ = all_sales(big_sandbox, page_key=first["next_page_key"])
    ids = [s["id"] for s in first["sales"] + rest]
    assert fresh["id"] not in ids and len(ids) == len(set(ids))
    assert api_get(big_sandbox, "/sales").json()["sales"][0]["id"] == fresh["id"]


def test_backdated_sale_is_found_by_paging(big_sandbox):
    backdated = big_sandbox.add_sale(created_at="2026-06-01T12:00:00Z")
    sales, _ = all_sales(big_sandbox, after="2026-05-25", before="2026-06-05")
    assert backdated["id"] in [s["id"] for s in sales]


def test_filters(big_sandbox):
    target = big_sandbox.sales[123]
    by_order = api_get(big_sandbox, "/sales", order_id=str(target["order_id"])).json()
    assert [s["id"] for s in by_order["sales"]] == [target["id"]]
    by_email, _ = all_sales(big_sandbox, email=target["purchase_email"])
    assert target["id"] in {s["id"] for s in by_email}
    assert {s["purchase_email"] for s in by_email} == {target["purchase_email"]}
    by_product, _ = all_sales(big_sandbox, product_id=target["product_id"])
    assert {s["product_id"] for s in by_product} == {target["product_id"]}
    other_seller = api_get(big_sandbox, "/sales", product_id="A" * 22 + "==").json()
    assert other_seller == {"success": True, "sales": []}


@pytest.mark.parametrize(
    ("params", "error"),
    [
        (
            {"after": "2026-13-01"},
            (
                "Invalid date format provided in field 'after'. "
                "Dates must be in the format YYYY-MM-DD."
            ),
        ),
        (
            {"before": "yesterday"},
            (
                "Invalid date format provided in field 'before'. "
                "Dates must be in the format YYYY-MM-DD."
            ),
        ),
        ({"page_key": "20260101-x"}, "Invalid page_key."),
        ({"product_id": "not-an-id"}, "Invalid product ID."),
        ({"order_id": "12a"}, "Invalid order ID."),
        ({"page": "0"}, "Invalid page number. Page numbers start at 1."),
    ],
)
def test_bad_list_parameters_answer_400_with_error_key(sandbox, params, error):
    response = api_get(sandbox, "/sales", **params)
    assert response.status_code == 400
    assert response.json() == {"status": 400, "error": error}


def test_deprecated_page_parameter_still_pages(big_sandbox):
    second = api_get(big_sandbox, "/sales", page="2").json()
    assert [s["id"] for s in second["sales"]] == [
        s["id"] for s in big_sandbox.sales[10:20]
    ]
    assert "next_page_key" in second


# -- authentication and envelopes ------------------------------------------------------
def test_missing_or_unknown_token_is_401_with_empty_body(sandbox):
    for headers in ({}, auth("nope")):
        response = requests.get(sandbox.base_url + "/sales", headers=headers, timeout=5)
        assert response.status_code == 401 and response.content == b""
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_token_in_access_token_parameter_is_accepted(sandbox):
    response = requests.get(
        sandbox.base_url + "/user", params={"access_token": sandbox.token}, timeout=5
    )
    assert response.status_code == 200


def test_missing_scope_is_403_with_empty_body(sandbox):
    response = api_get(sandbox, "/sales", token="profile-only")
    assert response.status_code == 403 and response.content == b""
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    sale_id = sandbox.sales[0]["id"]
    refund = api_put(sandbox, f"/sales/{sale_id}/refund", token="sales-only")
    assert refund.status_code == 403 and refund.content == b""


def test_revoked_token_is_401(sandbox):
    sandbox.revoke_token("sales-only")
    assert api_get(sandbox, "/sales", token="sales-only").status_code == 401


def test_not_found_is_200_with_success_false(sandbox):
    for path, name in (
        ("/sales/AAAAAAAAAAAAAAAAAAAAAA==", "sale"),
        ("/products/missing", "product"),
        ("/subscribers/missing", "subscriber"),
    ):
        response = api_get(sandbox, path)
        assert response.status_code == 200
        assert response.json() == {
            "success": False,
            "message": f"The {name} was not found.",
        }


def test_unknown_route_is_a_404_page(sandbox):
    response = api_get(sandbox, "/nothing/here")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")


def test_old_api_prefix_and_json_suffix_work(sandbox):
    response = requests.get(
        sandbox.root_url + "/api/v2/sales.json", headers=auth(sandbox.token), timeout=5
    )
    body = response.json()
    assert body["next_page_url"].startswith("/api/v2/sales.json?page_key=")


def test_json_escapes_html_characters_like_rails(sandbox):
    raw = api_get(sandbox, "/products").content
    assert b"\\u003cp\\u003e" in raw and b"<p>" not in raw


# -- faults ----------------------------------------------------------------------------
def test_rate_limit_every_n_with_burst(sandbox):
    sandbox.faults.configure(rate_limit_every=3, rate_limit_burst=2)
    statuses = [api_get(sandbox, "/user").status_code for _ in range(8)]
    assert statuses == [200, 200, 429, 429, 200, 429, 429, 200]
    response = api_get(sandbox, "/user")  # the 9th: a new burst starts
    assert response.status_code == 429
    assert response.content == b"Retry later\n"
    assert response.headers["Content-Type"] == "text/plain"
    assert "Retry-After" not in response.headers
    assert sandbox.faults_injected["rate_limit"] == 5


def test_server_errors(sandbox):
    sandbox.faults.configure(server_error_every=2, server_error_status=502)
    statuses = [api_get(sandbox, "/user").status_code for _ in range(4)]
    assert statuses == [200, 502, 200, 502]
    assert sandbox.faults_injected["server_error"] == 2


def test_slow_answers_time_out_the_client(sandbox):
    sandbox.faults.configure(slow_every=1, slow_seconds=0.6)
    with pytest.raises(requests.Timeout):
        requests.get(
            sandbox.base_url + "/user", headers=auth(sandbox.token), timeout=0.2
        )
    assert sandbox.faults_injected["slow"] == 1


def test_dropped_connections(sandbox):
    sandbox.faults.configure(drop_every=1)
    with pytest.raises(requests.ConnectionError):
        api_get(sandbox, "/sales")
    assert sandbox.faults_injected["drop"] == 1
    # Control endpoints are never faulted.
    state = requests.get(sandbox.root_url + "/_sandbox/state", timeout=5).json()
    assert state["faults_injected"]["drop"] == 1


def test_truncated_bodies(sandbox):
    sandbox.faults.configure(truncate_every=1)
    try:
        response = api_get(sandbox, "/sales")
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
        pass
    else:
        assert len(response.content) < int(response.headers["Content-Length"])
        with pytest.raises(ValueError):
            response.json()
    assert sandbox.faults_injected["truncate"] == 1


def test_latency_and_reset(sandbox):
    sandbox.faults.configure(latency_seconds=0.25)
    started = time.monotonic()
    assert api_get(sandbox, "/user").status_code == 200
    assert time.monotonic() - started >= 0.25
    sandbox.faults.reset()
    started = time.monotonic()
    api_get(sandbox, "/user")
    assert time.monotonic() - started < 0.25


def test_query_timeout_on_wide_date_ranges(big_sandbox):
    big_sandbox.faults.configure(query_timeout_days=7)
    try:
        wide = api_get(big_sandbox, "/sales", after="2026-05-01", before="2026-05-09")
        assert wide.status_code == 400
        assert wide.json() == {
            "status": 400,
            "error": "Query timed out. Try narrowing your date range with "
            "'after'/'before' or filtering by product_id.",
        }
        assert api_get(big_sandbox, "/sales").status_code == 400  # no dates at all
        narrow = api_get(big_sandbox, "/sales", after="2026-05-01", before="2026-05-08")
        assert narrow.status_code == 200
        product_id = big_sandbox.sales[0]["product_id"]
        assert api_get(big_sandbox, "/sales", product_id=product_id).status_code == 200
        assert big_sandbox.faults_injected["query_timeout"] == 2
    finally:
        big_sandbox.faults.reset()


def test_twenty_concurrent_clients(big_sandbox):
    before = big_sandbox.request_count

    def client(number):
        with requests.Session() as session:
            session.headers.update(auth(big_sandbox.token))
            codes = []
            for _ in range(25):
                response = session.get(big_sandbox.base_url + "/sales", timeout=10)
                codes.append((response.status_code, len(response.json()["sales"])))
            return codes

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = [code for codes in pool.map(client, range(20)) for code in codes]
    assert results == [(200, 10)] * 500
    assert big_sandbox.request_count - before == 500


# -- refunds, disputes, gifts ----------------------------------------------------------
def fresh_sale(sandbox, permalink="odoo-handbook", **overrides):
    product = product_by_permalink(sandbox, permalink)
    return sandbox.add_sale(product_id=product["id"], **overrides)


def test_partial_then_full_refund(sandbox):
    sale = fresh_sale(sandbox, quantity=1)
    listed = int(Decimal(sale["amount_refundable_in_currency"].replace(",", "")) * 100)
    response = api_put(sandbox, f"/sales/{sale['id']}/refund", amount_cents="500")
    partial = response.json()["sale"]
    assert partial["price"] == sale["price"]
    assert partial["partially_refunded"] is True and partial["refunded"] is False
    remaining = Decimal(listed - 500) / 100
    assert Decimal(partial["amount_refundable_in_currency"]) == remaining
    assert sandbox.sale_net_listed_cents(sale["id"]) == listed - 500
    usd_refunded = half_up(Decimal(sale["price"]) * 500 / listed)
    assert sandbox.sale_net_usd_cents(sale["id"]) == sale["price"] - usd_refunded
    too_much = api_put(sandbox, f"/sales/{sale['id']}/refund", amount_cents=str(listed))
    assert too_much.json() == {
        "success": False,
        "message": "Refund amount cannot be greater than the purchase price.",
    }
    full = api_put(sandbox, f"/sales/{sale['id']}/refund").json()["sale"]
    assert full["refunded"] is True and full["partially_refunded"] is False
    assert full["amount_refundable_in_currency"] == "0"
    assert full["price"] == sale["price"]
    assert sandbox.sale_net_usd_cents(sale["id"]) == 0
    again = api_put(sandbox, f"/sales/{sale['id']}/refund").json()
    assert again == {"success": False, "message": "Purchase is already refunded."}


def test_jpy_refund_amount_is_in_yen(sandbox):
    sale = fresh_sale(sandbox, "invjp", quantity=1)
    assert sale["formatted_total_price"] == "¥1,500"
    refunded = sandbox.refund(sale["id"], 500)
    assert refunded["amount_refundable_in_currency"] == "1,000"
    assert sandbox.sale_net_listed_cents(sale["id"]) == 1000
    assert sandbox.sale_net_usd_cents(sale["id"]) == sale["price"] - half_up(
        Decimal(sale["price"]) * 500 / 1500
    )


def test_dispute_and_win(sandbox):
    sale = fresh_sale(sandbox)
    disputed = sandbox.dispute(sale["id"])
    assert (disputed["disputed"], disputed["chargedback"], disputed["dispute_won"]) == (
        True,
        True,
        False,
    )
    assert sandbox.sale_net_usd_cents(sale["id"]) == 0
    won = sandbox.win_dispute(sale["id"])
    assert (won["disputed"], won["chargedback"], won["dispute_won"]) == (
        True,
        False,
        True,
    )
    assert sandbox.sale_net_usd_cents(sale["id"]) == sale["price"]


def test_gift_receiver_row_only_by_id(sandbox):
    sender, receiver = sandbox.add_gift(giftee_email="friend@example.com")
    listed_ids = {s["id"] for s in all_sales(sandbox)[0]}
    assert sender["id"] in listed_ids and receiver["id"] not in listed_ids
    assert sender["is_gift_sender_purchase"] is True and sender["price"] > 0
    assert sender["giftee_email"] == "friend@example.com"
    fetched = api_get(sandbox, f"/sales/{receiver['id']}").json()["sale"]
    assert fetched["is_gift_receiver_purchase"] is True and fetched["price"] == 0
    assert fetched["gifter_email"] == sender["purchase_email"]
    assert "refunded" not in fetched


# -- resource subscriptions ------------------------------------------------------------
def test_resource_subscriptions_lifecycle(sandbox):
    url = "https://erp.example.com/gumroad/webhook/secret"
    first = api_put(
        sandbox, "/resource_subscriptions", resource_name="sale", post_url=url
    ).json()
    assert first["success"] is True
    assert list(first["resource_subscription"]) == ["id", "resource_name", "post_url"]
    api_put(sandbox, "/resource_subscriptions", resource_name="sale", post_url=url)
    listed = api_get(sandbox, "/resource_subscriptions", resource_name="sale").json()
    assert len(listed["resource_subscriptions"]) == 2  # no de-duplication
    assert api_get(sandbox, "/resource_subscriptions").json() == {
        "success": False,
        "message": "Valid resource_name parameter required",
    }
    sub_id = first["resource_subscription"]["id"]
    other_app = requests.delete(
        f"{sandbox.base_url}/resource_subscriptions/{sub_id}",
        headers=auth("sales-only"),
        timeout=5,
    ).json()
    assert other_app["success"] is False
    deleted = requests.delete(
        f"{sandbox.base_url}/resource_subscriptions/{sub_id}",
        headers=auth(sandbox.token),
        timeout=5,
    ).json()
    assert deleted == {
        "success": True,
        "message": "The resource_subscription was deleted successfully.",
    }


@pytest.mark.parametrize(
    "post_url",
    [
        "http://localhost:8069/hook",
        "http://127.0.0.1/hook",
        "http://0.0.0.0/x",
        "ftp://example.com/x",
        "not a url",
    ],
)
def test_resource_subscription_refuses_bad_post_urls(sandbox, post_url):
    body = api_put(
        sandbox, "/resource_subscriptions", resource_name="refund", post_url=post_url
    ).json()
    assert body == {"success": False, "message": f"Invalid post URL '{post_url}'"}


def test_resource_subscription_refuses_unknown_resource(sandbox):
    body = api_put(
        sandbox,
        "/resource_subscriptions",
        resource_name="purchase",
        post_url="https://example.com/x",
    ).json()
    assert body == {"success": False, "message": "Unable to subscribe to ''."}


def test_loopback_post_urls_allowed_when_opted_in(make_sandbox):
    server = make_sandbox(sales=5, allow_loopback_post_urls=True)
    body = api_put(
        server,
        "/resource_subscriptions",
        resource_name="sale",
        post_url="http://127.0.0.1:8069/hook",
    ).json()
    assert body["success"] is True


# -- pings -----------------------------------------------------------------------------
def ping_sandbox(make_sandbox, **kwargs):
    kwargs.setdefault("ping_retry_delays", (0.01, 0.02, 0.03))
    return make_sandbox(sales=20, allow_loopback_post_urls=True, **kwargs)


def test_sale_ping_body_matches_example_form(make_sandbox):
    expected = example("ping_sale.form").decode()
    server = ping_sandbox(make_sandbox)
    plugin = product_by_permalink(server, "invoice-sync")
    sale = server.add_sale(
        product_id=plugin["id"],
        variant="Team (5 seats)",
        offer_code="SAVE5",
        full_name="Théo Martin",
        country_iso2="FR",
        purchaser_id="1199093425663",
        custom_fields={"Company": "Martin SARL", "VAT ID": "FR12345678901"},
        url_params={
            "utm_source": "newsletter",
            "utm_medium": "email",
            "utm_campaign": "summer-launch",
        },
        affiliate_email="partner@affiliates.example",
        referrer="https://www.google.com/",
    )
    body = server.ping_body("sale", sale["id"]).decode("ascii")
    got_keys = [key for key, _ in parse_qsl(body, keep_blank_values=True)]
    want_keys = [key for key, _ in parse_qsl(expected, keep_blank_values=True)]
    assert got_keys == want_keys
    decoded = dict(parse_qsl(body, keep_blank_values=True))
    assert decoded["card[bin]"] == "" and decoded["refunded"] == "false"
    assert decoded["variants[License type]"] == "Team (5 seats)"
    assert decoded["offer_code"] == "SAVE5" and decoded["price"] == str(sale["price"])
    # The same wire conventions as the example: %20 spaces, escaped brackets.
    assert "card%5Bvisual%5D=" in body and "full_name=Th%C3%A9o%20Martin" in body
    decoded_example = example_json("ping_sale.decoded_form.json")
    assert list(decoded) == list(decoded_example)


def test_pings_are_posted_form_encoded_to_each_subscription(
    make_sandbox, ping_receiver
):
    server = ping_sandbox(make_sandbox)
    for _ in range(2):
        server.add_resource_subscription("sale", ping_receiver.url)
    server.add_resource_subscription("refund", ping_receiver.url)
    sale = fresh_sale(server)
    assert server.wait_for_pings(5)
    assert len(ping_receiver.received) == 2  # one POST per subscription
    _path, headers, body = ping_receiver.received[0]
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = dict(parse_qsl(body.decode()))
    assert form["resource_name"] == "sale" and form["sale_id"] == sale["id"]
    server.refund(sale["id"], 100)
    server.refund(sale["id"])
    assert server.wait_for_pings(5)
    refunds = [dict(parse_qsl(b.decode())) for _, _, b in ping_receiver.received[2:]]
    # One ping per refund, partial ones too, refunded=false until fully refunded
    # (delivered concurrently, so in either order).
    assert sorted((f["resource_name"], f["refunded"]) for f in refunds) == [
        ("refund", "false"),
        ("refund", "true"),
    ]


def test_ping_retries_on_503_with_retry_count(make_sandbox, ping_receiver):
    server = ping_sandbox(make_sandbox)
    server.add_resource_subscription("sale", ping_receiver.url)
    ping_receiver.statuses = [503, 503, 200]
    server.add_sale()
    assert server.wait_for_pings(5)
    assert [(r.status, r.attempt) for r in server.pings_sent] == [
        (503, 1),
        (503, 2),
        (200, 3),
    ]
    bodies = [body for _, _, body in ping_receiver.received]
    assert b"retry_count" not in bodies[0]
    assert bodies[1].endswith(b"&retry_count=1") and bodies[2].endswith(
        b"&retry_count=2"
    )


def test_ping_gives_up_after_four_attempts(make_sandbox, ping_receiver):
    server = ping_sandbox(make_sandbox)
    server.add_resource_subscription("sale", ping_receiver.url)
    ping_receiver.statuses = [500] * 10
    server.add_sale()
    assert server.wait_for_pings(5)
    assert [r.attempt for r in server.pings_sent] == [1, 2, 3, 4]


def test_ping_not_retried_on_404_or_connection_errors(make_sandbox, ping_receiver):
    server = ping_sandbox(make_sandbox)
    server.add_resource_subscription("sale", ping_receiver.url)
    server.add_resource_subscription("sale", "http://127.0.0.1:9/closed")
    ping_receiver.statuses = [404]
    server.add_sale()
    assert server.wait_for_pings(10)
    statuses = sorted((r.status or 0, r.attempt) for r in server.pings_sent)
    assert statuses == [(0, 1), (404, 1)]


def test_gift_pings_describe_the_receiver_and_refunds_stay_silent(
    make_sandbox, ping_receiver
):
    server = ping_sandbox(make_sandbox)
    server.add_resource_subscription("sale", ping_receiver.url)
    server.add_resource_subscription("refund", ping_receiver.url)
    sender, receiver = server.add_gift(giftee_email="friend@example.com")
    server.refund(sender["id"])
    assert server.wait_for_pings(5)
    assert len(ping_receiver.received) == 1  # the sale ping only, no refund ping
    form = dict(parse_qsl(ping_receiver.received[0][2].decode()))
    assert form["sale_id"] == receiver["id"] and form["price"] == "0"
    assert form["is_gift_receiver_purchase"] == "true"
    assert form["gift_price"] == str(sender["price"])
    assert form["gifter_email"] == sender["purchase_email"]
    assert form["email"] == "friend@example.com"


def test_test_ping_has_test_flag_and_no_resource_name(make_sandbox, ping_receiver):
    server = ping_sandbox(make_sandbox)
    status = server.send_ping(ping_receiver.url, "sale", test=True)
    assert status == 200
    form = dict(parse_qsl(ping_receiver.received[0][2].decode()))
    assert form["test"] == "true" and "resource_name" not in form


def test_subscription_pings(make_sandbox, ping_receiver):
    server = ping_sandbox(make_sandbox)
    server.add_resource_subscription("cancellation", ping_receiver.url)
    server.add_resource_subscription("subscription_ended", ping_receiver.url)
    membership = product_by_permalink(server, "protm")
    first = server.add_sale(product_id=membership["id"])
    renewal = server.add_sale(subscription_id=first["subscription_id"])
    assert renewal["recurring_charge"] is True and first["recurring_charge"] is False
    server.cancel_subscription(first["subscription_id"], immediately=True)
    assert server.wait_for_pings(5)
    # Delivered concurrently: index the two pings by resource name.
    by_resource = {}
    for _, _, body in ping_receiver.received:
        pairs = parse_qsl(body.decode(), keep_blank_values=True)
        by_resource[dict(pairs)["resource_name"]] = pairs
    assert sorted(by_resource) == ["cancellation", "subscription_ended"]
    cancellation = dict(by_resource["cancellation"])
    assert cancellation["cancelled"] == "true"
    assert cancellation["cancelled_by_buyer"] == "true"
    purchase_ids = [v for k, v in by_resource["cancellation"] if k == "purchase_ids[]"]
    assert purchase_ids == [first["id"], renewal["id"]]
    ended = dict(by_resource["subscription_ended"])
    assert ended["ended_reason"] == "cancelled"
    assert "price" not in ended


def test_membership_dispute_cancels_and_win_restarts(make_sandbox, ping_receiver):
    server = ping_sandbox(make_sandbox)
    for resource in (
        "dispute",
        "dispute_won",
        "cancellation",
        "subscription_ended",
        "subscription_restarted",
    ):
        server.add_resource_subscription(resource, ping_receiver.url)
    membership = product_by_permalink(server, "protm")
    sale = server.add_sale(product_id=membership["id"])
    server.dispute(sale["id"])
    assert server.sale(sale["id"])["dead"] is True
    server.win_dispute(sale["id"])
    assert server.wait_for_pings(5)
    forms = [
        dict(parse_qsl(b.decode(), keep_blank_values=True))
        for _, _, b in ping_receiver.received
    ]
    assert sorted(f["resource_name"] for f in forms) == sorted(
        [
            "dispute",
            "cancellation",
            "subscription_ended",
            "dispute_won",
            "subscription_restarted",
        ]
    )
    restarted = next(f for f in forms if f["resource_name"] == "subscription_restarted")
    assert restarted["subscription_id"] == sale["subscription_id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", restarted["restarted_at"])
    assert server.sale(sale["id"])["dead"] is False


def test_plan_change_sends_subscription_updated(make_sandbox, ping_receiver):
    server = ping_sandbox(make_sandbox)
    server.add_resource_subscription("subscription_updated", ping_receiver.url)
    membership = product_by_permalink(server, "protm")
    sale = server.add_sale(
        product_id=membership["id"], variant="Basic", recurrence="monthly"
    )
    server.change_plan(sale["subscription_id"], tier="Pro")
    assert server.wait_for_pings(5)
    pairs = parse_qsl(ping_receiver.received[0][2].decode(), keep_blank_values=True)
    form = dict(pairs)
    assert form["type"] == "upgrade"
    assert (form["old_plan[tier][name]"], form["new_plan[tier][name]"]) == (
        "Basic",
        "Pro",
    )
    assert (form["old_plan[price_cents]"], form["new_plan[price_cents]"]) == (
        "1000",
        "2500",
    )
    # HTTParty writes nested hashes after their scalar siblings.
    keys = [key for key, _ in pairs if key.startswith("old_plan")]
    assert keys == [
        "old_plan[recurrence]",
        "old_plan[price_cents]",
        "old_plan[quantity]",
        "old_plan[tier][id]",
        "old_plan[tier][name]",
    ]


def test_synchronous_pings_are_sent_before_the_call_returns(
    make_sandbox, ping_receiver
):
    server = ping_sandbox(make_sandbox, ping_async=False)
    server.add_resource_subscription("sale", ping_receiver.url)
    ping_receiver.statuses = [503]
    server.add_sale()
    assert [(r.status, r.attempt) for r in server.pings_sent] == [(503, 1), (200, 2)]


def test_control_ping_queues_to_registered_subscriptions(make_sandbox, ping_receiver):
    server = ping_sandbox(make_sandbox)
    server.add_resource_subscription("refund", ping_receiver.url)
    sale_id = server.sales[0]["id"]
    answer = requests.post(
        server.root_url + "/_sandbox/ping",
        data={"resource": "refund", "sale_id": sale_id},
        timeout=5,
    ).json()
    assert answer["ok"] is True and answer["queued"] == 1
    assert server.wait_for_pings(5)
    form = dict(parse_qsl(ping_receiver.received[0][2].decode()))
    assert form["resource_name"] == "refund" and form["sale_id"] == sale_id
    body = requests.get(
        server.root_url + "/_sandbox/ping_body",
        params={"resource": "refund", "sale_id": sale_id},
        timeout=5,
    )
    assert body.content == server.ping_body("refund", sale_id)


def test_restart_after_stop(make_sandbox, ping_receiver):
    server = ping_sandbox(make_sandbox)
    server.add_resource_subscription("sale", ping_receiver.url)
    server.stop()
    server.start()
    assert api_get(server, "/user").status_code == 200
    server.add_sale()
    assert server.wait_for_pings(5) and len(ping_receiver.received) == 1


def test_revoked_token_subscriptions_get_no_pings(make_sandbox, ping_receiver):
    server = ping_sandbox(make_sandbox)
    server.add_resource_subscription("sale", ping_receiver.url, token="sales-only")
    server.revoke_token("sales-only")
    server.add_sale()
    assert server.wait_for_pings(5)
    assert ping_receiver.received == []


# -- other endpoints -------------------------------------------------------------------
def test_license_verify_enable_disable(sandbox):
    sale = fresh_sale(sandbox, "invoice-sync")
    product_id, key = sale["product_id"], sale["license_key"]
    url = sandbox.base_url + "/licenses/verify"
    first = requests.post(
        url, data={"product_id": product_id, "license_key": key}, timeout=5
    ).json()
    assert first["success"] is True and first["purchase"]["sale_id"] == sale["id"]
    assert isinstance(first["purchase"]["variants"], str)
    assert isinstance(first["purchase"]["custom_fields"], list)
    same = requests.post(
        url,
        data={
            "product_id": product_id,
            "license_key": key,
            "increment_uses_count": "false",
        },
        timeout=5,
    ).json()
    assert same["uses"] == first["uses"]
    wrong = requests.post(
        url, data={"product_id": product_id, "license_key": "X"}, timeout=5
    )
    assert wrong.status_code == 404
    assert wrong.json()["message"] == (
        "That license does not exist for the provided product."
    )
    assert (
        api_put(
            sandbox,
            "/licenses/disable",
            token="sales-only",
            product_id=product_id,
            license_key=key,
        ).status_code
        == 403
    )
    disabled = api_put(
        sandbox, "/licenses/disable", product_id=product_id, license_key=key
    )
    assert disabled.json()["success"] is True
    refused = requests.post(
        url, data={"product_id": product_id, "license_key": key}, timeout=5
    )
    assert refused.status_code == 404
    assert refused.json()["message"] == "This license key has been disabled."
    unknown = api_put(
        sandbox, "/licenses/enable", product_id=product_id, license_key="NOPE"
    )
    assert unknown.status_code == 404
    assert unknown.json() == {"success": False, "error": "Not found"}


def test_payouts(big_sandbox):
    body = api_get(big_sandbox, "/payouts").json()
    payouts = body["payouts"]
    assert payouts[0]["id"] is None  # the upcoming payout comes first
    for payout in payouts:
        assert re.fullmatch(r"\d+\.\d\d", payout["amount"])
    for payout in payouts[1:]:  # the upcoming one has no processor yet
        assert payout["payment_processor"] == "STRIPE" and payout["currency"] == "USD"
    without = api_get(big_sandbox, "/payouts", include_upcoming="false").json()
    assert without["payouts"][0]["id"] is not None
    detail = api_get(big_sandbox, f"/payouts/{without['payouts'][0]['id']}").json()
    assert isinstance(detail["payout"]["sales"], list)


def test_subscribers(big_sandbox):
    membership = product_by_permalink(big_sandbox, "protm")
    path = f"/products/{membership['id']}/subscribers"
    everyone = api_get(big_sandbox, path).json()["subscribers"]
    assert everyone and "next_page_key" not in everyone
    assert {s["status"] for s in everyone} <= {"alive", "pending_cancellation"}
    one = api_get(big_sandbox, f"/subscribers/{everyone[0]['id']}").json()
    assert one["subscriber"] == everyone[0]


# -- control endpoints and CLI ---------------------------------------------------------
def test_control_endpoints(sandbox):
    root = sandbox.root_url
    sale = next(s for s in sandbox.sales if not s["refunded"] and not s["chargedback"])
    sandbox.faults.configure(rate_limit_every=1)  # the API is throttled, control is not
    refund = requests.post(
        root + "/_sandbox/refund", json={"sale_id": sale["id"]}, timeout=5
    ).json()
    assert (
        refund["ok"] is True and refund["sale"]["amount_refundable_in_currency"] == "0"
    )
    state = requests.get(root + "/_sandbox/state", timeout=5).json()
    assert state["total_net_usd_cents"] == sandbox.total_net_usd_cents()
    faults = requests.post(
        root + "/_sandbox/faults", json={"reset": 1}, timeout=5
    ).json()
    assert faults["faults"]["rate_limit_every"] == 0
    bad = requests.post(root + "/_sandbox/refund", json={"sale_id": "nope"}, timeout=5)
    assert bad.status_code == 400 and bad.json()["ok"] is False


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_serve_and_ping(tmp_path, ping_receiver):
    port = free_port()
    state_file = tmp_path / "sandbox.json"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gumroad_sandbox",
            "serve",
            "--port",
            str(port),
            "--sales",
            "20",
            "--state-file",
            str(state_file),
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}/v2" in line
        assert "sandbox-token" in process.stdout.readline()
        info = json.loads(state_file.read_text())
        sale_id = requests.get(
            info["base_url"] + "/sales", headers=auth(info["token"]), timeout=5
        ).json()["sales"][0]["id"]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "gumroad_sandbox",
                "ping",
                "--base-url",
                f"http://127.0.0.1:{port}",
                "--resource",
                "refund",
                "--sale-id",
                sale_id,
                "--url",
                ping_receiver.url,
            ],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,  # the return code is asserted with the output
        )
        assert result.returncode == 0, result.stdout + result.stderr
        form = dict(parse_qsl(ping_receiver.received[0][2].decode()))
        assert form["resource_name"] == "refund" and form["sale_id"] == sale_id
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    assert not state_file.exists()


def test_only_loopback_hosts_are_accepted():
    with pytest.raises(ValueError):
        SandboxServer(host="0.0.0.0", sales=1)


def test_stop_is_quick_even_with_open_connections(make_sandbox):
    server = make_sandbox(sales=5)
    session = requests.Session()
    session.get(server.base_url + "/user", headers=auth(server.token), timeout=5)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    session.close()
    assert threading.active_count() < 50


@pytest.mark.slow
def test_paging_through_every_fault_with_a_naive_retrying_client(make_sandbox):
    server = make_sandbox(sales=3000, seed=5)
    server.faults.configure(
        rate_limit_every=7,
        rate_limit_burst=2,
        server_error_every=11,
        drop_every=13,
        truncate_every=17,
        slow_every=19,
        slow_seconds=0.05,
    )
    session = requests.Session()
    session.headers.update(auth(server.token))
    seen, params = [], {}
    while True:
        for _attempt in range(10):
            try:
                response = session.get(
                    server.base_url + "/sales", params=params, timeout=5
                )
                if response.status_code == 200:
                    body = response.json()
                    break
            except (requests.RequestException, ValueError):
                pass
        else:
            pytest.fail(f"gave up on {params}")
        seen.extend(sale["id"] for sale in body["sales"])
        if "next_page_key" not in body:
            break
        params["page_key"] = body["next_page_key"]
    assert len(seen) == len(set(seen)) == 3000
    print("faults injected:", server.faults_injected)
    assert all(
        server.faults_injected[kind]
        for kind in ("rate_limit", "server_error", "drop", "truncate", "slow")
    )
    reliability.record(
        "faults_paging_3000",
        f"3 000 sales paged through {sum(server.faults_injected.values())} faults "
        f"({_fault_text(server.faults_injected)})",
        "each of the 3 000 sales seen exactly once, none missing",
    )


def _fault_text(injected):
    return ", ".join(f"{count} {kind}" for kind, count in injected.items() if count)
