"""Routes and request forms outside clients use against the sandbox (issue #18).

Each test names the Gumroad (or Rails) source the sandbox follows. Plain `requests`.
"""

import re
from datetime import date, datetime, timezone

import pytest
import requests

from gumroad_sandbox.server import parse_body

UTC = timezone.utc


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def multipart(**fields):
    """Each field as its own form-data part, the way npm's form-data sends them."""
    return {name: (None, value) for name, value in fields.items()}


def product_by_permalink(sandbox, permalink):
    return next(p for p in sandbox.products if p["short_url"].endswith("/" + permalink))


def fresh_sale(sandbox, permalink="odoo-handbook", **overrides):
    product = product_by_permalink(sandbox, permalink)
    return sandbox.add_sale(product_id=product["id"], **overrides)


# -- request forms ---------------------------------------------------------------------
def test_multipart_body_carries_the_token(sandbox):
    """Rack parses multipart/form-data into params like a urlencoded form."""
    response = requests.get(
        sandbox.base_url + "/user",
        files=multipart(access_token=sandbox.token),
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json()["success"] is True


def test_multipart_license_verify_finds_the_licence(sandbox):
    sale = fresh_sale(sandbox, "invoice-sync")
    response = requests.post(
        sandbox.base_url + "/licenses/verify",
        files=multipart(product_id=sale["product_id"], license_key=sale["license_key"]),
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json()["purchase"]["sale_id"] == sale["id"]


def test_multipart_write_reads_fields_and_file_names():
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="amount_cents"\r\n\r\n150\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="note"\r\n'
        b"Content-Type: text/plain; charset=utf-8\r\n\r\ncaf\xc3\xa9\r\n"
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\nx,y\r\n--XyZ--\r\n"
    )
    params = parse_body(body, "multipart/form-data; boundary=XyZ")
    assert params == {"amount_cents": "150", "note": "café", "file": "a.csv"}
    assert parse_body(b"not multipart", "multipart/form-data") == {}


def test_doubled_slashes_are_squeezed_like_rails_router(sandbox):
    """Journey::Router::Utils.normalize_path squeezes "/" runs before matching."""
    for path in ("/v2//products", "//v2/products", "/v2/products//"):
        response = requests.get(
            sandbox.root_url + path, headers=auth(sandbox.token), timeout=5
        )
        assert response.status_code == 200, path
        assert response.json()["success"] is True


# -- GET /sales/summary ----------------------------------------------------------------
FIXED_NOW = datetime(2026, 7, 15, 18, 0, tzinfo=UTC)  # 11:00 in Los Angeles


def summary(sandbox, token=None, **params):
    return requests.get(
        sandbox.base_url + "/sales/summary",
        params=params,
        headers=auth(token or sandbox.token),
        timeout=10,
    )


def listed_sales(sandbox):
    sales, params = [], {}
    while True:
        body = requests.get(
            sandbox.base_url + "/sales",
            params=params,
            headers=auth(sandbox.token),
            timeout=10,
        ).json()
        sales.extend(body["sales"])
        if "next_page_key" not in body:
            return sales
        params["page_key"] = body["next_page_key"]


def test_summary_is_not_read_as_a_sale_id(sandbox):
    body = summary(sandbox).json()
    assert body["success"] is True
    assert set(body) == {
        "success",
        "gross_cents",
        "net_cents",
        "units",
        "refunded_cents",
        "refunded_units",
        "currency",
        "from",
        "to",
    }
    assert body["currency"] == "usd"


def test_summary_defaults_to_thirty_days_ending_today_for_the_seller(make_sandbox):
    server = make_sandbox(sales=20, clock=lambda: FIXED_NOW)
    body = summary(server).json()
    assert (body["from"], body["to"]) == ("2026-06-16", "2026-07-15")
    late = make_sandbox(sales=20, clock=lambda: FIXED_NOW.replace(hour=3))
    assert summary(late).json()["to"] == "2026-07-14"  # 20:00 the day before in LA


def test_summary_totals_are_the_listed_sales_in_usd_cents(make_sandbox):
    server = make_sandbox(sales=60, clock=lambda: FIXED_NOW)
    sales = listed_sales(server)
    body = summary(server, **{"from": "2025-07-15", "to": "2026-07-15"}).json()
    assert body["units"] == len(sales)
    assert body["gross_cents"] == sum(sale["price"] for sale in sales)
    assert body["net_cents"] == body["gross_cents"] - body["refunded_cents"]


def test_summary_counts_refunds_and_keeps_refunded_sales(make_sandbox):
    server = make_sandbox(sales=0, clock=lambda: FIXED_NOW)
    kept = fresh_sale(server, quantity=1)
    refunded = fresh_sale(server, quantity=1)
    server.refund(refunded["id"])
    body = summary(server).json()
    assert body["units"] == 2
    assert body["gross_cents"] == kept["price"] + refunded["price"]
    assert body["refunded_cents"] == refunded["price"]
    assert body["refunded_units"] == 1
    assert body["net_cents"] == kept["price"]


def test_summary_days_are_the_sellers_days(make_sandbox):
    server = make_sandbox(sales=0, clock=lambda: FIXED_NOW)
    # 05:00 UTC on 14 July is 22:00 on 13 July in Los Angeles.
    sale = fresh_sale(server, created_at=datetime(2026, 7, 14, 5, 0, tzinfo=UTC))
    fresh_sale(server, created_at=datetime(2026, 7, 14, 20, 0, tzinfo=UTC))
    body = summary(server, group_by="day", **{"from": "2026-07-13"}).json()
    assert [(item["key"], item["units"]) for item in body["breakdown"]] == [
        ("2026-07-13", 1),
        ("2026-07-14", 1),
    ]
    assert body["breakdown"][0]["label"] == "2026-07-13"
    assert body["breakdown"][0]["gross_cents"] == sale["price"]
    only_14th = summary(server, **{"from": "2026-07-14", "to": "2026-07-14"}).json()
    assert only_14th["units"] == 1


def test_summary_breakdowns_add_up_to_the_totals(make_sandbox):
    server = make_sandbox(sales=80, clock=lambda: FIXED_NOW)
    window = {"from": "2026-04-15", "to": "2026-07-15"}
    total = summary(server, **window).json()
    for group_by in ("product", "week", "month"):
        items = summary(server, group_by=group_by, **window).json()["breakdown"]
        for key in ("gross_cents", "net_cents", "units", "refunded_cents"):
            assert sum(item[key] for item in items) == total[key], (group_by, key)
        assert list(items[0]) == [
            "gross_cents",
            "net_cents",
            "units",
            "refunded_cents",
            "refunded_units",
            "key",
            "label",
        ]
    products = summary(server, group_by="product", **window).json()["breakdown"]
    ids = {product["id"]: product["name"] for product in server.products}
    assert all(ids[item["key"]] == item["label"] for item in products)
    grosses = [item["gross_cents"] for item in products]
    assert grosses == sorted(grosses, reverse=True)
    months = summary(server, group_by="month", **window).json()["breakdown"]
    assert [item["key"] for item in months] == sorted(item["key"] for item in months)
    assert all(len(item["key"]) == 7 for item in months)  # "2026-05"
    weeks = summary(server, group_by="week", **window).json()["breakdown"]
    assert all(date.fromisoformat(item["key"]).weekday() == 0 for item in weeks)


@pytest.mark.parametrize(
    ("params", "error"),
    [
        (
            {"group_by": "year"},
            "Invalid group_by. Valid values are: product, day, week, month, hour.",
        ),
        (
            {"from": "2026/07/01"},
            (
                "Invalid date format provided in field 'from'. "
                "Dates must be in the format YYYY-MM-DD."
            ),
        ),
        (
            {"from": "2026-07-10", "to": "2026-07-01"},
            "'from' must be on or before 'to'.",
        ),
        (
            {"from": "2025-01-01", "to": "2026-07-01"},
            "Date range cannot exceed 366 days.",
        ),
        (
            {"group_by": "hour", "from": "2026-07-01", "to": "2026-07-09"},
            "Date range cannot exceed 7 days when grouping by hour.",
        ),
    ],
)
def test_summary_bad_parameters_answer_400(sandbox, params, error):
    response = summary(sandbox, **params)
    assert response.status_code == 400
    assert response.json() == {"status": 400, "error": error}


def test_summary_needs_view_sales(sandbox):
    assert summary(sandbox, token="profile-only").status_code == 403
    assert summary(sandbox, token="sales-only").status_code == 200


# -- product sub-resources (routes.rb resources :links, path: "products") --------------
def call(sandbox, method, path, token=None, **data):
    return requests.request(
        method,
        sandbox.base_url + path,
        data=data or None,
        headers=auth(token or sandbox.token),
        timeout=10,
    )


def test_offer_codes_list_show_and_times_used(sandbox):
    product = product_by_permalink(sandbox, "odoo-handbook")
    before = call(sandbox, "GET", f"/products/{product['id']}/offer_codes").json()
    (launch,) = [o for o in before["offer_codes"] if o["name"] == "LAUNCH20"]
    assert set(launch) == {
        "id",
        "name",
        "max_purchase_count",
        "minimum_amount_cents",
        "universal",
        "times_used",
        "percent_off",
    }
    fresh_sale(sandbox, quantity=2, offer_code="LAUNCH20")
    shown = call(
        sandbox, "GET", f"/products/{product['id']}/offer_codes/{launch['id']}"
    )
    assert shown.json()["offer_code"]["times_used"] == launch["times_used"] + 2
    # fetch_product also takes the unique permalink.
    permalink = sandbox.store.product(product["id"]).unique_permalink
    by_permalink = call(sandbox, "GET", f"/products/{permalink}/offer_codes").json()
    assert [o["id"] for o in by_permalink["offer_codes"]] == [
        o["id"] for o in before["offer_codes"]
    ]


def test_offer_code_create_update_delete(sandbox):
    path = f"/products/{product_by_permalink(sandbox, 'odoo-handbook')['id']}"
    missing = call(sandbox, "POST", "/products/nope/offer_codes", name="X")
    assert missing.json()["message"].startswith("You are missing required offer code")
    created = call(
        sandbox,
        "POST",
        f"{path}/offer_codes",
        name="TEN",
        amount_off="10",
        offer_type="percent",
        max_purchase_count="5",
    ).json()["offer_code"]
    assert (created["percent_off"], created["max_purchase_count"]) == (10, 5)
    assert "amount_cents" not in created
    cents = call(
        sandbox, "POST", f"{path}/offer_codes", name="FIVE", amount_cents="500"
    ).json()["offer_code"]
    assert cents["amount_cents"] == 500 and "percent_off" not in cents
    universal = call(
        sandbox,
        "POST",
        f"{path}/offer_codes",
        name="ALL",
        amount_off="1",
        universal="true",
    ).json()["offer_code"]
    assert universal["universal"] is True
    other = product_by_permalink(sandbox, "invoice-sync")["id"]
    listed = call(sandbox, "GET", f"/products/{other}/offer_codes").json()
    assert "ALL" in [o["name"] for o in listed["offer_codes"]]
    updated = call(
        sandbox,
        "PUT",
        f"{path}/offer_codes/{created['id']}",
        max_purchase_count="9",
        name="IGNORED",
    ).json()["offer_code"]
    assert (updated["max_purchase_count"], updated["name"]) == (9, "TEN")
    gone = call(sandbox, "DELETE", f"{path}/offer_codes/{created['id']}").json()
    assert gone == {
        "success": True,
        "message": "The offer_code was deleted successfully.",
    }
    again = call(sandbox, "GET", f"{path}/offer_codes/{created['id']}").json()
    assert again == {"success": False, "message": "The offer_code was not found."}
    refused = call(sandbox, "POST", f"{path}/offer_codes", "sales-only", amount_off="1")
    assert refused.status_code == 403


def test_custom_fields_are_addressed_by_name(sandbox):
    path = f"/products/{product_by_permalink(sandbox, 'odoo-handbook')['id']}"
    fields = call(sandbox, "GET", f"{path}/custom_fields").json()["custom_fields"]
    assert fields[0]["name"] == "Company"
    assert fields[0]["products"] == [
        product_by_permalink(sandbox, "odoo-handbook")["id"]
    ]
    assert set(fields[0]) == {
        "id",
        "type",
        "name",
        "required",
        "global",
        "collect_per_product",
        "products",
    }
    created = call(
        sandbox, "POST", f"{path}/custom_fields", label="VAT number", required="true"
    ).json()["custom_field"]
    assert (created["name"], created["type"], created["required"]) == (
        "VAT number",
        "text",
        True,
    )
    updated = call(
        sandbox, "PUT", f"{path}/custom_fields/VAT number", required="false"
    ).json()["custom_field"]
    assert updated["required"] is False
    assert call(sandbox, "DELETE", f"{path}/custom_fields/VAT number").json() == {
        "success": True,
        "message": "The custom_field was deleted successfully.",
    }
    assert call(sandbox, "PUT", f"{path}/custom_fields/{created['id']}").json() == {
        "success": False,
        "message": "The custom_field was not found.",
    }
    nameless = call(sandbox, "POST", f"{path}/custom_fields", required="true").json()
    assert nameless == {
        "success": False,
        "message": "The custom_field was unable to be created.",
    }


def test_variant_categories_and_variants(sandbox):
    product = product_by_permalink(sandbox, "invoice-sync")
    path = f"/products/{product['id']}/variant_categories"
    (category,) = call(sandbox, "GET", path).json()["variant_categories"]
    assert category["title"] == product["variants"][0]["title"]
    variants = call(sandbox, "GET", f"{path}/{category['id']}/variants").json()
    names = [option["name"] for option in product["variants"][0]["options"]]
    assert [v["name"] for v in variants["variants"]] == names
    created = call(
        sandbox,
        "POST",
        f"{path}/{category['id']}/variants",
        name="Agency",
        price_difference_cents="9000",
    ).json()["variant"]
    assert created["price_difference_cents"] == 9000
    options = api_product(sandbox, product["id"])["variants"][0]["options"]
    assert "Agency" in [option["name"] for option in options]
    renamed = call(sandbox, "PUT", f"{path}/{category['id']}", title="Seats").json()[
        "variant_category"
    ]
    assert renamed == {"id": category["id"], "title": "Seats"}
    assert api_product(sandbox, product["id"])["variants"][0]["title"] == "Seats"
    variant_path = f"{path}/{category['id']}/variants/{created['id']}"
    assert call(sandbox, "DELETE", variant_path).json()["message"] == (
        "The variant was deleted successfully."
    )
    assert call(sandbox, "GET", variant_path).json() == {
        "success": False,
        "message": "The variant was not found.",
    }
    # fetch_variant_category calls .variants on nil before its own check.
    assert call(sandbox, "GET", f"{path}/nope/variants").status_code == 500
    assert call(sandbox, "GET", f"{path}/nope").json() == {
        "success": False,
        "message": "The variant_category was not found.",
    }
    new = call(sandbox, "POST", path, title="Format").json()["variant_category"]
    assert new["title"] == "Format"
    assert call(sandbox, "DELETE", f"{path}/{new['id']}").json()["success"] is True
    assert len(call(sandbox, "GET", path).json()["variant_categories"]) == 1


def test_tier_variants_carry_recurrence_prices(sandbox):
    product = next(p for p in sandbox.products if p["is_tiered_membership"])
    path = f"/products/{product['id']}/variant_categories"
    (category,) = call(sandbox, "GET", path).json()["variant_categories"]
    (tier, *_) = call(sandbox, "GET", f"{path}/{category['id']}/variants").json()[
        "variants"
    ]
    values = tier["recurrence_price_values"]
    assert set(values) == {
        "monthly",
        "quarterly",
        "biannually",
        "yearly",
        "every_two_years",
    }
    assert values["monthly"]["enabled"] is True
    assert isinstance(values["monthly"]["price_cents"], int)
    assert tier["is_customizable_price"] is False


def test_skus_of_digital_products_are_empty_and_unknown_products_not_found(sandbox):
    product = product_by_permalink(sandbox, "invoice-sync")
    assert call(sandbox, "GET", f"/products/{product['id']}/skus").json() == {
        "success": True,
        "skus": [],
    }
    assert call(sandbox, "GET", "/products/nope/skus").json() == {
        "success": False,
        "message": "The product was not found.",
    }
    assert call(sandbox, "GET", "/products/nope/skus", "public-only").status_code == 200


def api_product(sandbox, product_id):
    return call(sandbox, "GET", f"/products/{product_id}").json()["product"]


# -- upcoming payouts (payouts_controller.rb#index, payment.rb#as_json) ----------------
def test_upcoming_payout_is_an_unsaved_payment_with_the_sellers_status(sandbox):
    body = call(sandbox, "GET", "/payouts").json()
    upcoming = body["payouts"][0]
    assert upcoming == {
        "id": None,
        "amount": upcoming["amount"],
        "currency": "usd",
        "status": "payable",
        "created_at": None,
        "processed_at": None,
        "payment_processor": None,
        "bank_account_visual": None,
        "paypal_email": None,
    }
    assert body["payouts"][1]["currency"] == "USD"  # a saved payout keeps its own
    sandbox.store.seller.payouts_paused = True
    paused = call(sandbox, "GET", "/payouts/upcoming").json()["payouts"][0]
    assert paused["status"] == "paused"


# -- optional sale keys (purchase.rb#as_json, #web_csv_parity_fields) ------------------
OPTIONAL_SALE_KEYS = (
    "tip_cents",
    "utm_term",
    "utm_content",
    "review",
    "upsell",
    "ppp",
    "buyer_presentment",
    "subscription_end_date",
)


def test_demo_sales_use_the_optional_keys_with_gumroads_types(make_sandbox):
    server = make_sandbox(sales=600, clock=lambda: FIXED_NOW)
    sales = listed_sales(server)
    for key in OPTIONAL_SALE_KEYS:
        share = sum(key in sale for sale in sales) / len(sales)
        assert 0 < share < 0.5, key  # some sales, never most
    for sale in sales:
        if "tip_cents" in sale:  # a tip is part of price, in USD cents
            assert isinstance(sale["tip_cents"], int)
            assert 0 < sale["tip_cents"] < sale["price"]
        if "utm_term" in sale or "utm_content" in sale:
            assert "utm_source" in sale
        if "review" in sale:
            assert isinstance(sale["review"], str) and sale["product_rating"]
        if "ppp" in sale:
            assert set(sale["ppp"]) == {"country", "discount"}
            assert re.fullmatch(r"\d+%", sale["ppp"]["discount"])
        if "upsell" in sale:
            assert set(sale["upsell"]) == {
                "name",
                "discount",
                "selected_product",
                "selected_version",
            }
        if "subscription_end_date" in sale:
            date.fromisoformat(sale["subscription_end_date"])
            assert sale["cancelled"] or sale["ended"] or sale["dead"]
        if "buyer_presentment" in sale:
            presentment = sale["buyer_presentment"]
            assert presentment["currency"] == sale["currency"] != "usd"
            assert isinstance(presentment["fx_rate"], str)
            assert presentment["total_cents"] >= presentment["price_cents"] > 0
        # Only sales paid into the seller's own account carry the processor keys.
        direct = sale.get("payment_processor") in ("paypal", "stripe_connect")
        assert direct or "payment_processor" not in sale
        for key in (
            "processor_transaction_id",
            "processor_fee_cents",
            "processor_fee_currency",
            "transaction_url_for_seller",
        ):
            assert (key in sale) == direct, key


def test_buyer_presentment_follows_refunds_in_the_buyer_currency(make_sandbox):
    server = make_sandbox(sales=300, clock=lambda: FIXED_NOW)
    sale = next(
        s
        for s in listed_sales(server)
        if "buyer_presentment" in s
        and not s["refunded"]
        and not s["partially_refunded"]
    )
    refunded = server.refund(sale["id"], 100)
    assert refunded["buyer_presentment"]["refunded_cents"] == 100
