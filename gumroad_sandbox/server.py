"""SandboxServer: the loopback HTTP server, its fault injection, and the test API."""

import email.policy
import ipaddress
import json
import logging
import socket
import sys
import threading
import time
from collections import namedtuple
from datetime import datetime, timedelta, timezone
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from . import api, control
from .faults import Faults
from .pings import (
    DEFAULT_RETRY_DELAYS,
    PingDispatcher,
    encode_form,
    sale_payload,
    subscription_payload,
)
from .records import SALE_RESOURCES, SUBSCRIPTION_RESOURCES
from .shapes import payout_json, product_json, sale_json, subscriber_json
from .store import SandboxError, SandboxStore, plan_of

_logger = logging.getLogger(__name__)
UTC = timezone.utc

DEFAULT_TOKENS = {
    "sandbox-token": {"account"},
    "sales-only": {"view_sales"},
    "profile-only": {"view_profile"},
    "public-only": {"view_public"},
}
FAULT_KINDS = (
    "rate_limit",
    "server_error",
    "slow",
    "drop",
    "truncate",
    "latency",
    "query_timeout",
)
LoggedRequest = namedtuple("LoggedRequest", "method path params")


def check_loopback(host):
    """The sandbox never listens beyond this machine."""
    if host == "localhost":
        return
    try:
        is_loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        is_loopback = False  # a host name: only "localhost" is known to be loopback
    if is_loopback:
        return
    raise ValueError(f"The sandbox only binds to loopback addresses, not {host!r}.")


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # 20+ concurrent clients connect in bursts
    allow_reuse_address = True

    def __init__(self, address, handler, sandbox):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.sandbox = sandbox
        self.open_sockets = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        with self.sockets_lock:
            self.open_sockets.add(request)
        return super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.sockets_lock:
            self.open_sockets.discard(request)
        return super().shutdown_request(request)

    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return  # the client gave up (a timeout of its own, a dropped socket)
        _logger.exception("Sandbox request from %s failed", client_address)

    def close_open_sockets(self):
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError as err:
                _logger.debug("Sandbox socket already closed: %s", err)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients with a Session expect
    # Headers and body go out in separate writes; without this, Nagle's algorithm and
    # delayed ACKs add ~40 ms to every keep-alive response.
    disable_nagle_algorithm = True
    server_version = "nginx"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are closed eventually

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def do_PUT(self):
        self._handle()

    def do_PATCH(self):
        self._handle()

    def do_DELETE(self):
        self._handle()

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):
        _logger.debug("%s %s", self.address_string(), format % args)

    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self):
        sandbox = self.server.sandbox
        split = urlsplit(self.path)
        raw_path = unquote(split.path)
        body = self._read_body()
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        if raw_path.startswith("/_sandbox/") or raw_path == "/_sandbox":
            self._send(
                control.handle(
                    sandbox,
                    self.command,
                    raw_path,
                    query,
                    body,
                    self.headers.get("Content-Type", ""),
                )
            )
            return
        params = dict(query)
        params.update(parse_body(body, self.headers.get("Content-Type", "")))
        sandbox._log_request(self.command, raw_path, params, dict(self.headers))
        action, latency, slow = sandbox.faults.decide()
        sandbox._count_delays(latency, slow)
        if latency + slow > 0:
            time.sleep(latency + slow)
        if action == "drop":
            sandbox._count_fault("drop")
            self.close_connection = True
            return
        response = self._fault_response(sandbox, action)
        if response is None:
            response = sandbox._answer_api(
                self.command, raw_path, query, params, dict(self.headers)
            )
        self._send(response, truncate=action == "truncate")

    @staticmethod
    def _fault_response(sandbox, action):
        if action == "rate_limit":
            sandbox._count_fault("rate_limit")
            # rack-attack's default throttled responder: no Retry-After header.
            return api.Response(429, b"Retry later\n", "text/plain")
        if action == "server_error":
            sandbox._count_fault("server_error")
            status = sandbox.faults.server_error_status
            body = f"<html><body><h1>{status} Service Unavailable</h1></body></html>\n"
            return api.Response(status, body.encode(), "text/html")
        return None

    def _send(self, response, truncate=False):
        body = response.body
        self.send_response(response.status)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not truncate:
            self.wfile.write(body)
            return
        self.server.sandbox._count_fault("truncate")
        # The declared length stays; half the body arrives and the link drops.
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError as err:
            _logger.debug("Truncated response: client already gone: %s", err)


def parse_body(body, content_type):
    """Form, multipart or JSON request bodies become params, as Rails merges them."""
    if not body:
        return {}
    full_type = content_type or ""
    content_type = full_type.split(";")[0].strip().lower()
    try:
        if content_type == "multipart/form-data":
            return parse_multipart(body, full_type)
        if content_type == "application/json":
            data = json.loads(body.decode("utf-8"))
            return (
                {str(k): v for k, v in data.items()} if isinstance(data, dict) else {}
            )
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except (ValueError, LookupError):  # UnicodeDecodeError is a ValueError
        return {}


def parse_multipart(body, content_type):
    """multipart/form-data fields as strings, as Rack's multipart parser gives Rails.

    A file part becomes its file name (Rails would hand an UploadedFile; no sandbox
    route reads files). A body without a boundary, or not multipart, gives {}.
    """
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        return {}
    params = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        filename = part.get_filename()
        if filename is not None:
            params[name] = filename
            continue
        payload = part.get_payload(decode=True) or b""
        params[name] = payload.decode(part.get_content_charset() or "utf-8")
    return params


class SandboxServer:
    """A Gumroad API v2 imitation on loopback, with demo data, pings and faults.

    Typical use::

        with SandboxServer(sales=200) as sandbox:
            requests.get(sandbox.base_url + "/sales",
                         headers={"Authorization": f"Bearer {sandbox.token}"})
    """

    def __init__(
        self,
        *,
        host="127.0.0.1",
        port=0,
        seed=1,
        sales=50,
        products=None,
        tokens=None,
        start_date=None,
        end_date=None,
        ping_retry_delays=DEFAULT_RETRY_DELAYS,
        allow_loopback_post_urls=False,
        ping_async=True,
        faults=None,
        notification_url=None,
        clock=None,
    ):
        check_loopback(host)
        self.host = host
        self.requested_port = port
        self.seed = seed
        self.tokens = {
            token: set(scopes) for token, scopes in (tokens or DEFAULT_TOKENS).items()
        }
        self.token = (
            "sandbox-token"
            if "sandbox-token" in self.tokens
            else next(iter(self.tokens))
        )
        self.clock = clock or (lambda: datetime.now(UTC))
        self.store = SandboxStore(
            seed=seed,
            sales=sales,
            products=products,
            start_date=start_date,
            end_date=end_date,
            clock=self.clock,
        )
        self.faults = Faults()
        if faults:
            self.faults.update(
                **(faults if isinstance(faults, dict) else faults.settings())
            )
        self.faults_injected = dict.fromkeys(FAULT_KINDS, 0)
        self.allow_loopback_post_urls = allow_loopback_post_urls
        # The seller's Settings > Advanced "Ping" URL: receives `sale` pings only.
        self.notification_url = notification_url
        self.request_log = []
        self.request_headers = []
        self._log_lock = threading.Lock()
        self._pinger = PingDispatcher(ping_retry_delays, asynchronous=ping_async)
        self._httpd = None
        self._thread = None

    # -- lifecycle -------------------------------------------------------------------
    def start(self):
        if self._httpd is not None:
            return self
        self._httpd = _HttpServer((self.host, self.requested_port), _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"gumroad-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._pinger.start()
        return self

    def stop(self):
        self._pinger.close()
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.close_open_sockets()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def port(self):
        if self._httpd is None:
            return self.requested_port
        return self._httpd.server_address[1]

    @property
    def root_url(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self):
        return self.root_url + "/v2"

    # -- request bookkeeping ---------------------------------------------------------
    @property
    def request_count(self):
        return len(self.request_log)

    def _log_request(self, method, path, params, headers):
        with self._log_lock:
            self.request_log.append(LoggedRequest(method, path, params))
            self.request_headers.append(headers)

    def _count_fault(self, kind):
        with self._log_lock:
            self.faults_injected[kind] += 1

    def _count_delays(self, latency, slow):
        if latency > 0:
            self._count_fault("latency")
        if slow > 0:
            self._count_fault("slow")

    def scopes_for(self, token):
        """The token's scopes, or None when it is unknown or revoked (-> 401)."""
        if not token or token in self.store.revoked_tokens:
            return None
        return self.tokens.get(token)

    def _answer_api(self, method, raw_path, query, params, headers):
        route_path = api.route_path_of(raw_path)
        if route_path is None:
            return api.routing_error()
        request = api.ApiRequest(method, raw_path, route_path, query, params, headers)
        try:
            return api.dispatch(self, request)
        except Exception:  # a sandbox bug must show up as a 500, as Rails would
            _logger.exception("Sandbox error on %s %s", method, raw_path)
            body = b"<html><body><h1>We're sorry, but something went wrong.</h1>"
            return api.Response(500, body + b"</body></html>\n", "text/html")

    def query_times_out(self, after, before, filters):
        """The query_timeout_days fault: a broad GET /sales date span answers 400."""
        days = self.faults.query_timeout_days
        narrowed = any(
            filters.get(name)
            for name in ("product_given", "order_id", "email", "license_key")
        )
        if not days or narrowed:
            return False
        with self.store.lock:
            first, _last = self.store.data_bounds()
            now = self.store.now()
        low = after or (
            first.replace(hour=0, minute=0, second=0, microsecond=0) if first else now
        )
        high = before or datetime.combine(
            now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC
        )
        if high - low > timedelta(days=days):
            self._count_fault("query_timeout")
            return True
        return False

    # -- the sandbox's own truth -----------------------------------------------------
    @property
    def products(self):
        """Visible products, newest first, as GET /products/:id renders them."""
        with self.store.lock:
            products = sorted(
                self.store.visible_products(),
                key=lambda p: (p.created_at, p.key),
                reverse=True,
            )
            return [
                product_json(
                    p,
                    self.store.seller,
                    full=True,
                    sales_stats=self.store.product_stats(p),
                )
                for p in products
            ]

    @property
    def sales(self):
        """Every sale GET /sales lists, newest first (gift receivers are not listed)."""
        with self.store.lock:
            now = self.store.now()
            seller = self.store.seller
            return [
                sale_json(row, seller, now) for row in reversed(self.store.listed.rows)
            ]

    @property
    def subscribers(self):
        with self.store.lock:
            now = self.store.now()
            return [
                subscriber_json(sub, now) for sub in self.store.subscriptions.values()
            ]

    @property
    def pings_sent(self):
        return self._pinger.records

    def sale(self, sale_id):
        """GET /sales/:id's sale dict for any row (gift receivers too), or None."""
        with self.store.lock:
            row = self.store.sale(sale_id)
            return (
                None
                if row is None
                else sale_json(row, self.store.seller, self.store.now())
            )

    def gift_receiver_id(self, sale_id):
        """The id of the giftee's $0 row for a gift sender's sale id."""
        with self.store.lock:
            row = self._row(sale_id)
            if row.gift_role != "sender":
                raise SandboxError("The sale is not a gift.")
            return row.gift_peer.id

    def _row(self, sale_id):
        row = self.store.sale(sale_id)
        if row is None:
            raise KeyError(sale_id)
        return row

    def sale_net_usd_cents(self, sale_id):
        """USD cents the seller keeps: 0 if fully refunded or charged back (dispute
        open), else price minus the refunded share of it (rounded half up)."""
        with self.store.lock:
            return self._row(sale_id).net_usd()

    def sale_net_listed_cents(self, sale_id):
        """Same in the listed currency's minor units (yen for JPY)."""
        with self.store.lock:
            return self._row(sale_id).net_listed()

    def total_net_usd_cents(self):
        with self.store.lock:
            return sum(row.net_usd() for row in self.store.listed.rows)

    def balance(self):
        """The seller's Gumroad balance, USD cents (see SandboxStore.balance)."""
        with self.store.lock:
            return self.store.balance()

    def pay_out(self):
        """Pay the whole balance out now; returns GET /payouts/:id's payout dict."""
        with self.store.lock:
            return payout_json(self.store.pay_out(), include_sales=True)

    def add_credit(self, amount_cents, reason=""):
        """Gumroad credits (negative: debits) the balance by hand; the next payout
        lists it as a "Credit" transaction. Returns the new balance dict."""
        with self.store.lock:
            self.store.add_credit(amount_cents, reason)
            return self.store.balance()

    def payout(self, payout_id):
        """GET /payouts/:id?include_transactions=true's payout dict."""
        with self.store.lock:
            for payout in self.store.payouts:
                if payout.id == payout_id:
                    return payout_json(
                        payout, include_sales=True, include_transactions=True
                    )
        raise KeyError(payout_id)

    def summary(self):
        """What GET /_sandbox/state shows."""
        with self.store.lock:
            store = self.store
            now = store.now()
            listed = store.listed.rows
            summary = {
                "base_url": self.base_url,
                "token": self.token,
                "seed": self.seed,
                "listed_sales": len(listed),
                "sale_rows": len(store.rows_by_id),
                "products": len(store.visible_products()),
                "subscriptions": len(store.subscriptions),
                "active_subscriptions": sum(
                    1 for sub in store.subscriptions.values() if sub.is_active(now)
                ),
                "resource_subscriptions": len(store.alive_resource_subscriptions()),
                "total_price_usd_cents": sum(row.price for row in listed),
                "total_net_usd_cents": sum(row.net_usd() for row in listed),
                "refunded_sales": sum(1 for row in listed if row.refunded_listed),
                "disputed_sales": sum(1 for row in listed if row.disputed),
            }
        summary.update(
            request_count=self.request_count,
            pings_sent=len(self.pings_sent),
            pings_pending=self._pinger.pending,
            faults=self.faults.settings(),
            faults_injected=dict(self.faults_injected),
        )
        return summary

    # -- mutations (each sends the pings Gumroad would send) -----------------------
    def _sale_dict(self, row):
        return sale_json(row, self.store.seller, self.store.now())

    def _subscriber_dict(self, subscription):
        return subscriber_json(subscription, self.store.now())

    def _mutate(self, change, render, *args, **kwargs):
        """Apply a store change under the lock, then queue its pings outside it, so a
        webhook that calls back into the sandbox cannot deadlock a synchronous send."""
        with self.store.lock:
            record, events = change(*args, **kwargs)
            data = render(record) if render else None
            deliveries = self._deliveries(events)
        for url, body in deliveries:
            self._pinger.submit(url, body)
        return data

    def add_sale(self, **overrides):
        """Record a purchase now (or at `created_at`) and send its `sale` ping.

        Overrides: product_id, email, full_name, country_iso2, variant, recurrence,
        quantity, offer_code, pay_what_you_want, custom_fields, listed_amount_cents,
        created_at, subscription_id (a renewal), giftee_email, test, purchaser_id,
        url_params, affiliate_email, referrer, can_contact, street_address, city,
        sku_id;
        money (USD cents, readme/GUMROAD_MONEY.md): affiliate_credit_cents (with
        affiliate_email; default 10 % of price), payment_processor ("paypal" or
        "stripe_connect": a direct sale) and processor_fee_cents, shipping_cents
        (physical products), tip_cents and seller_tax_cents (added to price),
        gumroad_tax_cents (outside price), preorder (True: a pre-order
        authorization, not listed; charge it with release_preorder),
        buyer_currency (True: charged in the buyer's currency, a non-USD product's
        sale with `buyer_presentment`, which alone tells seller tax from Gumroad
        tax). Returns the API dict (the sender's row for a gift)."""
        return self._mutate(self.store.add_sale, self._sale_dict, **overrides)

    def release_preorder(self, sale_id):
        """Charge a pre-order authorization: a new listed sale (pinged); returns it."""
        return self._mutate(self.store.release_preorder, self._sale_dict, sale_id)

    def add_gift(self, product_id=None, giftee_email="giftee@example.com", **overrides):
        """A gift purchase; returns (sender's listed sale, receiver's $0 sale)."""
        if product_id is None:
            product_id = next(
                p.id
                for p in self.store.products
                if p.published
                and not p.deleted
                and not p.is_tiered_membership
                and p.price > 0
            )
        sender = self.add_sale(
            product_id=product_id, giftee_email=giftee_email, **overrides
        )
        return sender, self.sale(self.gift_receiver_id(sender["id"]))

    def refund(self, sale_id, amount_cents=None):
        """Refund listed minor units (everything left when None); returns the sale."""
        return self._mutate(self.store.refund, self._sale_dict, sale_id, amount_cents)

    def dispute(self, sale_id):
        """Open a chargeback (sends `dispute`; cancels a subscription at once)."""
        return self._mutate(self.store.dispute, self._sale_dict, sale_id)

    def win_dispute(self, sale_id):
        """Win it (sends `dispute_won` unless refunded; restarts a subscription)."""
        return self._mutate(self.store.win_dispute, self._sale_dict, sale_id)

    def cancel_subscription(self, subscription_id, *, by="buyer", immediately=False):
        """Cancel at the end of the paid period, or `immediately` (which also ends
        it). `by`: buyer, seller, admin or payment_failure. Returns the subscriber."""
        return self._mutate(
            self.store.cancel_subscription,
            self._subscriber_dict,
            subscription_id,
            by=by,
            immediately=immediately,
        )

    def end_subscription(self, subscription_id, reason=None):
        """The subscription really ends now (sends `subscription_ended`)."""
        return self._mutate(
            self.store.end_subscription, self._subscriber_dict, subscription_id, reason
        )

    def restart_subscription(self, subscription_id):
        return self._mutate(
            self.store.restart_subscription, self._subscriber_dict, subscription_id
        )

    def change_plan(self, subscription_id, *, tier=None, recurrence=None):
        """Upgrade/downgrade a tiered membership (sends `subscription_updated`)."""
        return self._mutate(
            self.store.change_plan,
            self._subscriber_dict,
            subscription_id,
            tier=tier,
            recurrence=recurrence,
        )

    def set_product(self, product_id, **changes):
        with self.store.lock:
            product = self.store.set_product(product_id, **changes)
            return product_json(product, self.store.seller, full=True)

    def delete_product(self, product_id):
        """Soft delete; active subscriptions to it are cancelled (with pings)."""
        self._mutate(self.store.delete_product, None, product_id)

    def revoke_token(self, token):
        """401 from now on; the token's resource subscriptions stop receiving pings."""
        with self.store.lock:
            self.store.revoke_token(token)

    def add_resource_subscription(self, resource_name, post_url, *, token=None):
        """Register a webhook as PUT /resource_subscriptions would (same checks)."""
        with self.store.lock:
            subscription = self.store.add_resource_subscription(
                token or self.token,
                resource_name,
                post_url,
                self.allow_loopback_post_urls,
            )
            return {
                "id": subscription.id,
                "resource_name": resource_name,
                "post_url": post_url,
            }

    # -- pings -----------------------------------------------------------------------
    def ping_body(
        self, resource_name, sale_id=None, subscription_id=None, *, test=False
    ):
        """The exact form body Gumroad would POST for this resource and sale or
        subscription (the receiver's row for a gift's `sale` ping)."""
        with self.store.lock:
            return encode_form(
                self._payload(resource_name, sale_id, subscription_id, test)
            )

    def _payload(self, resource_name, sale_id, subscription_id, test):
        store = self.store
        if test or resource_name == "test":
            row = (
                store.sale(sale_id)
                if sale_id
                else (store.listed.rows[-1] if store.listed.rows else None)
            )
            if row is None:
                raise SandboxError("The sale was not found.")
            payload = sale_payload(row, store.seller)
            payload["test"] = True  # the Settings test ping: no resource_name
            return payload
        if resource_name in SALE_RESOURCES:
            row = store.sale(sale_id) if sale_id else None
            if row is None and subscription_id:
                row = store.subscription(subscription_id).purchases[-1]
            if row is None:
                raise SandboxError("The sale was not found.")
            if resource_name == "sale" and row.gift_role == "sender":
                row = row.gift_peer
            return sale_payload(row, store.seller, resource_name)
        if resource_name in SUBSCRIPTION_RESOURCES:
            if subscription_id is None and sale_id:
                row = store.sale(sale_id)
                subscription_id = (
                    row.subscription.id if row and row.subscription else None
                )
            subscription = store.subscription(subscription_id)
            return subscription_payload(
                subscription,
                resource_name,
                self._subscription_extra(subscription, resource_name),
            )
        raise ValueError(f"Unknown resource_name {resource_name!r}.")

    def _subscription_extra(self, subscription, resource_name):
        if resource_name == "subscription_restarted":
            return {"restarted_at": subscription.restarted_at or self.store.now()}
        if resource_name == "subscription_updated":
            if subscription.last_plan_change:
                return subscription.last_plan_change
            plan = plan_of(subscription)
            return {
                "type": "upgrade",
                "effective_as_of": self.store.now(),
                "old_plan": plan,
                "new_plan": plan,
            }
        return None

    def ping_urls(self, resource_name):
        """Where Gumroad would POST this resource: alive subscriptions whose token
        still works with view_sales or account, plus the Settings ping URL for sales."""
        urls = []
        for subscription in self.store.alive_resource_subscriptions(resource_name):
            scopes = self.scopes_for(subscription.token)
            if scopes and scopes & {"view_sales", "account"}:
                urls.append(subscription.post_url)
        if resource_name == "sale" and self.notification_url:
            urls.append(self.notification_url)
        return urls

    def _deliveries(self, events):
        """(url, body) pairs for ping events, bodies built from the current state."""
        deliveries = []
        for event in events:
            if event.sale is not None:
                payload = sale_payload(
                    event.sale, self.store.seller, event.resource_name
                )
            else:
                payload = subscription_payload(
                    event.subscription, event.resource_name, event.extra
                )
            body = encode_form(payload)
            deliveries.extend(
                (url, body) for url in self.ping_urls(event.resource_name)
            )
        return deliveries

    def resend_ping(self, resource_name, sale_id=None, subscription_id=None):
        """Queue a ping to every registered URL ("resend ping"); returns the count."""
        with self.store.lock:
            body = encode_form(
                self._payload(resource_name, sale_id, subscription_id, False)
            )
            urls = self.ping_urls(resource_name)
        for url in urls:
            self._pinger.submit(url, body)
        return len(urls)

    def send_ping(
        self, url, resource_name, sale_id=None, subscription_id=None, test=False
    ):
        """POST one ping to `url` now, without retries; returns the HTTP status
        (0 when the connection failed or timed out)."""
        body = self.ping_body(resource_name, sale_id, subscription_id, test=test)
        return self._pinger.send_once(url, body)

    def wait_for_pings(self, timeout=10.0):
        """True once every queued ping (retries included) has been delivered or
        given up; False if some are still pending after `timeout` seconds."""
        return self._pinger.wait(timeout)
