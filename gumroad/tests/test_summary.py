"""Reading GET /v2/sales/summary (Api::V2::SalesSummary#as_json), and the client."""

from datetime import date
from decimal import Decimal

import pytest

from gumroad import (
    GumroadClient,
    GumroadError,
    MalformedPayloadError,
    MissingScopeError,
    parse_sales_summary,
)

SUMMARY = {
    "success": True,
    "gross_cents": 12345,
    "net_cents": 11345,
    "units": 7,
    "refunded_cents": 1000,
    "refunded_units": 1,
    "currency": "usd",
    "from": "2026-06-16",
    "to": "2026-07-15",
}


def test_totals_dates_and_currency_are_read():
    summary = parse_sales_summary(SUMMARY)
    assert summary.totals.units == 7
    assert summary.totals.gross == Decimal("123.45")
    assert summary.totals.net == Decimal("113.45")
    assert summary.totals.refunded == Decimal("10.00")
    assert summary.totals.refunded_units == 1
    assert summary.currency == "USD"
    assert (summary.date_from, summary.date_to) == (
        date(2026, 6, 16),
        date(2026, 7, 15),
    )
    assert summary.breakdown is None


def test_breakdown_items_keep_key_and_label():
    item = {
        "gross_cents": 500,
        "net_cents": 500,
        "units": 1,
        "refunded_cents": 0,
        "refunded_units": 0,
        "key": "prod==",
        "label": "Handbook",
    }
    summary = parse_sales_summary({**SUMMARY, "breakdown": [item]})
    (only,) = summary.breakdown
    assert (only.key, only.label, only.gross) == ("prod==", "Handbook", Decimal("5.00"))
    empty = parse_sales_summary({**SUMMARY, "breakdown": []})
    assert empty.breakdown == ()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"gross_cents": "12345"}, "gross_cents"),
        ({"units": True}, "units"),
        ({"net_cents": None}, "net_cents"),
        ({"currency": None}, "currency"),
        ({"from": "16/06/2026"}, "from"),
        ({"to": 20260715}, "to"),
        ({"breakdown": {"a": 1}}, "breakdown"),
        ({"breakdown": [{"units": 1}]}, "breakdown.gross_cents"),
    ],
)
def test_malformed_answers_name_the_key(change, field):
    with pytest.raises(MalformedPayloadError) as caught:
        parse_sales_summary({**SUMMARY, **change})
    assert caught.value.field == field


def test_not_an_object_is_malformed():
    with pytest.raises(MalformedPayloadError):
        parse_sales_summary(["not", "a", "summary"])


def test_client_reads_the_summary_from_the_sandbox(sandbox):
    client = GumroadClient(sandbox.token, sandbox.base_url, sleep=lambda _s: None)
    summary = client.get_sales_summary(
        date_from=date(2000, 1, 1), date_to=date(2000, 12, 31), group_by="product"
    )
    assert summary.totals.units == 0 and summary.breakdown == ()
    request = sandbox.request_log[-1]
    assert request.path.endswith("/sales/summary")
    assert request.params == {
        "from": "2000-01-01",
        "to": "2000-12-31",
        "group_by": "product",
    }
    default = client.get_sales_summary()
    assert (default.date_to - default.date_from).days == 29
    assert default.totals.units > 0
    assert sandbox.request_log[-1].params == {}


def test_client_reports_an_unreadable_summary(sandbox, monkeypatch):
    client = GumroadClient(sandbox.token, sandbox.base_url, sleep=lambda _s: None)
    monkeypatch.setattr(client, "_request", lambda *a, **k: {"success": True})
    with pytest.raises(GumroadError, match="cannot be read"):
        client.get_sales_summary()


def test_a_token_without_view_sales_is_told_which_scope_the_summary_needs(sandbox):
    client = GumroadClient("profile-only", sandbox.base_url, sleep=lambda _s: None)
    with pytest.raises(MissingScopeError) as caught:
        client.get_sales_summary()
    assert "GET /sales/summary" in str(caught.value)
    assert "view_sales" in str(caught.value)
