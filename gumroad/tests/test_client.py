"""GumroadClient: the error table, the retry rule, pagination, headers and logs.

The first part injects a fake `requests.Session` (scripted answers, no network) and
a recording `sleep`. The second part talks HTTP to the sandbox over loopback.
"""

import json
import logging
import re
import subprocess
import sys
import threading
from datetime import date, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from pathlib import Path

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from gumroad import (
    DEFAULT_BASE_URL,
    AuthenticationError,
    GumroadClient,
    GumroadConnectionError,
    GumroadError,
    InvalidRequestError,
    MissingScopeError,
    NotFoundError,
    QueryTimeoutError,
    RateLimitError,
    SaleNotFoundError,
    ServerError,
    __version__,
    parse_sale,
    sale_target,
)

# Real-shaped Gumroad bodies, kept with the tests (data/README.md says what each is).
EXAMPLES = Path(__file__).resolve().parent / "data"
PACKAGE = Path(__file__).resolve().parents[1]
TOKEN = "tok_SECRET_0123456789abcdef"
BASE_URL = "https://api.gumroad.test/v2"


def response(status=200, body=b"", *, headers=None, content_type=None):
    """A real requests.Response, as a session would return it."""
    if isinstance(body, dict | list):
        body = json.dumps(body).encode()
        content_type = content_type or "application/json; charset=utf-8"
    elif isinstance(body, str):
        body = body.encode()
    answer = requests.Response()
    answer.status_code = status
    answer._content = body
    answer.headers = CaseInsensitiveDict(headers or {})
    if content_type:
        answer.headers["Content-Type"] = content_type
    answer.encoding = "utf-8"
    return answer


def ok(**payload):
    return response(200, {"success": True, **payload})


class FakeSession:
    """Answers scripted in order: a Response, an exception to raise, or a callable
    (method, url, params) -> Response for routed answers."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []
        self._lock = threading.Lock()

    def request(self, method, url, **kwargs):
        with self._lock:
            self.calls.append({"method": method, "url": url, **kwargs})
            answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer(method, url, kwargs.get("params") or {})
        return answer


class RecordingSleep:
    def __init__(self):
        self.calls = []

    def __call__(self, seconds):
        self.calls.append(seconds)


def make_client(*answers, **kwargs):
    session = FakeSession(*answers)
    sleep = RecordingSleep()
    client = GumroadClient(TOKEN, BASE_URL, session=session, sleep=sleep, **kwargs)
    return client, session, sleep


# --- the error table ------------------------------------------------------------


def test_401_empty_body_is_an_authentication_error_with_the_fix():
    client, session, sleep = make_client(response(401, b""))
    with pytest.raises(AuthenticationError) as caught:
        client.get_user()
    assert str(caught.value) == (
        "Gumroad rejected the access token: it is invalid or has been revoked. "
        "Generate a new token in Gumroad (Settings > Advanced > Applications) and "
        "save it on the connector."
    )
    assert caught.value.status == 401
    assert caught.value.retryable is False
    assert len(session.calls) == 1 and sleep.calls == []


def test_403_empty_body_names_the_endpoint_and_the_scope():
    client, session, sleep = make_client(response(403, b""))
    with pytest.raises(MissingScopeError) as caught:
        list(client.iter_sales())
    assert str(caught.value).startswith(
        "The access token does not have the scope required for GET /sales "
        "(needs view_sales or account)."
    )
    assert "Settings > Advanced > Applications" in str(caught.value)
    assert caught.value.status == 403
    assert len(session.calls) == 1 and sleep.calls == []


def test_403_for_a_sale_hides_the_sale_id():
    client, _, _ = make_client(response(403, b""))
    with pytest.raises(MissingScopeError, match=r"GET /sales/:id \(needs view_sales"):
        client.get_sale("abc==")


def test_403_with_gumroad_message_keeps_it():
    body = {
        "success": False,
        "message": "This endpoint requires the view_payouts scope.",
    }
    client, _, _ = make_client(response(403, body))
    with pytest.raises(MissingScopeError, match="requires the view_payouts scope"):
        list(client.iter_payouts())


def test_sale_not_found_sent_as_200_success_false():
    client, session, sleep = make_client(
        response(200, {"success": False, "message": "The sale was not found."})
    )
    with pytest.raises(SaleNotFoundError) as caught:
        client.get_sale("VE_WIQIBoFtF6h-JZ5XRbw==")
    assert isinstance(caught.value, NotFoundError)
    assert "VE_WIQIBoFtF6h-JZ5XRbw==" in str(caught.value)
    assert caught.value.status == 200
    assert len(session.calls) == 1 and sleep.calls == []


def test_other_not_found_is_a_not_found_error():
    client, _, _ = make_client(
        response(200, {"success": False, "message": "The product was not found."})
    )
    with pytest.raises(NotFoundError, match="The product was not found.") as caught:
        client.get_product("nope")
    assert not isinstance(caught.value, SaleNotFoundError)


def test_http_404_is_a_not_found_error():
    body = {
        "success": False,
        "message": "That license does not exist for the provided product.",
    }
    client, session, _ = make_client(response(404, body))
    with pytest.raises(NotFoundError, match="That license does not exist"):
        client.verify_license("prod", "KEY")
    assert len(session.calls) == 1


def test_200_success_false_validation_is_an_invalid_request():
    body = {"success": False, "message": "Invalid post URL 'ftp://x'"}
    client, _, _ = make_client(response(200, body))
    with pytest.raises(InvalidRequestError, match="Invalid post URL") as caught:
        client.create_resource_subscription("sale", "ftp://x")
    assert not isinstance(caught.value, NotFoundError)


def test_400_with_error_key_is_an_invalid_request():
    client, session, sleep = make_client(
        response(400, {"status": 400, "error": "Invalid page_key."})
    )
    with pytest.raises(InvalidRequestError) as caught:
        list(client.iter_sales())
    assert str(caught.value) == "Gumroad refused GET /sales: Invalid page_key."
    assert not isinstance(caught.value, QueryTimeoutError)
    assert caught.value.status == 400
    assert len(session.calls) == 1 and sleep.calls == []


def test_400_query_timed_out_is_a_query_timeout():
    text = (
        "Query timed out. Try narrowing your date range with 'after'/'before' or "
        "filtering by product_id."
    )
    client, session, sleep = make_client(response(400, {"status": 400, "error": text}))
    with pytest.raises(QueryTimeoutError, match="Query timed out") as caught:
        list(client.iter_sales(after=date(2020, 1, 1)))
    assert isinstance(caught.value, InvalidRequestError)
    assert len(session.calls) == 1 and sleep.calls == []


def test_429_plain_text_is_retried_three_times_then_reported():
    limited = response(429, "Retry later\n", content_type="text/plain")
    client, session, sleep = make_client(limited)
    with pytest.raises(RateLimitError) as caught:
        client.get_user()
    assert sleep.calls == [1, 2, 4]
    assert len(session.calls) == 4
    assert client.request_count == 4
    assert str(caught.value) == (
        "Gumroad is rate limiting requests (HTTP 429) after 3 retries; "
        "wait a few minutes and try again."
    )
    assert caught.value.body == "Retry later\n"
    assert caught.value.retryable is True


def test_429_then_success_recovers():
    limited = response(429, "Retry later\n", content_type="text/plain")
    client, _, sleep = make_client(limited, ok(user={"name": "Acme"}))
    assert client.get_user() == {"name": "Acme"}
    assert sleep.calls == [1]
    assert client.request_count == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retried_then_reported_as_unavailable(status):
    client, session, sleep = make_client(response(status, "<html>oops</html>"))
    with pytest.raises(ServerError) as caught:
        client.get_user()
    assert sleep.calls == [1, 2, 4]
    assert len(session.calls) == 4
    assert str(caught.value) == (
        f"Gumroad is unavailable (HTTP {status}) after 3 retries; try again later."
    )
    assert caught.value.status == status


def test_5xx_then_success_recovers():
    client, _, sleep = make_client(
        response(502), response(503), ok(user={"name": "Acme"})
    )
    assert client.get_user()["name"] == "Acme"
    assert sleep.calls == [1, 2]


def test_500_carrying_a_refusal_is_not_retried():
    body = {"success": False, "message": "The 'product_id' parameter is required."}
    client, session, sleep = make_client(response(500, body))
    with pytest.raises(InvalidRequestError, match="product_id' parameter is required"):
        client.verify_license("", "KEY")
    assert len(session.calls) == 1 and sleep.calls == []


@pytest.mark.parametrize(
    "exception",
    [
        requests.ReadTimeout("read timed out"),
        requests.ConnectTimeout("connect timed out"),
        requests.ConnectionError("connection reset by peer"),
        requests.exceptions.ChunkedEncodingError("connection broken"),
    ],
    ids=["read-timeout", "connect-timeout", "connection-error", "chunked"],
)
def test_transport_failures_are_retried_then_reported(exception):
    client, session, sleep = make_client(exception)
    with pytest.raises(GumroadConnectionError) as caught:
        client.get_user()
    assert sleep.calls == [1, 2, 4]
    assert len(session.calls) == 4
    assert str(caught.value).startswith("Could not reach Gumroad")
    assert "after 3 retries" in str(caught.value)
    assert isinstance(caught.value.__cause__, requests.RequestException)


def test_timeout_message_gives_the_read_timeout():
    client, _, _ = make_client(requests.ReadTimeout("x"), timeout=(5.0, 30.0))
    with pytest.raises(GumroadConnectionError, match="no answer within 30 s"):
        client.get_user()


def test_timeout_then_success_recovers():
    client, _, sleep = make_client(
        requests.ReadTimeout("slow"), ok(user={"name": "Acme"})
    )
    assert client.get_user() == {"name": "Acme"}
    assert sleep.calls == [1]


@pytest.mark.parametrize(
    "body",
    [b'{"success": true, "sales": [{"id": "a=="', b"", b"<html>", b"[1, 2]"],
    ids=["truncated", "empty", "html", "not-an-object"],
)
def test_unreadable_200_body_is_retried_as_a_connection_error(body):
    client, session, sleep = make_client(response(200, body))
    with pytest.raises(GumroadConnectionError, match="incomplete or unreadable"):
        client.get_user()
    assert sleep.calls == [1, 2, 4]
    assert len(session.calls) == 4


def test_truncated_json_then_full_page_recovers():
    client, _, sleep = make_client(
        response(200, b'{"success": true, "sales": [{"id": "a=="'),
        ok(sales=[{"id": "a=="}]),
    )
    assert [sale["id"] for sale in client.iter_sales()] == ["a=="]
    assert sleep.calls == [1]


def test_retry_after_seconds_is_honoured():
    limited = response(
        429, "Retry later\n", content_type="text/plain", headers={"Retry-After": "7"}
    )
    client, _, sleep = make_client(limited, ok(user={}))
    client.get_user()
    assert sleep.calls == [7.0]


def test_retry_after_http_date_is_honoured():
    when = datetime.now().astimezone() + timedelta(seconds=20)
    unavailable = response(503, headers={"Retry-After": format_datetime(when)})
    client, _, sleep = make_client(unavailable, ok(user={}))
    client.get_user()
    assert 15 <= sleep.calls[0] <= 21


def test_unreadable_retry_after_falls_back_to_backoff():
    limited = response(429, "Retry later\n", headers={"Retry-After": "soon"})
    client, _, sleep = make_client(limited, ok(user={}))
    client.get_user()
    assert sleep.calls == [1]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 422])
def test_client_errors_are_never_retried(status):
    client, session, sleep = make_client(response(status, b""))
    with pytest.raises(GumroadError) as caught:
        client.get_user()
    assert not isinstance(caught.value, RateLimitError | ServerError)
    assert caught.value.retryable is False
    assert len(session.calls) == 1
    assert sleep.calls == []


def test_max_retries_is_configurable():
    client, _, sleep = make_client(response(503), max_retries=1)
    with pytest.raises(ServerError) as caught:
        client.get_user()
    assert sleep.calls == [1]
    assert "after 1 retry;" in str(caught.value)
    client, _, sleep = make_client(response(503), max_retries=0)
    with pytest.raises(ServerError) as caught:
        client.get_user()
    assert sleep.calls == []
    assert str(caught.value) == "Gumroad is unavailable (HTTP 503); try again later."


def test_writes_are_not_repeated_when_gumroad_may_have_acted():
    # PUT /resource_subscriptions creates one more subscription per call.
    client, session, sleep = make_client(response(503))
    with pytest.raises(ServerError):
        client.create_resource_subscription("sale", "https://example.com/hook")
    assert len(session.calls) == 1 and sleep.calls == []
    client, session, sleep = make_client(requests.ReadTimeout("x"))
    with pytest.raises(GumroadConnectionError):
        client.create_resource_subscription("sale", "https://example.com/hook")
    assert len(session.calls) == 1


def test_writes_are_retried_when_gumroad_surely_did_not_act():
    limited = response(429, "Retry later\n")
    created = ok(resource_subscription={"id": "rs1"})
    client, _, sleep = make_client(limited, created)
    assert (
        client.create_resource_subscription("sale", "https://x.test/h")["id"] == "rs1"
    )
    assert sleep.calls == [1]
    client, _, sleep = make_client(requests.ConnectTimeout("x"), created)
    client.create_resource_subscription("sale", "https://x.test/h")
    assert sleep.calls == [1]


def test_missing_token_fails_before_any_request():
    session = FakeSession(ok(user={}))
    client = GumroadClient("", BASE_URL, session=session)
    with pytest.raises(AuthenticationError, match="No Gumroad access token"):
        client.get_user()
    assert session.calls == []


@pytest.mark.parametrize("token", ["abc def", "abc\ndef", "tökén"])
def test_garbled_token_fails_before_any_request(token):
    session = FakeSession(ok(user={}))
    client = GumroadClient(token, BASE_URL, session=session)
    with pytest.raises(AuthenticationError, match="paste it again"):
        client.get_user()
    assert session.calls == []


def test_unexpected_answer_shape_is_reported():
    client, _, _ = make_client(ok(users=[]))
    with pytest.raises(GumroadError, match="no 'user' dict"):
        client.get_user()


def test_error_message_is_one_line_and_str_equals_message():
    body = {"status": 400, "error": "Invalid date format\nprovided in field 'after'."}
    client, _, _ = make_client(response(400, body))
    with pytest.raises(InvalidRequestError) as caught:
        list(client.iter_sales())
    assert "\n" not in str(caught.value)
    assert str(caught.value) == caught.value.message


# --- requests as sent -------------------------------------------------------------


def test_token_goes_in_the_bearer_header_only():
    client, session, _ = make_client(ok(user={}))
    client.get_user()
    call = session.calls[0]
    assert call["method"] == "GET"
    assert call["url"] == BASE_URL + "/user"
    assert call["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in call["url"]
    assert TOKEN not in json.dumps(call.get("params") or {})
    assert TOKEN not in json.dumps(call.get("data") or {})
    assert call["timeout"] == (5.0, 30.0)


def test_user_agent_names_the_connector_and_its_version():
    client, session, _ = make_client(ok(user={}))
    client.get_user()
    agent = session.calls[0]["headers"]["User-Agent"]
    assert agent == f"gumroad_connector/{__version__} (+Odoo)"
    assert __version__ == "19.0.1.3.0"
    client, session, _ = make_client(ok(user={}), user_agent="custom/1")
    client.get_user()
    assert session.calls[0]["headers"]["User-Agent"] == "custom/1"


def test_default_base_url_is_gumroads():
    assert DEFAULT_BASE_URL == "https://api.gumroad.com/v2"
    assert GumroadClient(TOKEN).base_url == DEFAULT_BASE_URL


def test_token_is_masked_in_logs(caplog):
    caplog.set_level(logging.DEBUG)
    client, _, _ = make_client(response(503), ok(user={}))
    client.get_user()
    logger = logging.getLogger(GumroadClient.__module__)
    logger.warning("header was Authorization: Bearer %s", TOKEN)
    logger.warning("url was https://x.test/v2/sales?access_token=%s&page=1", TOKEN)
    logger.warning("raw %s", TOKEN)
    assert caplog.records, "the client logs its calls"
    text = caplog.text
    assert TOKEN not in text
    assert "Bearer ***" in text
    assert "access_token=***" in text
    assert "GET /user" in text
    assert any(record.levelno == logging.WARNING for record in caplog.records)


def test_client_repr_hides_the_token():
    client, _, _ = make_client(ok(user={}))
    assert TOKEN not in repr(client)


def test_personal_data_in_params_is_masked_in_logs(caplog):
    caplog.set_level(logging.INFO)
    client, _, _ = make_client(ok(sales=[]))
    list(client.iter_sales(email="buyer@example.com"))
    assert "buyer@example.com" not in caplog.text
    assert "email=***" in caplog.text


# --- pagination ---------------------------------------------------------------------


def test_pagination_follows_next_page_key_with_our_own_params():
    client, session, _ = make_client(
        ok(
            sales=[{"id": "1"}, {"id": "2"}],
            next_page_key="20260720184207123456-524459995",
            next_page_url="/v2/sales?page_key=20260720184207123456-524459995",
        ),
        ok(
            sales=[{"id": "3"}],
            next_page_key="20260719000000000000-111",
            next_page_url="/v2/sales?bogus=1",
        ),
        ok(sales=[{"id": "4"}]),
    )
    sales = list(
        client.iter_sales(
            after=date(2026, 7, 1),
            before=datetime(2026, 8, 1, 13, 5),
            product_id="prod==",
        )
    )
    assert [sale["id"] for sale in sales] == ["1", "2", "3", "4"]
    params = [call["params"] for call in session.calls]
    base = {"after": "2026-07-01", "before": "2026-08-01", "product_id": "prod=="}
    assert params == [
        base,
        {**base, "page_key": "20260720184207123456-524459995"},
        {**base, "page_key": "20260719000000000000-111"},
    ]
    assert all(call["url"] == BASE_URL + "/sales" for call in session.calls)


def test_sale_pages_are_yielded_one_list_per_page():
    client, _, _ = make_client(
        ok(sales=[{"id": "1"}], next_page_key="k1"), ok(sales=[{"id": "2"}])
    )
    assert list(client.iter_sale_pages()) == [[{"id": "1"}], [{"id": "2"}]]


def test_a_repeated_page_key_stops_instead_of_looping_forever():
    page = ok(sales=[{"id": "1"}], next_page_key="same")
    client, session, _ = make_client(page)
    with pytest.raises(GumroadError, match="page key"):
        list(client.iter_sales())
    assert len(session.calls) == 2


def test_products_subscribers_and_payouts_paginate():
    client, session, _ = make_client(
        ok(products=[{"id": "p1"}], next_page_key="k"),
        ok(products=[{"id": "p2"}]),
        ok(subscribers=[{"id": "s1"}]),
        ok(payouts=[{"id": "po1"}]),
    )
    assert [p["id"] for p in client.iter_products()] == ["p1", "p2"]
    assert [s["id"] for s in client.iter_subscribers("p1==")] == ["s1"]
    assert [p["id"] for p in client.iter_payouts(after=date(2026, 1, 1))] == ["po1"]
    assert session.calls[1]["params"] == {"page_key": "k"}
    assert session.calls[2]["url"] == BASE_URL + "/products/p1==/subscribers"
    assert session.calls[2]["params"] == {"paginated": "true"}
    assert session.calls[3]["params"] == {
        "after": "2026-01-01",
        "include_upcoming": "false",
    }


def test_single_object_endpoints():
    client, session, _ = make_client(
        ok(product={"id": "p"}),
        ok(sale={"id": "s"}),
        ok(subscriber={"id": "sub"}),
        ok(payout={"id": "po"}),
        ok(resource_subscriptions=[{"id": "rs"}]),
        ok(message="The resource_subscription was deleted successfully."),
        ok(uses=3, purchase={}),
        ok(uses=3, purchase={}),
        ok(uses=3, purchase={}),
    )
    assert client.get_product("a/b==") == {"id": "p"}
    assert client.get_sale("s==") == {"id": "s"}
    assert client.get_subscriber("sub") == {"id": "sub"}
    assert client.get_payout("po", include_transactions=True) == {"id": "po"}
    assert client.list_resource_subscriptions("refund") == [{"id": "rs"}]
    assert client.delete_resource_subscription("rs") is None
    assert client.verify_license("p", "K")["uses"] == 3
    client.enable_license("p", "K")
    client.disable_license("p", "K")
    calls = [(c["method"], c["url"].removeprefix(BASE_URL)) for c in session.calls]
    assert calls == [
        ("GET", "/products/a%2Fb=="),
        ("GET", "/sales/s=="),
        ("GET", "/subscribers/sub"),
        ("GET", "/payouts/po"),
        ("GET", "/resource_subscriptions"),
        ("DELETE", "/resource_subscriptions/rs"),
        ("POST", "/licenses/verify"),
        ("PUT", "/licenses/enable"),
        ("PUT", "/licenses/disable"),
    ]
    assert session.calls[3]["params"] == {"include_transactions": "true"}
    assert session.calls[4]["params"] == {"resource_name": "refund"}
    assert session.calls[6]["data"] == {
        "product_id": "p",
        "license_key": "K",
        "increment_uses_count": "false",
    }


def test_real_shaped_user_and_product_page_bodies():
    user = (EXAMPLES / "user_get.json").read_bytes()
    products = (EXAMPLES / "products_list_page1_with_next_page_key.json").read_bytes()
    page = json.loads(products)
    client, session, _ = make_client(
        response(200, user, content_type="application/json"),
        response(200, products, content_type="application/json"),
        ok(products=[{"id": "last"}]),
    )
    assert client.get_user()["user_id"] == "pCeerkeqp0F9piQ0eVoBHA=="
    ids = [product["id"] for product in client.iter_products()]
    assert ids == [product["id"] for product in page["products"]] + ["last"]
    assert session.calls[2]["params"] == {"page_key": page["next_page_key"]}


def test_real_shaped_sale_body_through_get_sale():
    body = (EXAMPLES / "sale_get_plain_usd.json").read_bytes()
    client, _, _ = make_client(response(200, body, content_type="application/json"))
    sale = parse_sale(client.get_sale("VE_WIQIBoFtF6h-JZ5XRbw=="))
    assert sale_target(sale).net_amount == Decimal("29.00")


# --- package hygiene ----------------------------------------------------------------


def test_the_pure_package_never_imports_odoo():
    pattern = re.compile(r"^\s*(from|import)\s+odoo\b", re.MULTILINE)
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_importing_the_package_loads_neither_odoo_nor_the_sandbox():
    code = (
        "import sys, gumroad; "
        "print(sorted(m for m in sys.modules "
        "if m == 'odoo' or m.startswith(('odoo.', 'gumroad_sandbox'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PACKAGE.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "[]"


# --- date windows over a fake session -------------------------------------------------


def routed_sales(sales_by_day, *, timeout_over_days=None, fail_on=None):
    """A fake GET /sales that filters by after/before and pages by 2."""

    def answer(method, url, params):
        after = date.fromisoformat(params["after"])
        before = date.fromisoformat(params["before"])
        if fail_on and (after, before) == fail_on:
            return response(401)
        if timeout_over_days is not None and (before - after).days > timeout_over_days:
            return response(400, {"status": 400, "error": "Query timed out. Narrow."})
        rows = [
            sale
            for day, sales in sorted(sales_by_day.items(), reverse=True)
            if after <= day < before
            for sale in sales
        ]
        start = int(params.get("page_key", 0))
        payload = {"success": True, "sales": rows[start : start + 2]}
        if start + 2 < len(rows):
            payload["next_page_key"] = str(start + 2)
        return response(200, payload)

    return answer


def sales_by_day(first, days, per_day=3):
    return {
        first + timedelta(days=i): [
            {"id": f"{first + timedelta(days=i)}-{n}"} for n in range(per_day)
        ]
        for i in range(days)
    }


def test_sales_windows_read_every_sale_once_concurrently():
    data = sales_by_day(date(2026, 7, 1), 31)
    client, session, _ = make_client(routed_sales(data))
    pages = list(
        client.iter_sales_windows(date(2026, 7, 1), date(2026, 7, 31), window_days=7)
    )
    ids = [sale["id"] for page in pages for sale in page]
    assert len(ids) == 93 == len(set(ids))
    windows = {(c["params"]["after"], c["params"]["before"]) for c in session.calls}
    assert ("2026-07-25", "2026-08-01") in windows
    assert ("2026-07-01", "2026-07-04") in windows
    assert len(windows) == 5


def test_sales_windows_split_a_window_that_times_out():
    data = sales_by_day(date(2026, 7, 1), 28)
    client, session, _ = make_client(routed_sales(data, timeout_over_days=3))
    pages = list(
        client.iter_sales_windows(
            date(2026, 7, 1), date(2026, 7, 28), window_days=14, max_workers=2
        )
    )
    ids = [sale["id"] for page in pages for sale in page]
    assert len(ids) == 84 == len(set(ids))
    spans = {
        (
            date.fromisoformat(c["params"]["before"])
            - date.fromisoformat(c["params"]["after"])
        ).days
        for c in session.calls
    }
    assert max(spans) == 14 and min(spans) <= 3


def test_sales_windows_raise_when_one_day_still_times_out():
    data = sales_by_day(date(2026, 7, 1), 3)
    client, _, _ = make_client(routed_sales(data, timeout_over_days=0))
    with pytest.raises(QueryTimeoutError):
        list(client.iter_sales_windows(date(2026, 7, 1), date(2026, 7, 3)))


def test_sales_windows_pass_other_errors_to_the_caller():
    data = sales_by_day(date(2026, 7, 1), 30)
    fail_on = (date(2026, 7, 10), date(2026, 7, 17))
    client, _, _ = make_client(routed_sales(data, fail_on=fail_on))
    with pytest.raises(AuthenticationError):
        list(
            client.iter_sales_windows(
                date(2026, 7, 1), date(2026, 7, 30), window_days=7
            )
        )


def test_sales_windows_stop_cleanly_when_the_caller_stops():
    data = sales_by_day(date(2026, 1, 1), 200)
    client, _, _ = make_client(routed_sales(data))
    windows = client.iter_sales_windows(date(2026, 1, 1), date(2026, 7, 19))
    first = next(windows)
    windows.close()
    assert first
    assert not [t for t in threading.enumerate() if t.name.startswith("gumroad-sales")]


def test_sales_windows_over_an_empty_range():
    client, session, _ = make_client(ok(sales=[]))
    assert list(client.iter_sales_windows(date(2026, 7, 2), date(2026, 7, 1))) == []
    assert session.calls == []


# --- against the sandbox over real HTTP ----------------------------------------------


def sandbox_client(sandbox, **kwargs):
    sleep = RecordingSleep()
    kwargs.setdefault("token", sandbox.token)
    token = kwargs.pop("token")
    client = GumroadClient(token, sandbox.base_url, sleep=sleep, **kwargs)
    return client, sleep


def sale_days(sandbox):
    days = [date.fromisoformat(sale["created_at"][:10]) for sale in sandbox.sales]
    return min(days), max(days)


def test_sandbox_every_page_of_1000_sales_is_read_exactly_once(make_sandbox):
    sandbox = make_sandbox(sales=1000)
    client, sleep = sandbox_client(sandbox)
    ids = [sale["id"] for sale in client.iter_sales()]
    assert len(ids) == len(set(ids)) == len(sandbox.sales) == 1000
    assert ids == [sale["id"] for sale in sandbox.sales]
    pages = [r for r in sandbox.request_log if r.path.endswith("/sales")]
    assert len(pages) == 100
    assert client.request_count == sandbox.request_count == 100
    assert sleep.calls == []


def test_sandbox_windows_read_every_sale_exactly_once(make_sandbox):
    sandbox = make_sandbox(sales=1000)
    client, _ = sandbox_client(sandbox)
    first, last = sale_days(sandbox)
    ids = [
        sale["id"]
        for page in client.iter_sales_windows(first, last, window_days=10)
        for sale in page
    ]
    assert len(ids) == len(set(ids)) == 1000
    assert set(ids) == {sale["id"] for sale in sandbox.sales}


def test_sandbox_pagination_carries_our_filters_to_every_page(make_sandbox):
    sandbox = make_sandbox(sales=300)
    client, _ = sandbox_client(sandbox)
    first, last = sale_days(sandbox)
    after, before = first + timedelta(days=10), last - timedelta(days=10)
    sales = list(client.iter_sales(after=after, before=before))
    expected = [
        sale["id"]
        for sale in sandbox.sales
        if after.isoformat() <= sale["created_at"][:10] < before.isoformat()
    ]
    assert [sale["id"] for sale in sales] == expected
    assert len(expected) > 20
    for logged in sandbox.request_log:
        assert logged.params["after"] == after.isoformat()
        assert logged.params["before"] == before.isoformat()
        assert "access_token" not in logged.params
    assert sum("page_key" in r.params for r in sandbox.request_log) >= 2


def test_sandbox_sees_the_bearer_header_and_user_agent(sandbox):
    client, _ = sandbox_client(sandbox)
    client.get_user()
    headers = sandbox.request_headers[-1]
    headers = {k.lower(): v for k, v in headers.items()}
    assert headers["authorization"] == f"Bearer {sandbox.token}"
    assert headers["user-agent"] == f"gumroad_connector/{__version__} (+Odoo)"


def test_sandbox_rate_limit_burst_is_recovered_with_the_backoff(make_sandbox):
    sandbox = make_sandbox(sales=100)
    # Requests 5, 6, 7 answer 429, then 10, 11, 12...: each burst costs 1 + 2 + 4 s.
    sandbox.faults.configure(rate_limit_every=5, rate_limit_burst=3)
    client, sleep = sandbox_client(sandbox)
    ids = [sale["id"] for sale in client.iter_sales()]
    assert len(ids) == len(set(ids)) == 100
    assert sleep.calls[:3] == [1, 2, 4]
    assert len(sleep.calls) % 3 == 0 and set(sleep.calls) == {1, 2, 4}
    assert client.request_count == sandbox.request_count


def test_sandbox_rate_limit_longer_than_the_retries_is_reported(make_sandbox):
    sandbox = make_sandbox(sales=20)
    sandbox.faults.configure(rate_limit_every=1)
    client, sleep = sandbox_client(sandbox)
    with pytest.raises(RateLimitError, match=r"HTTP 429\) after 3 retries"):
        client.get_user()
    assert sleep.calls == [1, 2, 4]
    assert sandbox.request_count == 4


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_sandbox_server_errors_are_recovered(make_sandbox, status):
    sandbox = make_sandbox(sales=60)
    sandbox.faults.configure(server_error_every=2, server_error_status=status)
    client, sleep = sandbox_client(sandbox)
    ids = [sale["id"] for sale in client.iter_sales()]
    assert len(ids) == len(set(ids)) == 60
    assert sleep.calls and set(sleep.calls) == {1}


def test_sandbox_server_down_is_reported_after_the_retries(make_sandbox):
    sandbox = make_sandbox(sales=20)
    sandbox.faults.configure(server_error_every=1, server_error_status=503)
    client, sleep = sandbox_client(sandbox)
    with pytest.raises(ServerError) as caught:
        list(client.iter_sales())
    assert str(caught.value) == (
        "Gumroad is unavailable (HTTP 503) after 3 retries; try again later."
    )
    assert sleep.calls == [1, 2, 4]
    assert sandbox.request_count == 4


def test_sandbox_slow_answers_time_out_and_are_retried(make_sandbox):
    sandbox = make_sandbox(sales=30)
    sandbox.faults.configure(slow_every=2, slow_seconds=0.6)
    client, sleep = sandbox_client(sandbox, timeout=(2.0, 0.2))
    ids = [sale["id"] for sale in client.iter_sales()]
    assert len(ids) == len(set(ids)) == 30
    assert sleep.calls and set(sleep.calls) == {1}


def test_sandbox_always_slow_is_a_connection_error(make_sandbox):
    sandbox = make_sandbox(sales=10)
    sandbox.faults.configure(slow_every=1, slow_seconds=0.5)
    client, sleep = sandbox_client(sandbox, timeout=(2.0, 0.1), max_retries=2)
    with pytest.raises(GumroadConnectionError, match="timed out"):
        client.get_user()
    assert sleep.calls == [1, 2]


def test_sandbox_dropped_connections_are_retried(make_sandbox):
    sandbox = make_sandbox(sales=50)
    sandbox.faults.configure(drop_every=3)
    client, sleep = sandbox_client(sandbox)
    ids = [sale["id"] for sale in client.iter_sales()]
    assert len(ids) == len(set(ids)) == 50
    assert sleep.calls and set(sleep.calls) == {1}


def test_sandbox_truncated_bodies_are_retried(make_sandbox):
    sandbox = make_sandbox(sales=50)
    sandbox.faults.configure(truncate_every=2)
    client, sleep = sandbox_client(sandbox)
    ids = [sale["id"] for sale in client.iter_sales()]
    assert len(ids) == len(set(ids)) == 50
    assert sleep.calls and set(sleep.calls) == {1}


def test_sandbox_always_truncated_is_a_connection_error(make_sandbox):
    sandbox = make_sandbox(sales=10)
    sandbox.faults.configure(truncate_every=1)
    client, sleep = sandbox_client(sandbox)
    with pytest.raises(GumroadConnectionError):
        client.get_user()
    assert sleep.calls == [1, 2, 4]


def test_sandbox_all_faults_at_once_still_read_everything(make_sandbox):
    sandbox = make_sandbox(sales=200)
    sandbox.faults.configure(
        rate_limit_every=7, server_error_every=11, drop_every=13, truncate_every=17
    )
    client, _ = sandbox_client(sandbox)
    first, last = sale_days(sandbox)
    # One worker: the fault counter is global, so the failure runs are known
    # (never more than three requests in a row fail).
    pages = client.iter_sales_windows(first, last, window_days=15, max_workers=1)
    ids = [sale["id"] for page in pages for sale in page]
    assert len(ids) == len(set(ids)) == 200


def test_sandbox_faults_under_concurrent_windows_lose_nothing(make_sandbox):
    sandbox = make_sandbox(sales=300)
    sandbox.faults.configure(truncate_every=6, drop_every=7)
    # Threads share the fault counter; extra retries make a long unlucky run of
    # one thread (which a real outage would also cause) practically impossible.
    client, _ = sandbox_client(sandbox, max_retries=10)
    first, last = sale_days(sandbox)
    pages = client.iter_sales_windows(first, last, window_days=10, max_workers=4)
    ids = [sale["id"] for page in pages for sale in page]
    assert len(ids) == len(set(ids)) == 300


def test_sandbox_query_timeout_splits_windows(make_sandbox):
    sandbox = make_sandbox(sales=300)
    sandbox.faults.configure(query_timeout_days=5)
    client, _ = sandbox_client(sandbox)
    first, last = sale_days(sandbox)
    with pytest.raises(QueryTimeoutError):
        list(client.iter_sales())
    ids = [
        sale["id"]
        for page in client.iter_sales_windows(first, last, window_days=30)
        for sale in page
    ]
    assert len(ids) == len(set(ids)) == 300


def test_sandbox_unknown_token_is_an_authentication_error(sandbox):
    client, sleep = sandbox_client(sandbox, token="not-a-token")
    with pytest.raises(AuthenticationError):
        client.get_user()
    assert sleep.calls == []


def test_sandbox_token_without_view_sales_is_a_missing_scope(sandbox):
    client, _ = sandbox_client(sandbox, token="profile-only")
    assert client.get_user()
    with pytest.raises(MissingScopeError, match="GET /sales .needs view_sales"):
        list(client.iter_sales())


def test_sandbox_unknown_sale_is_sale_not_found(sandbox):
    client, _ = sandbox_client(sandbox)
    with pytest.raises(SaleNotFoundError):
        client.get_sale("AAAAAAAAAAAAAAAAAAAAAA==")


def first_sale(sandbox, predicate):
    for sale in sandbox.sales:
        if predicate(sale):
            return sale
    # The demo data is seeded: a missing kind of sale is a broken demo, not a skip.
    pytest.fail("the sandbox's demo data has no such sale")


def test_sandbox_eur_sale_amounts_match_its_truth_to_the_cent(make_sandbox):
    sandbox = make_sandbox(sales=300)
    client, _ = sandbox_client(sandbox)
    expected = first_sale(
        sandbox,
        lambda s: s.get("currency") == "eur" or s.get("currency_symbol") == "€",
    )
    sale = parse_sale(client.get_sale(expected["id"]))
    assert sale.price_usd == Decimal(expected["price"]) / 100
    usd = sale_target(sale)
    assert usd.net_amount * 100 == sandbox.sale_net_usd_cents(sale.id)
    listed = sale_target(sale, mode="listed", listed_currency="eur")
    assert listed.currency == "EUR"
    assert listed.net_amount * 100 == sandbox.sale_net_listed_cents(sale.id)


def test_sandbox_partial_refunds_match_its_truth_to_the_cent(make_sandbox):
    sandbox = make_sandbox(sales=300)
    client, _ = sandbox_client(sandbox)
    existing = first_sale(sandbox, lambda s: s.get("partially_refunded"))
    sale = parse_sale(client.get_sale(existing["id"]))
    assert sale.refund_state == "partial"
    assert sale_target(sale).net_amount * 100 == sandbox.sale_net_usd_cents(sale.id)

    fresh = first_sale(
        sandbox,
        lambda s: (
            s.get("currency_symbol") == "€"
            and not s.get("refunded")
            and not s.get("partially_refunded")
            and not s.get("disputed")
            and s["price"] > 300
        ),
    )
    sandbox.refund(fresh["id"], amount_cents=123)
    sandbox.refund(fresh["id"], amount_cents=77)
    sale = parse_sale(client.get_sale(fresh["id"]))
    assert sale.refund_state == "partial"
    assert sale.listed_refunded == Decimal("2.00")
    assert sale_target(sale).net_amount * 100 == sandbox.sale_net_usd_cents(sale.id)
    listed = sale_target(sale, mode="listed", listed_currency="eur")
    assert listed.net_amount * 100 == sandbox.sale_net_listed_cents(sale.id)


def test_sandbox_every_sale_parses_and_matches_its_truth(make_sandbox):
    sandbox = make_sandbox(sales=500)
    client, _ = sandbox_client(sandbox)
    for payload in client.iter_sales():
        sale = parse_sale(payload)
        assert sale_target(sale).net_amount * 100 == sandbox.sale_net_usd_cents(sale.id)


def test_a_page_still_failing_after_its_retries_is_read_again_from_where_it_stopped(
    make_sandbox,
):
    sandbox = make_sandbox(sales=25)
    pauses = []

    def sleep(seconds):
        pauses.append(seconds)
        if seconds >= 15:  # the pause before reading the page again: Gumroad is back
            sandbox.faults.reset()

    client = GumroadClient(sandbox.token, sandbox.base_url, sleep=sleep, page_resumes=2)
    pages = client.iter_sale_pages()
    first = next(pages)
    sandbox.faults.configure(server_error_every=1)
    rest = [sale for page in pages for sale in page]
    ids = [sale["id"] for sale in first + rest]
    assert len(ids) == len(set(ids)) == 25, "no page lost or read twice"
    assert pauses == [1, 2, 4, 15]


def test_without_page_resumes_a_page_failing_after_its_retries_raises(make_sandbox):
    sandbox = make_sandbox(sales=25)
    client, _sleep = sandbox_client(sandbox)
    pages = client.iter_sale_pages()
    next(pages)
    sandbox.faults.configure(server_error_every=1)
    with pytest.raises(ServerError, match="after 3 retries"):
        next(pages)
