"""A small client for Gumroad's API v2.

One network exit (`_request`), one error table (`_check_response`), one retry rule
(`_should_retry` / `_retry_delay`). The HTTP session and the sleep function are
injected so tests pay no wall time; the token travels only in the Authorization
header and a logging filter masks it anywhere else.
"""

import json
import logging
import math
import queue
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import requests
from urllib3.exceptions import NewConnectionError

from .accounting import date_windows
from .errors import (
    TOKEN_HELP,
    AuthenticationError,
    GumroadConnectionError,
    GumroadError,
    InvalidRequestError,
    MalformedPayloadError,
    MissingScopeError,
    NotFoundError,
    QueryTimeoutError,
    RateLimitError,
    SaleNotFoundError,
    ServerError,
)
from .summary import SalesSummary, parse_sales_summary

DEFAULT_BASE_URL = "https://api.gumroad.com/v2"
DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds
BACKOFF_CAP_SECONDS = 30.0
RETRY_AFTER_CAP_SECONDS = 300.0
PAGE_RESUME_PAUSE_SECONDS = 15.0
MAX_BODY_CHARS = 2000
# Methods whose repetition cannot duplicate an effect. Gumroad's PUT is not one:
# PUT /resource_subscriptions creates a new subscription on every call.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
# Values never written to logs as they are (the token itself never is a param).
# post_url carries the webhook's secret.
MASKED_PARAMS = frozenset(
    {"access_token", "bearer_token", "email", "license_key", "post_url"}
)

_logger = logging.getLogger(__name__)


class SensitiveDataFilter(logging.Filter):
    """Masks tokens in log records: known tokens, Bearer values, access_token=."""

    _PATTERNS = (
        re.compile(r"(?i)(bearer\s+)[^\s'\",;]+"),
        re.compile(r"(?i)((?:access|bearer)_token[\"']?\s*[=:]\s*[\"']?)[^&\s'\",;]+"),
    )

    def __init__(self):
        super().__init__()
        self._secrets = set()
        self._lock = threading.Lock()

    def add_secret(self, secret):
        if secret and len(secret) >= 4:
            with self._lock:
                self._secrets.add(secret)

    def mask(self, text):
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            text = text.replace(secret, "***")
        for pattern in self._PATTERNS:
            text = pattern.sub(r"\1***", text)
        return text

    def filter(self, record):
        message = record.getMessage()
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


SENSITIVE_DATA_FILTER = SensitiveDataFilter()
_logger.addFilter(SENSITIVE_DATA_FILTER)

# Path words of API v2; any other segment is an id, shown as ":id" in messages.
_PATH_WORDS = frozenset(
    {
        "user",
        "products",
        "sales",
        "summary",
        "subscribers",
        "payouts",
        "upcoming",
        "resource_subscriptions",
        "licenses",
        "verify",
        "enable",
        "disable",
        "rotate",
        "decrement_uses_count",
        "refund",
        "mark_as_shipped",
        "resend_receipt",
        "offer_codes",
        "variant_categories",
        "variants",
        "custom_fields",
        "skus",
    }
)
_READ_SCOPES = ("view_public", "view_profile", "view_sales")
# Scopes each endpoint accepts (Gumroad also accepts `account` everywhere).
_ENDPOINT_SCOPES = {
    ("GET", "/user"): _READ_SCOPES,
    ("GET", "/products"): _READ_SCOPES,
    ("GET", "/products/:id"): _READ_SCOPES,
    ("PUT", "/products/:id/enable"): ("edit_products",),
    ("PUT", "/products/:id/disable"): ("edit_products",),
    ("DELETE", "/products/:id"): ("edit_products",),
    ("GET", "/sales"): ("view_sales",),
    ("GET", "/sales/summary"): ("view_sales",),
    ("GET", "/sales/:id"): ("view_sales",),
    ("PUT", "/sales/:id/refund"): ("edit_sales", "refund_sales"),
    ("PUT", "/sales/:id/mark_as_shipped"): ("mark_sales_as_shipped",),
    ("GET", "/products/:id/subscribers"): ("view_sales",),
    ("GET", "/products/:id/offer_codes"): _READ_SCOPES,
    ("GET", "/products/:id/variant_categories"): _READ_SCOPES,
    ("GET", "/products/:id/variant_categories/:id/variants"): _READ_SCOPES,
    ("GET", "/products/:id/skus"): _READ_SCOPES,
    ("GET", "/subscribers/:id"): ("view_sales",),
    ("GET", "/payouts"): ("view_payouts",),
    ("GET", "/payouts/upcoming"): ("view_payouts",),
    ("GET", "/payouts/:id"): ("view_payouts",),
    ("GET", "/resource_subscriptions"): ("view_sales",),
    ("PUT", "/resource_subscriptions"): ("view_sales",),
    ("DELETE", "/resource_subscriptions/:id"): ("view_sales",),
    ("PUT", "/licenses/enable"): ("edit_products",),
    ("PUT", "/licenses/disable"): ("edit_products",),
}


def endpoint_name(method: str, path: str) -> str:
    """Endpoint for messages, ids hidden: GET /sales/abc%3D%3D -> "GET /sales/:id"."""
    segments = path.split("?", 1)[0].strip("/").split("/")
    template = "/".join(s if s in _PATH_WORDS else ":id" for s in segments if s)
    return f"{method.upper()} /{template}"


def _default_user_agent():
    # Imported here: the package __init__ defines the version and imports this module.
    from . import __version__

    return f"gumroad_connector/{__version__} (+Odoo)"


def _one_line(text, limit=300):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _format_param(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()  # Gumroad wants YYYY-MM-DD (UTC days)
    return value


def _clean_params(params):
    if not params:
        return None
    return {k: _format_param(v) for k, v in params.items() if v is not None}


class GumroadClient:
    """Gumroad API v2 over one requests session; see the module docstring."""

    def __init__(
        self,
        access_token: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        session=None,
        timeout=DEFAULT_TIMEOUT,
        max_retries: int = 3,
        page_resumes: int = 0,
        sleep=time.sleep,
        user_agent: str | None = None,
    ):
        self._access_token = (access_token or "").strip()
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._session = session if session is not None else requests.Session()
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        # A list read that failed for good (after its retries) starts again from the
        # page it failed on, this many times, after a longer pause: a long import
        # should not start over for one bad minute of Gumroad's.
        self.page_resumes = max(0, int(page_resumes))
        self.sleep = sleep
        self.user_agent = user_agent or _default_user_agent()
        self.request_count = 0
        self._count_lock = threading.Lock()
        SENSITIVE_DATA_FILTER.add_secret(self._access_token)

    def __repr__(self):
        return f"<GumroadClient {self.base_url}>"  # never the token

    # --- the one network exit -------------------------------------------------

    def _request(self, method, path, *, params=None, data=None) -> dict:
        """Send one API call (with retries) and return its JSON object.

        Raises a GumroadError subclass from the error table; retryable errors are
        retried up to `max_retries` times, sleeping 1, 2, 4 s (or Retry-After).
        """
        method = method.upper()
        if not self._access_token:
            raise AuthenticationError(
                "No Gumroad access token is set. " + TOKEN_HELP, status=None
            )
        if not _plausible_token(self._access_token):
            # It could not even travel in an HTTP header (a paste gone wrong).
            raise AuthenticationError(
                "The access token contains spaces or characters Gumroad tokens never "
                "have; paste it again. " + TOKEN_HELP,
                status=None,
            )
        params, data = _clean_params(params), _clean_params(data)
        retries = 0
        while True:
            try:
                return self._send(method, path, params, data)
            except GumroadError as err:
                if not self._should_retry(err, method, retries):
                    _finalise_message(err, retries)
                    raise
                delay = self._retry_delay(err, retries)
                retries += 1
                _logger.warning(
                    "Gumroad %s failed (%s); retry %d of %d after sleeping %.2f s.",
                    endpoint_name(method, path),
                    _short_reason(err),
                    retries,
                    self.max_retries,
                    delay,
                )
                self.sleep(delay)

    def _send(self, method, path, params, data):
        with self._count_lock:
            self.request_count += 1
        _logger.info(
            "Gumroad API %s %s%s", method, path, _describe_params(params or data)
        )
        headers = {
            "Authorization": f"Bearer {self._access_token}",
            "Accept": "application/json",
            "User-Agent": self.user_agent,
        }
        try:
            response = self._session.request(
                method,
                self.base_url + path,
                params=params,
                data=data,
                headers=headers,
                timeout=self.timeout,
            )
        except requests.Timeout as exc:
            err = GumroadConnectionError(
                "Could not reach Gumroad: the request timed out "
                f"({_timeout_text(exc, self.timeout)})"
            )
            err.request_unsent = isinstance(exc, requests.ConnectTimeout)
            raise err from exc
        except (
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            err = GumroadConnectionError(
                "Could not reach Gumroad: the connection failed or was dropped"
            )
            err.request_unsent = _connection_refused(exc)
            raise err from exc
        except requests.RequestException as exc:
            err = GumroadConnectionError(
                f"Could not send the request to Gumroad ({_one_line(exc, 120)}); "
                "check the API URL on the connector."
            )
            err.retryable = False
            raise err from exc
        return self._check_response(response, method, path)

    # --- the one error table --------------------------------------------------

    def _check_response(self, response, method, path) -> dict:
        status = response.status_code
        content = response.content or b""
        body = content[:MAX_BODY_CHARS].decode("utf-8", "replace")
        endpoint = endpoint_name(method, path)
        if status == 401:
            raise AuthenticationError(status=status, body=body)
        if status == 403:
            raise MissingScopeError(
                _scope_message(method, path, _json_message(content)),
                status=status,
                body=body,
            )
        if status == 429:
            raise RateLimitError(
                "Gumroad is rate limiting requests (HTTP 429)",
                status=status,
                body=body,
                retry_after=_retry_after_seconds(response),
            )
        if 500 <= status <= 599:
            message = _json_message(content, failures_only=True)
            if message:
                # e.g. license verify's 500 "The 'product_id' parameter is required":
                # a refusal sent with a server status; repeating it cannot help.
                raise InvalidRequestError(
                    f"Gumroad refused {endpoint}: {message}", status=status, body=body
                )
            raise ServerError(
                f"Gumroad is unavailable (HTTP {status})",
                status=status,
                body=body,
                retry_after=_retry_after_seconds(response),
            )
        if 400 <= status <= 499:
            message = _json_message(content) or f"HTTP {status}"
            if status == 404:
                raise NotFoundError(
                    f"Gumroad answered {endpoint}: {message}", status=status, body=body
                )
            error_class = InvalidRequestError
            if status == 400 and message.startswith("Query timed out"):
                error_class = QueryTimeoutError
            raise error_class(
                f"Gumroad refused {endpoint}: {message}", status=status, body=body
            )
        if not 200 <= status <= 299:
            raise GumroadError(
                f"Gumroad answered {endpoint} with an unexpected HTTP {status}.",
                status=status,
                body=body,
            )
        try:
            payload = json.loads(content)
        except (ValueError, RecursionError):
            payload = None
        if not isinstance(payload, dict):
            raise GumroadConnectionError(
                f"Gumroad sent an incomplete or unreadable response (HTTP {status})",
                status=status,
                body=body,
            )
        if payload.get("success") is False:
            message = _json_message(content) or "no reason given"
            error_class = (
                NotFoundError
                if message.endswith("was not found.")
                else InvalidRequestError
            )
            prefix = "answered" if error_class is NotFoundError else "refused"
            raise error_class(
                f"Gumroad {prefix} {endpoint}: {message}", status=status, body=body
            )
        return payload

    # --- the one retry rule ---------------------------------------------------

    def _should_retry(self, err, method, retries):
        if not err.retryable or retries >= self.max_retries:
            return False
        if method in IDEMPOTENT_METHODS:
            return True
        # A write is repeated only when Gumroad surely did not act on it.
        return isinstance(err, RateLimitError) or getattr(err, "request_unsent", False)

    def _retry_delay(self, err, retries):
        retry_after = getattr(err, "retry_after", None)
        if retry_after is not None:
            return retry_after
        return min(float(2**retries), BACKOFF_CAP_SECONDS)

    # --- pagination -----------------------------------------------------------

    def _pages(self, path, key, params=None) -> Iterator[list[dict]]:
        """Follow next_page_key, rebuilding each request from our own params."""
        base_params = dict(params or {})
        page_params = base_params
        seen_keys = set()
        while True:
            payload = self._request_page(path, page_params)
            items = _expect(payload, key, list, "GET", path)
            yield items
            next_key = payload.get("next_page_key")
            if not next_key:
                return
            if next_key in seen_keys:
                raise GumroadError(
                    f"Gumroad returned the page key of {endpoint_name('GET', path)} "
                    "twice; stopping to avoid an endless loop. Try again later."
                )
            seen_keys.add(next_key)
            page_params = {**base_params, "page_key": next_key}

    def _request_page(self, path, params):
        """GET one page of a list; resume it `page_resumes` times once its own
        retries are spent (only for errors worth retrying).
        """
        resumes = 0
        while True:
            try:
                return self._request("GET", path, params=params)
            except GumroadError as err:
                if not err.retryable or resumes >= self.page_resumes:
                    raise
                resumes += 1
                delay = PAGE_RESUME_PAUSE_SECONDS * resumes
                _logger.warning(
                    "Gumroad %s still failing (%s); reading the same page again "
                    "(%d of %d) after %.0f s.",
                    endpoint_name("GET", path),
                    _short_reason(err),
                    resumes,
                    self.page_resumes,
                    delay,
                )
                self.sleep(delay)

    # --- endpoints ------------------------------------------------------------

    def get_user(self) -> dict:
        return _expect(self._request("GET", "/user"), "user", dict, "GET", "/user")

    def iter_products(self) -> Iterator[dict]:
        for page in self._pages("/products", "products"):
            yield from page

    def get_product(self, product_id: str) -> dict:
        path = f"/products/{_segment(product_id)}"
        return _expect(self._request("GET", path), "product", dict, "GET", path)

    def _product_list(self, product_id, resource, key):
        path = f"/products/{_segment(product_id)}/{resource}"
        return _expect(self._request("GET", path), key, list, "GET", path)

    def list_variant_categories(self, product_id: str) -> list[dict]:
        """GET /products/:id/variant_categories: [{id, title}]."""
        return self._product_list(
            product_id, "variant_categories", "variant_categories"
        )

    def list_variants(self, product_id: str, category_id: str) -> list[dict]:
        """GET .../variant_categories/:id/variants: [{id, name,
        price_difference_cents, ...}] (base_variant.rb#as_json)."""
        resource = f"variant_categories/{_segment(category_id)}/variants"
        return self._product_list(product_id, resource, "variants")

    def list_skus(self, product_id: str) -> list[dict]:
        """GET /products/:id/skus: the SKUs of a SKU-enabled product, the variants of
        a physical one, else [] (skus_controller.rb)."""
        return self._product_list(product_id, "skus", "skus")

    def list_offer_codes(self, product_id: str) -> list[dict]:
        """GET /products/:id/offer_codes: the product's codes and the universal ones,
        the code in `name`, then `percent_off` or `amount_cents` (offer_code.rb)."""
        return self._product_list(product_id, "offer_codes", "offer_codes")

    def iter_sale_pages(
        self,
        *,
        after: date | None = None,
        before: date | None = None,
        product_id: str | None = None,
        email: str | None = None,
    ) -> Iterator[list[dict]]:
        """GET /sales page by page (10 sales each, newest first)."""
        params = {
            "after": after,
            "before": before,
            "product_id": product_id,
            "email": email,
        }
        yield from self._pages("/sales", "sales", _clean_params(params))

    def iter_sales(self, **filters) -> Iterator[dict]:
        """GET /sales, sale by sale; filters as `iter_sale_pages`."""
        for page in self.iter_sale_pages(**filters):
            yield from page

    def iter_sales_windows(
        self,
        date_from: date,
        date_to: date,
        *,
        window_days: int = 7,
        max_workers: int = 4,
    ) -> Iterator[list[dict]]:
        """Sales of date_from..date_to (inclusive, UTC days), page by page.

        Windows of `window_days` are read by up to `max_workers` threads; pages are
        yielded as they arrive. A window that hits Gumroad's query timeout is split
        in two (a one-day window that still times out raises QueryTimeoutError).
        """
        windows = date_windows(date_from, date_to, window_days)
        if not windows:
            return
        workers = max(1, min(int(max_workers), len(windows)))
        results = queue.Queue(maxsize=workers * 2)
        stop = threading.Event()

        def put(item):
            while not stop.is_set():
                try:
                    results.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def read_window(window):
            try:
                for page in self._window_pages(*window, stop):
                    if not put(("page", page)):
                        return
                put(("done", None))
            except Exception as exc:  # noqa: BLE001 - re-raised in the consumer
                put(("error", exc))

        executor = ThreadPoolExecutor(workers, thread_name_prefix="gumroad-sales")
        try:
            for window in windows:
                executor.submit(read_window, window)
            remaining = len(windows)
            while remaining:
                kind, value = results.get()
                if kind == "page":
                    yield value
                elif kind == "done":
                    remaining -= 1
                else:
                    raise value
        finally:
            stop.set()
            executor.shutdown(wait=True, cancel_futures=True)

    def _window_pages(self, after, before, stop):
        pending = [(after, before)]
        seen_ids = set()  # after a split, pages already yielded are not repeated
        while pending and not stop.is_set():
            window_after, window_before = pending.pop(0)
            try:
                for page in self.iter_sale_pages(
                    after=window_after, before=window_before
                ):
                    fresh = [sale for sale in page if _sale_key(sale) not in seen_ids]
                    seen_ids.update(_sale_key(sale) for sale in fresh)
                    seen_ids.discard(None)
                    if fresh:
                        yield fresh
                    if stop.is_set():
                        return
            except QueryTimeoutError:
                span = (window_before - window_after).days
                if span <= 1:
                    raise
                middle = window_after + timedelta(days=span // 2)
                _logger.info(
                    "Gumroad sales query timed out for %s..%s; splitting it at %s.",
                    window_after,
                    window_before,
                    middle,
                )
                pending[:0] = [(middle, window_before), (window_after, middle)]

    def get_sales_summary(
        self,
        *,
        date_from: date | None = None,
        date_to: date | None = None,
        group_by: str | None = None,
    ) -> SalesSummary:
        """GET /sales/summary: totals of charged sales, days in the seller's timezone.

        Without dates Gumroad sums the 30 days ending today (the seller's today);
        `group_by` is product, day, week, month or hour.
        """
        params = {"from": date_from, "to": date_to, "group_by": group_by}
        path = "/sales/summary"
        payload = self._request("GET", path, params=_clean_params(params))
        try:
            return parse_sales_summary(payload)
        except MalformedPayloadError as err:
            raise GumroadError(
                f"Gumroad's answer to {endpoint_name('GET', path)} cannot be read: "
                f"{err.message}",
                status=200,
                body=_one_line(json.dumps(payload, default=str), MAX_BODY_CHARS),
            ) from err

    def get_sale(self, sale_id: str) -> dict:
        path = f"/sales/{_segment(sale_id)}"
        try:
            payload = self._request("GET", path)
        except NotFoundError as err:
            raise SaleNotFoundError(
                f"Gumroad has no sale {sale_id!r} for this account (it may have been "
                "deleted, or belong to another Gumroad account).",
                status=err.status,
                body=err.body,
            ) from err
        return _expect(payload, "sale", dict, "GET", path)

    def iter_subscribers(self, product_id: str) -> Iterator[dict]:
        path = f"/products/{_segment(product_id)}/subscribers"
        for page in self._pages(path, "subscribers", {"paginated": "true"}):
            yield from page

    def get_subscriber(self, subscriber_id: str) -> dict:
        path = f"/subscribers/{_segment(subscriber_id)}"
        return _expect(self._request("GET", path), "subscriber", dict, "GET", path)

    def iter_payouts(
        self, *, after=None, before=None, include_upcoming: bool = False
    ) -> Iterator[dict]:
        params = {"after": after, "before": before}
        if not include_upcoming:
            params["include_upcoming"] = "false"  # Gumroad's default is on
        for page in self._pages("/payouts", "payouts", _clean_params(params)):
            yield from page

    def get_payout(self, payout_id: str, *, include_transactions: bool = False) -> dict:
        path = f"/payouts/{_segment(payout_id)}"
        params = {"include_transactions": "true"} if include_transactions else None
        payload = self._request("GET", path, params=params)
        return _expect(payload, "payout", dict, "GET", path)

    def get_upcoming_payouts(self, *, include_transactions: bool = False) -> list:
        """GET /payouts/upcoming: unsaved payouts (id null, status payable/paused)."""
        path = "/payouts/upcoming"
        params = {"include_transactions": "true"} if include_transactions else None
        payload = self._request("GET", path, params=params)
        return _expect(payload, "payouts", list, "GET", path)

    def list_resource_subscriptions(self, resource_name: str) -> list[dict]:
        path = "/resource_subscriptions"
        payload = self._request("GET", path, params={"resource_name": resource_name})
        return _expect(payload, "resource_subscriptions", list, "GET", path)

    def create_resource_subscription(self, resource_name: str, post_url: str) -> dict:
        # Gumroad does not de-duplicate: list first, create only what is missing.
        path = "/resource_subscriptions"
        payload = self._request(
            "PUT", path, data={"resource_name": resource_name, "post_url": post_url}
        )
        return _expect(payload, "resource_subscription", dict, "PUT", path)

    def delete_resource_subscription(self, subscription_id: str) -> None:
        self._request("DELETE", f"/resource_subscriptions/{_segment(subscription_id)}")

    def verify_license(
        self, product_id: str, license_key: str, *, increment_uses_count: bool = False
    ) -> dict:
        """POST /licenses/verify; returns the whole answer ("uses", "purchase")."""
        return self._request(
            "POST",
            "/licenses/verify",
            data={
                "product_id": product_id,
                "license_key": license_key,
                # Gumroad increments unless told "false" explicitly.
                "increment_uses_count": bool(increment_uses_count),
            },
        )

    def enable_license(self, product_id: str, license_key: str) -> dict:
        return self._request(
            "PUT",
            "/licenses/enable",
            data={"product_id": product_id, "license_key": license_key},
        )

    def disable_license(self, product_id: str, license_key: str) -> dict:
        return self._request(
            "PUT",
            "/licenses/disable",
            data={"product_id": product_id, "license_key": license_key},
        )


# --- helpers ------------------------------------------------------------------


def _segment(value):
    if not isinstance(value, str) or not value:
        raise ValueError(f"an id must be a non-empty string, not {value!r}")
    return quote(value, safe="=")


def _plausible_token(token):
    return token.isascii() and token.isprintable() and " " not in token


def _sale_key(sale):
    sale_id = sale.get("id") if isinstance(sale, dict) else None
    return sale_id if isinstance(sale_id, str) else None


def _expect(payload, key, kind, method, path):
    value = payload.get(key)
    if not isinstance(value, kind):
        raise GumroadError(
            f"Gumroad's answer to {endpoint_name(method, path)} has no {key!r} "
            f"{kind.__name__}; the API may have changed.",
            status=200,
            body=_one_line(json.dumps(payload, default=str), MAX_BODY_CHARS),
        )
    return value


def _json_message(content, *, failures_only=False):
    """The `message` or `error` text of a JSON body, or None."""
    try:
        payload = json.loads(content)
    except (ValueError, RecursionError):
        return None
    if not isinstance(payload, dict):
        return None
    if failures_only and payload.get("success") is not False:
        return None
    for key in ("message", "error"):
        value = payload.get(key)
        if isinstance(value, str) and value.strip():
            return _one_line(value)
    return None


def _scope_message(method, path, gumroad_message):
    endpoint = endpoint_name(method, path)
    method_name, _, template = endpoint.partition(" ")
    scopes = _ENDPOINT_SCOPES.get((method_name, template))
    if scopes:
        needed = ", ".join(scopes) + " or account"
        message = (
            f"The access token does not have the scope required for {endpoint} "
            f"(needs {needed})."
        )
    else:
        message = f"The access token does not have the scope required for {endpoint}."
    if gumroad_message:
        message += f" Gumroad says: {gumroad_message}"
    return (
        message + " Generate a token with that scope in Gumroad (Settings > Advanced > "
        "Applications) and save it on the connector."
    )


def _retry_after_seconds(response):
    value = (response.headers or {}).get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        seconds = (moment - datetime.now(timezone.utc)).total_seconds()
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_SECONDS)


def _connection_refused(exc):
    """True when the connection was never made, so the request was never sent."""
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, NewConnectionError)


def _timeout_text(exc, timeout):
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    if isinstance(exc, requests.ConnectTimeout):
        return f"no connection within {connect:g} s"
    return f"no answer within {read:g} s"


def _finalise_message(err, retries):
    """Give a retryable error its final one-line message, with the retry count."""
    if not isinstance(err, RateLimitError | ServerError | GumroadConnectionError):
        return
    if not err.retryable:
        return
    after = ""
    if retries:
        after = f" after {retries} {'retry' if retries == 1 else 'retries'}"
    if isinstance(err, RateLimitError):
        advice = "wait a few minutes and try again."
    elif isinstance(err, ServerError):
        advice = "try again later."
    else:
        advice = "check the server's internet connection and try again later."
    err.message = f"{err.message}{after}; {advice}"
    err.args = (err.message,)


def _short_reason(err):
    if err.status:
        return f"HTTP {err.status}"
    return type(err).__name__


def _describe_params(params):
    if not params:
        return ""
    shown = {k: ("***" if k in MASKED_PARAMS else v) for k, v in params.items()}
    return " " + ", ".join(f"{k}={v}" for k, v in shown.items())
