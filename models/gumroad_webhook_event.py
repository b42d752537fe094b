import base64
import logging
import random
import time
from datetime import timedelta
from urllib.parse import urlsplit

from psycopg2.errors import SerializationFailure

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from .. import const
from ..gumroad import (
    PING_RESOURCES,
    GumroadError,
    MalformedPayloadError,
    NotFoundError,
    parse_ping,
)
from ..gumroad.importing import retry_delay_seconds
from ..gumroad.retention import minimal_ping_body
from .gumroad_sale_booking import CONCURRENCY_ERRORS

_logger = logging.getLogger(__name__)

SALE_RESOURCES = ("sale", "refund", "dispute", "dispute_won")
SUBSCRIPTION_RESOURCES = (
    "cancellation",
    "subscription_updated",
    "subscription_ended",
    "subscription_restarted",
)
LOCAL_HOSTS = ("localhost", "127.0.0.1", "0.0.0.0", "::1")
# A ping that conflicts with a concurrent booking is tried again at once this many
# times (each in a fresh transaction) before it waits for a later run.
IMMEDIATE_CONFLICT_RETRIES = 3
PROCESS_CRON_XMLID = "gumroad_connector.ir_cron_gumroad_process_events"
# The id the ping's INSERT drew, in this session: nothing draws from a sequence
# between the two (lastval() is the cheapest way to read it).
LAST_PING_ID = SQL("lastval()")


class GumroadWebhookEvent(models.Model):
    _name = "gumroad.webhook.event"
    _description = "Gumroad Ping"
    _order = "received_at desc, id desc"
    _rec_name = "resource_name"

    account_id = fields.Many2one(
        "gumroad.account",
        string="Connector",
        required=True,
        ondelete="cascade",
        index=True,
    )
    # Precomputed: set in the ping's INSERT, not by an UPDATE after it.
    company_id = fields.Many2one(
        related="account_id.company_id", store=True, index=True, precompute=True
    )
    resource_name = fields.Char(readonly=True, index=True)
    sale_gumroad_id = fields.Char(string="Sale id", readonly=True, index=True)
    subscription_gumroad_id = fields.Char(string="Subscription id", readonly=True)
    is_test = fields.Boolean(readonly=True)
    raw_body = fields.Binary(attachment=False, readonly=True, copy=False)
    raw_emptied_at = fields.Datetime(
        string="Body emptied on",
        readonly=True,
        copy=False,
        help="The ping's body was emptied after the connector's retention period; "
        "what it booked is kept.",
    )
    body = fields.Text(compute="_compute_body")
    content_type = fields.Char(readonly=True)
    received_at = fields.Datetime(
        default=fields.Datetime.now, readonly=True, index=True
    )
    state = fields.Selection(
        [
            ("pending", "Pending"),
            ("done", "Done"),
            ("ignored", "Ignored"),
            ("error", "Error"),
        ],
        default="pending",
        required=True,
        readonly=True,
        index=True,
    )
    attempts = fields.Integer(readonly=True)
    next_attempt_at = fields.Datetime(
        readonly=True,
        help="A ping that failed for a passing reason (Gumroad unavailable, a "
        "concurrent booking) is tried again from then on.",
    )
    last_error = fields.Text(readonly=True)
    result = fields.Char(readonly=True)
    sale_id = fields.Many2one("gumroad.sale", readonly=True, ondelete="set null")

    @api.depends("raw_body")
    def _compute_body(self):
        # The web client reads with bin_size=True, under which raw_body is its size
        # ("1.2 Kb"), not its content.
        for event in self.with_context(bin_size=False):
            raw = base64.b64decode(event.raw_body) if event.raw_body else b""
            event.body = raw.decode("utf-8", errors="replace")

    # === RECEIVING === #

    @api.model
    def _store_ping(self, account, raw, content_type):
        """Store a ping for `account` as received; never raise (a malformed one is
        kept in error)."""
        return self._insert_ping(
            (account.id, account.company_id.id, account.minimal_buyer_data),
            raw,
            content_type,
        )

    @api.model
    def _insert_ping(self, target, raw, content_type):
        """Store a ping as received, in one round trip to PostgreSQL, and make sure
        the ping cron runs after it is committed; never raise (a malformed ping is
        kept in error).

        Plain SQL: acknowledging a ping is the hot path of the webhook, and the ORM's
        create (defaults, the transaction's `now()` query, the cache, the flush) cost
        more than the INSERT itself. The model has no create override, constraint or
        computed column beyond what is written here.

        :param target: (connector id, its company id, whether it keeps minimal buyer
            data), as `gumroad.account._find_webhook_target` returns it
        :return: the stored ping
        """
        account_id, company_id, minimal = target
        body = minimal_ping_body(raw) if minimal else raw
        now = fields.Datetime.now()
        values = {
            "account_id": account_id,
            "company_id": company_id,
            "raw_body": base64.b64encode(body),
            "content_type": content_type or None,
            "received_at": now,
            "state": "pending",
            "create_uid": self.env.uid,
            "create_date": now,
            "write_uid": self.env.uid,
            "write_date": now,
        }
        try:
            ping = parse_ping(raw)
        except MalformedPayloadError as err:
            values.update(state="error", last_error=str(err))
        else:
            values.update(
                resource_name=ping.resource_name,
                sale_gumroad_id=ping.sale_id,
                subscription_gumroad_id=ping.subscription_id,
                is_test=ping.is_test,
            )
        self.env.flush_all()  # the connector row it refers to, written by the caller
        insert = SQL(
            "INSERT INTO gumroad_webhook_event (%s) VALUES (%s)",
            SQL(", ").join(SQL.identifier(name) for name in values),
            SQL(", ").join(SQL("%s", value) for value in values.values()),
        )
        cr = self.env.cr
        if values["state"] != "pending":
            cr.execute(SQL("%s RETURNING id", insert))
            return self.browse(cr.fetchone()[0])
        # The ping cron must run after this commits. A due trigger this transaction
        # can lock is not being cleared by a cron run already started: the lock holds
        # a run's clearing of it until this ping is committed, and the run's
        # processing starts after that clearing, so it sees the ping. A trigger being
        # cleared (locked: skipped), or cleared by a run that committed after this
        # transaction began (a serialization failure, behind the savepoint), means a
        # run that may have looked for pings already: this ping gets a trigger of its
        # own. One trigger per ping would cost a row and a wake-up (a new connection
        # to PostgreSQL) each.
        cron_id = self.env["ir.model.data"]._xmlid_to_res_id(PROCESS_CRON_XMLID)
        savepoint = SQL.identifier("gumroad_ping_trigger")
        due = SQL(
            "SELECT %s, EXISTS (SELECT 1 FROM ir_cron_trigger"
            " WHERE cron_id = %s AND call_at <= %s LIMIT 1 FOR KEY SHARE SKIP LOCKED)",
            LAST_PING_ID,
            cron_id,
            now,
        )
        try:
            # Sent as one query string: INSERT, SAVEPOINT and the check of the due
            # trigger take one round trip.
            cr.execute(
                SQL("%s; SAVEPOINT %s; %s", insert, savepoint, due),
                log_exceptions=False,
            )
            event_id, triggered = cr.fetchone()
        except SerializationFailure:
            cr.execute(SQL("ROLLBACK TO SAVEPOINT %s", savepoint))
            cr.execute(SQL("SELECT %s", LAST_PING_ID))
            event_id, triggered = cr.fetchone()[0], False
        if not triggered:
            self.env["ir.cron"].sudo().browse(cron_id)._trigger()
        return self.browse(event_id)

    def _empty_raw_data(self):
        """Drop the ping's body (the retention cron); its outcome stays."""
        self.write({"raw_body": False, "raw_emptied_at": fields.Datetime.now()})

    # === PROCESSING === #

    @api.model
    def _cron_process_events(self):
        """Process due pings one by one, each in a transaction of its own.

        A ping is locked (SKIP LOCKED: two workers never take the same one), booked,
        and committed with its result by `ir.cron._commit_progress` before the next one
        starts, so a ping that fails or conflicts never rolls back or blocks the others,
        and the inbox drains whatever arrives meanwhile.
        """
        cron = self.env["ir.cron"]
        processed = set()
        while True:
            due = self._due_domain(processed)
            candidates = self.search(due, limit=const.WEBHOOK_BATCH_SIZE, order="id")
            if not candidates:
                break
            for event_id in candidates.ids:
                processed.add(event_id)
                event = self.browse(event_id).try_lock_for_update()
                event = event.filtered_domain(self._due_domain())
                if not event:
                    continue  # taken by another worker, or done meanwhile
                event._process_in_own_transaction()
                remaining = self.search_count(self._due_domain(processed))
                if cron._commit_progress(1, remaining=remaining) <= 0:
                    if remaining:
                        # Out of time with pings waiting: Odoo runs the job again
                        # after the other ready jobs, but its cron threads only look
                        # again when woken. Wake them, so the inbox keeps draining.
                        self.env.ref(
                            "gumroad_connector.ir_cron_gumroad_process_events"
                        )._trigger()
                    return
        self._schedule_next_attempt()
        self.env["gumroad.account"]._refresh_all_alerts()

    @api.model
    def _due_domain(self, exclude_ids=()):
        domain = [
            ("state", "=", "pending"),
            "|",
            ("next_attempt_at", "=", False),
            ("next_attempt_at", "<=", fields.Datetime.now()),
        ]
        if exclude_ids:
            domain.append(("id", "not in", list(exclude_ids)))
        return domain

    @api.model
    def _schedule_next_attempt(self):
        """Wake the cron when the earliest ping waiting for a retry is due."""
        waiting = self.search(
            [
                ("state", "=", "pending"),
                ("next_attempt_at", ">", fields.Datetime.now()),
            ],
            order="next_attempt_at",
            limit=1,
        )
        if waiting:
            self.env.ref("gumroad_connector.ir_cron_gumroad_process_events")._trigger(
                waiting.next_attempt_at
            )

    def _process_in_own_transaction(self):
        """Process this (locked) ping; when a concurrent booking of the same sale
        conflicts, roll back this ping's work alone and try again in a fresh
        transaction: at once a few times, then later.

        Only the cron calls this: it owns the transaction, which holds this ping only.
        """
        self.ensure_one()
        for attempt in range(1, IMMEDIATE_CONFLICT_RETRIES + 2):
            try:
                self._process()
                # Serialization failures surface when the writes reach the database.
                self.env.flush_all()
                return
            except CONCURRENCY_ERRORS as err:
                _logger.info(
                    "Gumroad ping %s conflicted with a booking (%r), attempt %s",
                    self.id,
                    err,
                    attempt,
                )
                # A fresh transaction: the retry sees what the other booker committed.
                self.env.cr.rollback()
                event = self.try_lock_for_update().filtered_domain(self._due_domain())
                if not event:
                    return  # taken or finished by another worker meanwhile
                if attempt <= IMMEDIATE_CONFLICT_RETRIES:
                    time.sleep(random.uniform(0.05, 0.3) * attempt)
                    continue
                event.attempts += 1  # the rolled-back attempt counts
                # A conflict passes as soon as the other booking commits: retry soon.
                event._postpone(
                    self.env._("A concurrent booking of the same sale: %(e)s", e=err),
                    base_delay=2.0,
                    max_attempts=const.PING_MAX_CONFLICTS,
                )

    def _process(self):
        """Treat each ping as a signal: re-read the truth from Gumroad, then book it.

        Each ping books in a savepoint of its own: one that fails leaves the others
        booked. Nothing is committed here.
        """
        for event in self:
            event.attempts += 1
            try:
                with self.env.cr.savepoint():
                    result = event._process_one()
            except GumroadError as err:
                if err.retryable:
                    event._postpone(str(err))
                else:
                    event.write({"state": "error", "last_error": str(err)})
                continue
            except (UserError, MalformedPayloadError) as err:
                event.write({"state": "error", "last_error": str(err)})
                continue
            event.write(
                {
                    "state": result[0],
                    "result": result[1],
                    "last_error": False,
                    "next_attempt_at": False,
                }
            )

    def _postpone(self, reason, base_delay=30.0, max_attempts=const.PING_MAX_ATTEMPTS):
        """Try the ping again later with a growing back-off; after the last attempt it
        is in error with the reason.
        """
        self.ensure_one()
        attempts = max(self.attempts, 1)
        if attempts >= max_attempts:
            self.write(
                {
                    "state": "error",
                    "attempts": attempts,
                    "next_attempt_at": False,
                    "last_error": self.env._(
                        "Failed %(n)s times; the last time: %(reason)s",
                        n=attempts,
                        reason=reason,
                    ),
                }
            )
            return
        delay = retry_delay_seconds(attempts, base=base_delay, cap=base_delay * 16)
        self.write(
            {
                "state": "pending",
                "attempts": attempts,
                "next_attempt_at": fields.Datetime.now() + timedelta(seconds=delay),
                "last_error": self.env._(
                    "Attempt %(n)s failed, tried again in %(delay)s s: %(reason)s",
                    n=attempts,
                    delay=int(delay),
                    reason=reason,
                ),
            }
        )

    def _process_one(self):
        self.ensure_one()
        ping = parse_ping(base64.b64decode(self.raw_body or b""))
        account = self.account_id
        if ping.is_test:
            return "ignored", self.env._("Test ping: recorded, not booked.")
        if ping.resource_name in SALE_RESOURCES:
            sale_model = self.env["gumroad.sale"]
            existing = sale_model.search(
                [("account_id", "=", account.id), ("gumroad_id", "=", ping.sale_id)],
                limit=1,
            )
            if ping.resource_name == "sale" and existing.state not in (
                False,
                "error",
                "pending",
            ):
                self.sale_id = existing
                return "done", self.env._("Duplicate sale ping: already booked.")
            try:
                payload = account._gumroad_client().get_sale(ping.sale_id)
            except NotFoundError as err:
                raise UserError(
                    self.env._(
                        "Sale %(sale)s is not in this Gumroad account (%(reason)s); "
                        "nothing booked.",
                        sale=ping.sale_id,
                        reason=str(err),
                    )
                ) from err
            counts = sale_model._book_payloads(account, [payload])
            self.sale_id = sale_model.search(
                [("account_id", "=", account.id), ("gumroad_id", "=", ping.sale_id)],
                limit=1,
            )
            if payload.get("is_gift_receiver_purchase") and ping.sale_timestamp:
                # The paid row of a gift is the sender's, only in the sales list: the
                # import cron syncs that day.
                day = ping.sale_timestamp.date()
                self.env["gumroad.import"]._queue(
                    account, day, day + timedelta(days=1), "ping"
                )
            if counts.get("failed"):
                raise UserError(
                    self.sale_id.error_message or self.env._("Booking failed.")
                )
            # A dict argument would be formatted as the list of its keys.
            booked = ", ".join(f"{n} {key}" for key, n in counts.items() if n)
            return "done", self.env._(
                "Sale re-read from Gumroad and booked: %(c)s", c=booked
            )
        if ping.resource_name in SUBSCRIPTION_RESOURCES:
            subscription = self.env["gumroad.subscription"]._apply_ping(account, ping)
            return "done", self.env._(
                "Subscription %(id)s updated.", id=subscription.gumroad_id
            )
        return "ignored", self.env._(
            "Unknown resource %(name)s.", name=ping.resource_name
        )

    def action_replay(self):
        """Queue the selected events again (after a fix, or to re-read Gumroad)."""
        self.check_access("write")
        self.write({"state": "pending", "last_error": False, "next_attempt_at": False})
        self.env.ref("gumroad_connector.ir_cron_gumroad_process_events")._trigger()
        return True

    def action_process_now(self):
        self.check_access("write")
        self.filtered(lambda e: e.state == "pending")._process()
        return True

    # === REGISTRATION (resource subscriptions) === #

    @api.model
    def _subscribe_resources(self, account):
        """Subscribe the connector's URL to every ping resource; remove stale ones it
        made.
        """
        url = account.sudo().webhook_url
        host = (urlsplit(url).hostname or "").lower()
        if host in LOCAL_HOSTS and not self.env.context.get(
            "gumroad_allow_local_webhooks"
        ):
            raise UserError(
                self.env._(
                    "Gumroad refuses webhook addresses on localhost (%(url)s). Set "
                    "the system parameter web.base.url to this Odoo's public address "
                    "(https://...), then enable real-time sync again.",
                    url=url,
                )
            )
        client = account._gumroad_client()
        registered = []
        try:
            for resource in PING_RESOURCES:
                existing = client.list_resource_subscriptions(resource)
                ours = [s for s in existing if s.get("post_url") == url]
                stale = [
                    s
                    for s in existing
                    if "/gumroad/webhook/" in (s.get("post_url") or "")
                    and s.get("post_url") != url
                    and (s.get("post_url") or "").startswith(
                        url.rsplit("/gumroad/webhook/")[0]
                    )
                ]
                for subscription in stale:
                    client.delete_resource_subscription(subscription["id"])
                if not ours:
                    client.create_resource_subscription(resource, url)
                for duplicate in ours[1:]:
                    client.delete_resource_subscription(duplicate["id"])
                registered.append(resource)
        except GumroadError as err:
            raise UserError(
                self.env._(
                    "Gumroad refused the registration: %(reason)s", reason=str(err)
                )
            ) from err
        account.sudo().write(
            {
                "webhook_registered_resources": ", ".join(registered),
                "webhook_registered_at": account.webhook_registered_at
                or fields.Datetime.now(),
            }
        )
        return registered

    @api.model
    def _unsubscribe_resources(self, account):
        url = account.sudo().webhook_url
        client = account._gumroad_client()
        removed = 0
        for resource in PING_RESOURCES:
            for subscription in client.list_resource_subscriptions(resource):
                if subscription.get("post_url") == url:
                    client.delete_resource_subscription(subscription["id"])
                    removed += 1
        account.sudo().write(
            {
                "webhook_registered_resources": False,
                "webhook_registered_at": False,
                "webhook_missing_resources": False,
                "webhook_lost_ping_count": 0,
            }
        )
        return removed
