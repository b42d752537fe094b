"""Gumroad API v2 endpoints of the sandbox: routing, scopes, envelopes and errors.

Handlers take (sandbox, request) and return a Response. They read and change the
store under its lock and hand ping events to the sandbox for delivery.
"""

import json
import re
import threading
from datetime import date, datetime, timedelta, timezone
from urllib.parse import quote
from zoneinfo import ZoneInfo

from .ids import is_external_id, order_id_for, row_key_for
from .records import RESOURCE_NAMES
from .shapes import (
    license_purchase_json,
    payout_json,
    product_json,
    resource_subscription_json,
    sale_json,
    subscriber_json,
    upcoming_payout_json,
    user_json,
)
from .store import SandboxError

UTC = timezone.utc
SALES_PER_PAGE = 10
PRODUCTS_PER_PAGE = 10
PAYOUTS_PER_PAGE = 10
SUBSCRIBERS_PER_PAGE = 100
# "R": view_public or any public read scope (doorkeeper.rb:13-15); `account` is
# added to every check by Api::V2::BaseController#doorkeeper_authorize!.
READ_SCOPES = frozenset(
    {
        "view_public",
        "view_sales",
        "view_profile",
        "view_payouts",
        "view_tax_data",
        "edit_products",
        "edit_profile",
        "edit_emails",
        "edit_sales",
        "mark_sales_as_shipped",
        "revenue_share",
        "ifttt",
    }
)
QUERY_TIMEOUT_MESSAGE = (
    "Query timed out. Try narrowing your date range with 'after'/'before' "
    "or filtering by product_id."
)
DEPRECATED_PAGE_MESSAGE = (
    "The 'page' parameter is deprecated. Please use 'page_key' instead: "
    "https://gumroad.com/api#sales"
)
PAGE_KEY_RE = re.compile(r"^(\d{14})(\d{6})-(\d+)$")
DATE_RE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
LICENSE_NOT_FOUND = "That license does not exist for the provided product."


class Response:
    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(self, status, body=b"", content_type=None, headers=None):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}


class ApiRequest:
    """What a handler needs to know about one request."""

    def __init__(self, method, raw_path, route_path, query, params, headers):
        self.method = method
        self.raw_path = raw_path  # as requested, e.g. /api/v2/sales.json
        self.route_path = route_path  # normalized, e.g. /sales
        self.query = query  # query string only (next_page_url is built from it)
        self.params = params  # query string merged with the form/JSON body
        self.headers = headers
        self.token = None
        self.scopes = frozenset()
        self.path_args = ()

    def param(self, name):
        value = self.params.get(name)
        return value if value not in (None, "") else None


def rails_json(data):
    """JSON as Rails renders it: compact, UTF-8, with <, >, & escaped as \\u003c..."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text.encode("utf-8")


def json_response(data, status=200, headers=None):
    return Response(
        status, rails_json(data), "application/json; charset=utf-8", headers
    )


def success(key=None, value=None, **extra):
    data = {"success": True}
    if key is not None:
        data[key] = value
    data.update(extra)
    return json_response(data)


def failure(message):
    return json_response({"success": False, "message": message})


def not_found(object_name):
    # base_controller.rb:44-57: a 200 with success false, not a 404.
    return failure(f"The {object_name} was not found.")


def error_400(text):
    return json_response({"status": 400, "error": text}, status=400)


def unauthorized():
    header = (
        'Bearer realm="Doorkeeper", error="invalid_token", '
        'error_description="The access token is invalid"'
    )
    return Response(401, b"", None, {"WWW-Authenticate": header})


def forbidden(scopes):
    header = (
        'Bearer realm="Doorkeeper", error="insufficient_scope", '
        'error_description="The request requires higher privileges than provided '
        f'by the access token.", scope="{" ".join(sorted(scopes))}"'
    )
    return Response(403, b"", None, {"WWW-Authenticate": header})


def routing_error():
    body = (
        b"<!DOCTYPE html>\n<html><head><title>The page you were looking for "
        b"doesn't exist (404)</title></head><body><h1>The page you were looking "
        b"for doesn't exist.</h1></body></html>\n"
    )
    return Response(404, body, "text/html; charset=utf-8")


# -- helpers ---------------------------------------------------------------------------
def usec_key(moment, numeric_id):
    """created_at.to_fs(:usec) + "-" + encrypt_numeric(id)."""
    return moment.strftime("%Y%m%d%H%M%S%f") + "-" + str(numeric_id)


def decode_page_key(text):
    """(created_at, row key) from a page key; ValueError when malformed."""
    match = PAGE_KEY_RE.match(text or "")
    if not match:
        raise ValueError(text)
    moment = datetime.strptime(match.group(1) + match.group(2), "%Y%m%d%H%M%S%f")
    numeric = int(match.group(3))
    if numeric == 0:
        raise ValueError(text)
    return moment.replace(tzinfo=UTC), row_key_for(numeric)


def page_cursor(request):
    """(cursor, None) of the request's `page_key` (cursor None without one), or
    (None, the 400 "Invalid page_key." answer) when it cannot be decoded."""
    if not request.param("page_key"):
        return None, None
    try:
        return decode_page_key(request.param("page_key")), None
    except ValueError:
        return None, error_400("Invalid page_key.")


def next_page_url(request, page_key):
    """Built from the query string only, minus access_token/page/page_key, keys sorted
    (Addressable's query_values=), on the path exactly as requested."""
    values = {
        key: value
        for key, value in request.query.items()
        if key not in ("access_token", "page", "page_key")
    }
    values["page_key"] = page_key
    query = "&".join(
        f"{quote(key, safe='')}={quote(value, safe='')}"
        for key, value in sorted(values.items())
    )
    return f"{request.raw_path}?{query}"


def pagination_extra(request, last_moment, last_numeric_id):
    key = usec_key(last_moment, last_numeric_id)
    return {"next_page_key": key, "next_page_url": next_page_url(request, key)}


def parse_date_param(request, name):
    """Date.strptime(value, "%Y-%m-%d"); raises ValueError with Gumroad's message."""
    value = request.params.get(name)
    if value is None:
        return None
    error = (
        f"Invalid date format provided in field '{name}'. "
        "Dates must be in the format YYYY-MM-DD."
    )
    if not DATE_RE.match(str(value)):
        raise ValueError(error)
    year, month, day = (int(part) for part in str(value).split("-"))
    try:
        return datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        raise ValueError(error) from None


def is_true(value):
    return str(value).lower() in ("1", "true")


# -- user ------------------------------------------------------------------------------
def get_user(sandbox, request):
    store = sandbox.store
    with store.lock:
        links = [product.general_permalink for product in store.visible_products()]
        data = user_json(store.seller, request.scopes, links or None)
    return success("user", data)


# -- products --------------------------------------------------------------------------
def _with_stats(request):
    return bool(request.scopes & {"view_sales", "account"})


def list_products(sandbox, request):
    store = sandbox.store
    cursor, invalid = page_cursor(request)
    if invalid:
        return invalid
    with store.lock:
        products = sorted(
            store.visible_products(), key=lambda p: (p.created_at, p.key), reverse=True
        )
        if cursor is not None:
            products = [p for p in products if (p.created_at, p.key) < cursor]
        page = products[:PRODUCTS_PER_PAGE]
        with_stats = _with_stats(request)
        data = [
            product_json(
                p,
                store.seller,
                sales_stats=store.product_stats(p) if with_stats else None,
            )
            for p in page
        ]
        extra = {}
        if len(products) > PRODUCTS_PER_PAGE:
            last = page[-1]
            extra = pagination_extra(request, last.created_at, order_id_for(last.key))
    return success("products", data, **extra)


def get_product(sandbox, request):
    store = sandbox.store
    with store.lock:
        product = store.product(request.path_args[0])
        if product is None:
            return not_found("product")
        stats = store.product_stats(product) if _with_stats(request) else None
        return success(
            "product", product_json(product, store.seller, full=True, sales_stats=stats)
        )


def delete_product(sandbox, request):
    try:
        sandbox.delete_product(request.path_args[0])
    except SandboxError:
        return not_found("product")
    return success(message="The product was deleted successfully.")


def set_product_published(published):
    def handler(sandbox, request):
        store = sandbox.store
        with store.lock:
            product = store.product(request.path_args[0])
            if product is None:
                return not_found("product")
            product.published = published
            data = product_json(product, store.seller, full=True)
        return success("product", data)

    return handler


# -- sales -----------------------------------------------------------------------------
def list_sales(sandbox, request):
    try:
        before = parse_date_param(request, "before")
        after = parse_date_param(request, "after")
    except ValueError as error:
        return error_400(str(error))
    filters = {
        "email": (request.param("email") or "").strip() or None,
        "name": (request.param("name") or "").strip() or None,
        "license_key": (request.param("license_key") or "").strip() or None,
    }
    store = sandbox.store
    product_id = request.param("product_id")
    if product_id is not None:
        if not is_external_id(product_id):
            return error_400("Invalid product ID.")
        filters["product_given"] = True
        filters["product"] = store.product(product_id, include_deleted=True)
        if filters["product"] is not None and filters["product"].id != product_id:
            filters["product"] = None  # only the external id decrypts, not permalinks
    order_id = request.param("order_id")
    if order_id is not None:
        if not re.fullmatch(r"-?\d+", order_id) or str(int(order_id)) != order_id:
            return error_400("Invalid order ID.")
        filters["order_id"] = int(order_id)
    page_number = request.params.get("page")
    if page_number is not None:
        return _deprecated_page(sandbox, request, after, before, filters, page_number)
    cursor, invalid = page_cursor(request)
    if invalid:
        return invalid
    if cursor is not None:
        filters["cursor"] = cursor
    if sandbox.query_times_out(after, before, filters):
        return error_400(QUERY_TIMEOUT_MESSAGE)
    with store.lock:
        rows, more = store.query_sales(after=after, before=before, **filters)
        now = store.now()
        data = [sale_json(row, store.seller, now) for row in rows]
        extra = {}
        if more:
            extra = pagination_extra(request, rows[-1].created_at, rows[-1].order_id)
    return success("sales", data, **extra)


def _deprecated_page(sandbox, request, after, before, filters, page_number):
    try:
        page = int(page_number)
    except ValueError:
        page = 0  # Ruby's to_i
    if page <= 0:
        return error_400("Invalid page number. Page numbers start at 1.")
    if sandbox.query_times_out(after, before, filters):
        return error_400(DEPRECATED_PAGE_MESSAGE)
    store = sandbox.store
    with store.lock:
        limit = page * SALES_PER_PAGE
        rows, more = store.query_sales(
            after=after, before=before, limit=limit, **filters
        )
        rows = rows[(page - 1) * SALES_PER_PAGE :]
        now = store.now()
        data = [sale_json(row, store.seller, now) for row in rows]
        extra = {}
        if more and rows:
            extra = pagination_extra(request, rows[-1].created_at, rows[-1].order_id)
    return success("sales", data, **extra)


SUMMARY_GROUPS = ("product", "day", "week", "month", "hour")
SUMMARY_MAX_DAYS = 366  # AnalyticsController::MAX_DATE_RANGE_DAYS
SUMMARY_MAX_HOURLY_DAYS = 7  # CreatorAnalytics::Sales::MAX_HOURLY_DATE_RANGE_DAYS


def _summary_date(request, name):
    value = str(request.params[name])
    error = (
        f"Invalid date format provided in field '{name}'. "
        "Dates must be in the format YYYY-MM-DD."
    )
    if not DATE_RE.match(value):
        raise ValueError(error)
    try:
        return date(*(int(part) for part in value.split("-")))
    except ValueError:
        raise ValueError(error) from None


def _summary_grouping(group_by, zone):
    """row -> (key, label) for each group_by, keys as Elasticsearch formats them."""

    def local(row):
        return row.created_at.astimezone(zone)

    if group_by == "product":
        return lambda row: (row.product.id, row.product.name)
    formats = {
        "day": lambda moment: moment.strftime("%Y-%m-%d"),
        "week": lambda moment: (
            moment.date() - timedelta(days=moment.weekday())
        ).isoformat(),
        "month": lambda moment: moment.strftime("%Y-%m"),
        "hour": lambda moment: moment.strftime("%Y-%m-%dT%H:00"),
    }
    text = formats[group_by]
    return lambda row: (text(local(row)), text(local(row)))


def sales_summary(sandbox, request):
    """GET /sales/summary: sales_controller.rb#summary and #sales_summary_params,
    app/models/api/v2/sales_summary.rb (dates are days in the seller's timezone)."""
    group_by = request.param("group_by")
    if group_by is not None and group_by not in SUMMARY_GROUPS:
        return error_400(
            f"Invalid group_by. Valid values are: {', '.join(SUMMARY_GROUPS)}."
        )
    store = sandbox.store
    zone = ZoneInfo(store.seller.timezone)
    try:
        start = _summary_date(request, "from") if request.param("from") else None
        if request.param("to"):
            end = _summary_date(request, "to")
        else:
            end = store.now().astimezone(zone).date()
    except ValueError as error:
        return error_400(str(error))
    start = start or end - timedelta(days=29)
    if start > end:
        return error_400("'from' must be on or before 'to'.")
    if (end - start).days > SUMMARY_MAX_DAYS:
        return error_400(f"Date range cannot exceed {SUMMARY_MAX_DAYS} days.")
    if group_by == "hour" and (end - start).days > SUMMARY_MAX_HOURLY_DAYS:
        return error_400(
            f"Date range cannot exceed {SUMMARY_MAX_HOURLY_DAYS} days when grouping "
            "by hour."
        )

    def day_start(day):
        return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)

    grouping = _summary_grouping(group_by, zone) if group_by else None
    with store.lock:
        total, breakdown = store.sales_summary(
            day_start(start), day_start(end + timedelta(days=1)), grouping
        )
    data = {
        **total,
        "currency": "usd",
        "from": start.isoformat(),
        "to": end.isoformat(),
    }
    if breakdown is not None:
        if group_by == "product":
            breakdown.sort(key=lambda item: (-item["gross_cents"], item["label"]))
        else:
            breakdown.sort(key=lambda item: item["key"])
        data["breakdown"] = breakdown
    return success(**data)


def get_sale(sandbox, request):
    store = sandbox.store
    with store.lock:
        row = store.sale(request.path_args[0])
        if row is None:
            return not_found("sale")
        return success("sale", sale_json(row, store.seller, store.now()))


def refund_sale(sandbox, request):
    amount = request.param("amount_cents")
    if amount is not None:
        # params[:amount_cents].to_i, in the listed currency's minor units.
        match = re.match(r"\s*-?\d+", str(amount))
        amount = int(match.group()) if match else 0
    try:
        data = sandbox.refund(request.path_args[0], amount)
    except SandboxError as error:
        return failure(error.message)
    return success("sale", data)


def mark_as_shipped(sandbox, request):
    store = sandbox.store
    with store.lock:
        row = store.sale(request.path_args[0])
        if row is None:
            return not_found("sale")
        shipment = row.shipment or {"shipped": False, "tracking_url": None}
        if "tracking_url" in request.params:
            shipment["tracking_url"] = request.params["tracking_url"]
        shipment["shipped"] = True
        row.shipment = shipment
        return success("sale", sale_json(row, store.seller, store.now()))


def resend_receipt(sandbox, request):
    with sandbox.store.lock:
        if sandbox.store.sale(request.path_args[0]) is None:
            return not_found("sale")
    return success()


# -- subscribers -----------------------------------------------------------------------
def list_subscribers(sandbox, request):
    store = sandbox.store
    cursor, invalid = page_cursor(request)
    if invalid:
        return invalid
    paginated = is_true(request.params.get("paginated", "")) or cursor is not None
    with store.lock:
        product = store.product(request.path_args[0])
        if product is None:
            return not_found("product")
        email = (request.param("email") or "").strip() or None
        subscriptions = store.active_subscribers(product, email)
        if cursor is not None:
            subscriptions = [
                sub
                for sub in subscriptions
                if sub.created_at <= cursor[0] and sub.key < cursor[1]
            ]
        extra = {}
        if paginated and len(subscriptions) > SUBSCRIBERS_PER_PAGE:
            subscriptions = subscriptions[:SUBSCRIBERS_PER_PAGE]
            last = subscriptions[-1]
            extra = pagination_extra(request, last.created_at, order_id_for(last.key))
        now = store.now()
        data = [subscriber_json(sub, now) for sub in subscriptions]
    return success("subscribers", data, **extra)


def get_subscriber(sandbox, request):
    store = sandbox.store
    with store.lock:
        subscription = store.subscriptions.get(request.path_args[0])
        if subscription is None:
            return not_found("subscriber")
        return success("subscriber", subscriber_json(subscription, store.now()))


# -- licenses --------------------------------------------------------------------------
def _license_product(store, request):
    for name in ("product_id", "product_permalink", "id", "link_id"):
        value = request.param(name)
        if value is not None:
            return store.product(
                value, include_deleted=True, custom_permalink=True
            ), True
    return None, False


def verify_license(sandbox, request):
    for name in ("product_id", "product_permalink", "license_key"):
        value = request.params.get(name)
        if value is not None and not isinstance(value, str):
            # A JSON body can carry numbers or lists (licenses_controller.rb:107-113).
            message = f"The '{name}' parameter must be a string."
            return json_response({"success": False, "message": message}, 400)
    store = sandbox.store
    serial = request.param("license_key")
    with store.lock:
        product, product_given = _license_product(store, request)
        row = (
            store.license_row(product, serial) if product or not product_given else None
        )
        if row is not None and not product_given:
            message = (
                "The 'product_id' parameter is required to verify the license for "
                f"this product. Please set 'product_id' to '{row.product.id}' in the "
                "request."
            )
            return json_response({"success": False, "message": message}, status=500)
        if row is None:
            return json_response({"success": False, "message": LICENSE_NOT_FOUND}, 404)
        license_ = row.shown_license
        if license_.disabled:
            message = "This license key has been disabled."
            return json_response({"success": False, "message": message}, 404)
        subscription = row.subscription
        if subscription is not None and not subscription.is_active(store.now()):
            message = "Access to the purchase associated with this license has expired."
            return json_response({"success": False, "message": message}, 404)
        if str(request.params.get("increment_uses_count", "true")).lower() != "false":
            license_.uses += 1
        purchase = license_purchase_json(row, store.seller)
        return success(uses=license_.uses, purchase=purchase)


def set_license_disabled(disabled):
    def handler(sandbox, request):
        store = sandbox.store
        with store.lock:
            product = store.product(request.param("product_id") or "")
            row = store.license_row(product, request.param("license_key"))
            if product is None or row is None:
                return json_response({"success": False, "error": "Not found"}, 404)
            row.shown_license.disabled = disabled
            purchase = license_purchase_json(row, store.seller)
            return success(uses=row.shown_license.uses, purchase=purchase)

    return handler


# -- resource subscriptions ------------------------------------------------------------
def create_resource_subscription(sandbox, request):
    store = sandbox.store
    with store.lock:
        try:
            subscription = store.add_resource_subscription(
                request.token,
                request.param("resource_name"),
                request.params.get("post_url"),
                sandbox.allow_loopback_post_urls,
            )
        except SandboxError as error:
            return failure(error.message)
        return success(
            "resource_subscription", resource_subscription_json(subscription)
        )


def list_resource_subscriptions(sandbox, request):
    resource_name = request.param("resource_name")
    if resource_name not in RESOURCE_NAMES:
        return failure("Valid resource_name parameter required")
    with sandbox.store.lock:
        data = [
            resource_subscription_json(sub)
            for sub in sandbox.store.alive_resource_subscriptions(resource_name)
        ]
    return success("resource_subscriptions", data)


def delete_resource_subscription(sandbox, request):
    with sandbox.store.lock:
        try:
            sandbox.store.delete_resource_subscription(
                request.token, request.path_args[0]
            )
        except SandboxError as error:
            return failure(error.message)
    return success(message="The resource_subscription was deleted successfully.")


# -- payouts ---------------------------------------------------------------------------
def list_payouts(sandbox, request):
    try:
        after = parse_date_param(request, "after")
        before = parse_date_param(request, "before")
    except ValueError as error:
        return error_400(str(error))
    cursor, invalid = page_cursor(request)
    if invalid:
        return invalid
    store = sandbox.store
    with store.lock:
        payouts = [
            payout
            for payout in reversed(store.payouts)
            if (after is None or payout.created_at >= after)
            and (before is None or payout.created_at < before)
            and (
                cursor is None
                or (payout.created_at <= cursor[0] and payout.key < cursor[1])
            )
        ]
        page = payouts[:PAYOUTS_PER_PAGE]
        extra = {}
        if len(payouts) > PAYOUTS_PER_PAGE:
            last = page[-1]
            extra = pagination_extra(request, last.created_at, order_id_for(last.key))
        data = [payout_json(payout) for payout in page]
        wants_upcoming = str(request.params.get("include_upcoming", "true")) != "false"
        if cursor is None and wants_upcoming:
            data.insert(0, upcoming_payout_json(store.upcoming_payout(), store.seller))
    return success("payouts", data, **extra)


def get_payout(sandbox, request):
    store = sandbox.store
    default_sales = "true" if request.scopes & {"view_sales", "account"} else "false"
    include_sales = is_true(request.params.get("include_sales", default_sales))
    include_transactions = is_true(request.params.get("include_transactions", ""))
    with store.lock:
        if request.path_args[0] == "upcoming":
            upcoming = upcoming_payout_json(
                store.upcoming_payout(),
                store.seller,
                include_sales=include_sales,
                include_transactions=include_transactions,
            )
            return success("payouts", [upcoming])
        for payout in store.payouts:
            if payout.id == request.path_args[0]:
                data = payout_json(
                    payout,
                    include_sales=include_sales,
                    include_transactions=include_transactions,
                )
                return success("payout", data)
    return not_found("payout")


# -- routing ---------------------------------------------------------------------------
_ID = r"([^/]+)"
ROUTES = [
    ("GET", r"/user", get_user, READ_SCOPES),
    ("GET", r"/products", list_products, READ_SCOPES),
    ("GET", rf"/products/{_ID}", get_product, READ_SCOPES),
    ("DELETE", rf"/products/{_ID}", delete_product, {"edit_products"}),
    (
        "PUT",
        rf"/products/{_ID}/disable",
        set_product_published(False),
        {"edit_products"},
    ),
    ("PUT", rf"/products/{_ID}/enable", set_product_published(True), {"edit_products"}),
    ("GET", rf"/products/{_ID}/subscribers", list_subscribers, {"view_sales"}),
    ("GET", rf"/subscribers/{_ID}", get_subscriber, {"view_sales"}),
    ("GET", r"/sales", list_sales, {"view_sales"}),
    ("GET", r"/sales/summary", sales_summary, {"view_sales"}),
    ("GET", rf"/sales/{_ID}", get_sale, {"view_sales"}),
    ("PUT", rf"/sales/{_ID}/refund", refund_sale, {"refund_sales", "edit_sales"}),
    (
        "PUT",
        rf"/sales/{_ID}/mark_as_shipped",
        mark_as_shipped,
        {"mark_sales_as_shipped"},
    ),
    ("POST", rf"/sales/{_ID}/resend_receipt", resend_receipt, {"edit_sales"}),
    ("POST", r"/licenses/verify", verify_license, None),
    ("PUT", r"/licenses/enable", set_license_disabled(False), {"edit_products"}),
    ("PUT", r"/licenses/disable", set_license_disabled(True), {"edit_products"}),
    ("PUT", r"/resource_subscriptions", create_resource_subscription, {"view_sales"}),
    ("GET", r"/resource_subscriptions", list_resource_subscriptions, {"view_sales"}),
    (
        "DELETE",
        rf"/resource_subscriptions/{_ID}",
        delete_resource_subscription,
        {"view_sales"},
    ),
    ("GET", r"/payouts", list_payouts, {"view_payouts"}),
    ("GET", rf"/payouts/{_ID}", get_payout, {"view_payouts"}),
]


def _compiled_routes():
    """ROUTES plus the product sub-resources of catalog.py ("read": READ_SCOPES)."""
    from .catalog import ROUTES as CATALOG_ROUTES  # catalog.py imports this module

    routes = ROUTES + [
        (method, pattern, handler, READ_SCOPES if scopes == "read" else scopes)
        for method, pattern, handler, scopes in CATALOG_ROUTES
    ]
    return [
        (method, re.compile(f"^{pattern}$"), handler, scopes)
        for method, pattern, handler, scopes in routes
    ]


COMPILED_ROUTES = []
_ROUTES_LOCK = threading.Lock()
API_PREFIXES = ("/v2", "/api/v2")


def route_path_of(raw_path):
    """ "/api/v2/sales.json" -> "/sales"; None when not an API v2 path.

    Repeated slashes are squeezed first, as Rails' router does
    (Journey::Router::Utils.normalize_path), so "/v2//products" is "/products".
    """
    raw_path = re.sub(r"/{2,}", "/", raw_path)
    for prefix in API_PREFIXES:
        if raw_path == prefix or raw_path.startswith(prefix + "/"):
            path = raw_path[len(prefix) :] or "/"
            path = path.removesuffix(".json")
            return path.rstrip("/") or "/"
    return None


def bearer_token(request):
    header = request.headers.get("Authorization") or ""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.param("access_token") or request.param("bearer_token")


def dispatch(sandbox, request):
    """Route, authenticate, authorize, run. Unknown routes 404 before any auth check,
    as Rails routing runs before the controller's Doorkeeper filter."""
    route_path = request.route_path
    if not COMPILED_ROUTES:
        with _ROUTES_LOCK:
            if not COMPILED_ROUTES:
                COMPILED_ROUTES.extend(_compiled_routes())
    for method, pattern, handler, scopes in COMPILED_ROUTES:
        if method != request.method:
            continue
        match = pattern.match(route_path)
        if not match:
            continue
        request.path_args = match.groups()
        if scopes is not None:
            token = bearer_token(request)
            token_scopes = sandbox.scopes_for(token)
            if token_scopes is None:
                return unauthorized()
            if not token_scopes & (set(scopes) | {"account"}):
                return forbidden(set(scopes) | {"account"})
            request.token = token
            request.scopes = frozenset(token_scopes)
        return handler(sandbox, request)
    return routing_error()
