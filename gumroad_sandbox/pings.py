"""Gumroad pings: payloads, their form encoding, and delivery with its retry rules.

Payloads follow Purchase::PingNotification and Subscription::PingNotification key by
key; the encoding follows HTTParty::HashConversions (bracketed keys, nil as an empty
value, "true"/"false"); delivery follows PostToIndividualPingEndpointWorker: a 5 s
POST, retried only on 499/500/502/503/504 after 60 s, 180 s and 600 s with
`retry_count` added, connection errors and timeouts dropped.
"""

import heapq
import itertools
import logging
import threading
import time
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from urllib.parse import quote

import requests

_logger = logging.getLogger(__name__)

PingRecord = namedtuple("PingRecord", "url body status attempt")
PingRecord.__doc__ = (
    "One POST made by the sandbox: status is None when the connection failed or "
    "timed out; attempt 1 is the first try, attempt n carries retry_count=n-1."
)
RETRY_STATUSES = frozenset((499, 500, 502, 503, 504))
DEFAULT_RETRY_DELAYS = (60, 180, 600)
PING_TIMEOUT_SECONDS = 5
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def iso_time(value):
    """ActiveSupport JSON time with second precision: "2026-07-20T18:42:07Z"."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def form_scalar(value):
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, datetime):
        return iso_time(value)
    return str(value)


def _normalize_keys(key, value):
    """HTTParty::HashConversions.normalize_keys: nested hashes come after their
    scalar siblings, arrays become repeated `key[]`, an empty top array `key[]=`."""
    pairs = []
    if isinstance(value, (list, tuple)):
        if not value:
            return [(f"{key}[]", "")]
        for element in value:
            pairs.extend(_normalize_keys(f"{key}[]", element))
        return pairs
    if not isinstance(value, dict):
        return [(key, form_scalar(value))]
    stack = [(key, value)]
    for parent, mapping in stack:  # the stack grows while it is walked, like Ruby's
        for child_key, child_value in mapping.items():
            name = f"{parent}[{child_key}]"
            if isinstance(child_value, dict):
                stack.append((name, child_value))
            elif isinstance(child_value, (list, tuple)):
                for element in child_value:
                    pairs.extend(_normalize_keys(f"{name}[]", element))
            else:
                pairs.extend(_normalize_keys(name, child_value))
    return pairs


def form_pairs(payload):
    """Flat (key, value) pairs in wire order."""
    pairs = []
    for key, value in payload.items():
        # Top-level keys holding brackets (custom field names) are escaped first so
        # they are not read as nesting (post_to_individual_ping_endpoint_worker.rb).
        key = str(key).replace("[", "%5B").replace("]", "%5D")
        pairs.extend(_normalize_keys(key, value))
    return pairs


def encode_form(payload):
    """The exact application/x-www-form-urlencoded body bytes of a payload."""
    return "&".join(
        f"{quote(key, safe='')}={quote(value, safe='')}"
        for key, value in form_pairs(payload)
    ).encode("ascii")


def sale_payload(row, seller, resource_name=None):
    """Purchase#payload_for_ping_notification, in its key order."""
    product = row.product
    payload = {
        "seller_id": seller.user_id,
        "product_id": product.id,
        "product_name": product.name,
        "permalink": product.general_permalink,
        "product_permalink": product.long_url(seller),
        "short_product_id": product.unique_permalink,
        "email": row.email,
        "price": row.price,
        "gumroad_fee": row.fee,
        "currency": product.currency.code,
        "quantity": row.quantity,
        "discover_fee_charged": False,
        "can_contact": row.can_contact,
        "referrer": row.referrer,
        "card": {
            "visual": row.card_visual,
            "type": row.card_type,
            "bin": None,
            "expiry_month": None,
            "expiry_year": None,
        },
        "order_number": row.order_id,
        "sale_id": row.id,
        "sale_timestamp": iso_time(row.created_at),
    }
    _add_optional_sale_keys(payload, row)
    license_ = row.shown_license
    if license_ is not None:
        payload["license_key"] = license_.serial
        payload["is_multiseat_license"] = license_.multiseat
    if row.ip_country:
        payload["ip_country"] = row.ip_country
    if product.kind == "physical":
        address = {
            "full_name": row.full_name,
            "street_address": row.street_address,
            "country": row.country,
            "state": row.state,
            "zip_code": row.zip_code,
            "city": row.city,
        }
        address = {key: value for key, value in address.items() if value}
        payload.update(address)
        payload["shipping_information"] = address
        payload["shipping_rate"] = row.shipping_cents
        payload["sku_id"] = f"pid_{product.id}"
    if row.subscription is not None:
        payload["recurrence"] = row.subscription.recurrence
    if row.affiliate_email:
        payload["affiliate"] = row.affiliate_email
    payload["is_gift_receiver_purchase"] = row.gift_role == "receiver"
    if row.gift_role == "receiver":
        payload["gift_price"] = row.gift_peer.price
        payload["gifter_email"] = row.gift_peer.email
    payload["refunded"] = row.fully_refunded
    if resource_name:
        payload["resource_name"] = resource_name
    payload["disputed"] = row.disputed
    payload["dispute_won"] = row.dispute_won
    return payload


def _add_optional_sale_keys(payload, row):
    if row.full_name:
        payload["full_name"] = row.full_name
    if row.purchaser_id:
        payload["purchaser_id"] = row.purchaser_id
    if row.subscription is not None:
        payload["subscription_id"] = row.subscription.id
    if row.affiliate_email and row.affiliate_credit_cents > 0:
        # Only once an AffiliateCredit row exists, i.e. for a credit above 0.
        payload["affiliate_credit_amount_cents"] = row.affiliate_credit_cents
    if row.url_params:
        payload["url_params"] = dict(row.url_params)
    if row.variants:
        payload["variants"] = dict(row.variants)
    if row.offer_code is not None:
        payload["offer_code"] = row.offer_code.code
    if row.test:
        payload["test"] = True
    if row.recurring_charge:
        payload["is_recurring_charge"] = True
    if row.is_preorder_authorization:
        payload["is_preorder_authorization"] = True
    for name, value in row.custom_fields.items():
        payload[name] = value
    custom_fields = row.custom_fields
    if not custom_fields and row.subscription is not None:
        custom_fields = row.subscription.original_purchase.custom_fields
    if custom_fields:
        payload["custom_fields"] = dict(custom_fields)


def subscription_payload(subscription, resource_name, extra=None):
    """Subscription#payload_for_ping_notification, in its key order."""
    payload = {
        "subscription_id": subscription.id,
        "product_id": subscription.product.id,
        "product_name": subscription.product.name,
        "user_id": subscription.user_id,
        "user_email": subscription.email,
        "purchase_ids": [row.id for row in subscription.purchases],
        "created_at": iso_time(subscription.created_at),
        "charge_occurrence_count": subscription.charge_occurrence_count,
        "recurrence": subscription.recurrence,
        "free_trial_ends_at": subscription.free_trial_ends_at,
        "resource_name": resource_name,
    }
    payload.update(extra or {})
    original = subscription.original_purchase
    if original is not None and original.custom_fields:
        payload["custom_fields"] = dict(original.custom_fields)
    if subscription.license is not None:
        payload["license_key"] = subscription.license.serial
    if resource_name == "cancellation":
        payload["cancelled"] = True
        if subscription.cancelled_at is not None:
            payload["cancelled_at"] = subscription.cancelled_at
            by = subscription.cancelled_by
            if by in ("admin", "buyer"):
                payload[f"cancelled_by_{by}"] = True
            else:
                payload["cancelled_by_seller"] = True
        elif subscription.failed_at is not None:
            payload["cancelled_at"] = subscription.failed_at
            payload["cancelled_due_to_payment_failures"] = True
    if resource_name == "subscription_ended":
        payload["ended_at"] = subscription.ended_at
        payload["ended_reason"] = subscription.ended_reason
    return payload


class PingDispatcher:
    """Delivers ping bodies on background threads and records every attempt."""

    def __init__(
        self,
        retry_delays=DEFAULT_RETRY_DELAYS,
        *,
        asynchronous=True,
        timeout=PING_TIMEOUT_SECONDS,
    ):
        self.retry_delays = tuple(retry_delays)
        self.asynchronous = asynchronous
        self.timeout = timeout
        self.records = []
        self._condition = threading.Condition()
        self._queue = []  # heap of (due monotonic time, sequence, url, body, attempt)
        self._sequence = itertools.count()
        self._pending = 0
        self._closed = False
        self._executor = None
        self._scheduler = None

    def start(self):
        """Start the delivery threads (again, after a close())."""
        if not self.asynchronous or self._scheduler is not None:
            return
        with self._condition:
            self._closed = False
            self._pending = 0
        self._executor = ThreadPoolExecutor(
            max_workers=8, thread_name_prefix="sandbox-ping"
        )
        self._scheduler = threading.Thread(
            target=self._schedule_loop, name="sandbox-ping-scheduler", daemon=True
        )
        self._scheduler.start()

    def close(self):
        """Drop queued pings and retries; a POST under way still finishes."""
        with self._condition:
            self._closed = True
            self._pending = 0
            self._queue.clear()
            self._condition.notify_all()
        if self._scheduler is not None:
            self._scheduler.join(timeout=2)
            self._scheduler = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def submit(self, url, body):
        """Queue one ping (retried on Gumroad's retry statuses)."""
        if not self.asynchronous:
            self._deliver_with_retries(url, body)
            return
        with self._condition:
            if self._closed:
                return
            self._pending += 1
            heapq.heappush(
                self._queue, (time.monotonic(), next(self._sequence), url, body, 1)
            )
            self._condition.notify_all()

    def send_once(self, url, body):
        """One synchronous POST without retries; returns the status (0 if none)."""
        status = self._post(url, body, 1)
        return status or 0

    def wait(self, timeout=10.0):
        """True once nothing is queued, being sent, or waiting for a retry."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._pending > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(remaining)
            return True

    @property
    def pending(self):
        return self._pending

    # -- internals -------------------------------------------------------------------
    def _schedule_loop(self):
        with self._condition:
            while not self._closed:
                if not self._queue:
                    self._condition.wait()
                    continue
                due = self._queue[0][0]
                delay = due - time.monotonic()
                if delay > 0:
                    self._condition.wait(delay)
                    continue
                _due, _seq, url, body, attempt = heapq.heappop(self._queue)
                self._executor.submit(self._deliver_async, url, body, attempt)

    def _deliver_async(self, url, body, attempt):
        try:
            status = self._post(url, body, attempt)
            delay = self._retry_delay(status, attempt)
        except Exception:  # a bug here must not leave wait() hanging
            _logger.exception("Sandbox ping delivery failed")
            delay = None
        with self._condition:
            # After close() nothing is pending any more: neither count nor retry.
            if not self._closed and delay is not None:
                due = time.monotonic() + delay
                entry = (due, next(self._sequence), url, body, attempt + 1)
                heapq.heappush(self._queue, entry)
            elif not self._closed:
                self._pending -= 1
            self._condition.notify_all()

    def _deliver_with_retries(self, url, body):
        attempt = 1
        while True:
            status = self._post(url, body, attempt)
            delay = self._retry_delay(status, attempt)
            if delay is None:
                return
            time.sleep(delay)
            attempt += 1

    def _retry_delay(self, status, attempt):
        # retry_count < length-1 in Gumroad's worker: len(delays) retries, no more.
        if status in RETRY_STATUSES and attempt - 1 < len(self.retry_delays):
            return self.retry_delays[attempt - 1]
        return None

    def _post(self, url, body, attempt):
        if attempt > 1:
            body = body + b"&retry_count=" + str(attempt - 1).encode()
        try:
            response = requests.post(
                url,
                data=body,
                headers={"Content-Type": FORM_CONTENT_TYPE, "User-Agent": "Ruby"},
                timeout=self.timeout,
                allow_redirects=False,
            )
            status = response.status_code
        except requests.RequestException as error:
            # Gumroad logs these and drops the ping without a retry.
            _logger.info("Sandbox ping to %s failed: %s", url, error)
            status = None
        with self._condition:
            self.records.append(PingRecord(url, body, status, attempt))
        return status
