import base64
import logging
from datetime import timedelta
from urllib.parse import urlsplit

from odoo import api, fields, models
from odoo.exceptions import UserError

from .. import const
from ..gumroad import (
    PING_RESOURCES,
    GumroadError,
    MalformedPayloadError,
    NotFoundError,
    parse_ping,
)
from .gumroad_sale import CONCURRENCY_ERRORS

_logger = logging.getLogger(__name__)

SALE_RESOURCES = ("sale", "refund", "dispute", "dispute_won")
SUBSCRIPTION_RESOURCES = (
    "cancellation",
    "subscription_updated",
    "subscription_ended",
    "subscription_restarted",
)
LOCAL_HOSTS = ("localhost", "127.0.0.1", "0.0.0.0", "::1")


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
    company_id = fields.Many2one(
        related="account_id.company_id", store=True, index=True
    )
    resource_name = fields.Char(readonly=True, index=True)
    sale_gumroad_id = fields.Char(string="Sale id", readonly=True, index=True)
    subscription_gumroad_id = fields.Char(string="Subscription id", readonly=True)
    is_test = fields.Boolean(readonly=True)
    raw_body = fields.Binary(attachment=False, readonly=True, copy=False)
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
        """Store a ping as received; never raise (a malformed one is kept in error)."""
        vals = {
            "account_id": account.id,
            "raw_body": base64.b64encode(raw),
            "content_type": content_type or False,
        }
        try:
            ping = parse_ping(raw)
        except MalformedPayloadError as err:
            vals.update(state="error", last_error=str(err))
        else:
            vals.update(
                resource_name=ping.resource_name,
                sale_gumroad_id=ping.sale_id,
                subscription_gumroad_id=ping.subscription_id,
                is_test=ping.is_test,
            )
        event = self.sudo().create(vals)
        if event.state == "pending":
            self.env.ref(
                "gumroad_connector.ir_cron_gumroad_process_events"
            ).sudo()._trigger()
        return event

    # === PROCESSING === #

    @api.model
    def _cron_process_events(self):
        cron = self.env["ir.cron"]
        while True:
            events = self.search(
                [("state", "=", "pending")], limit=const.WEBHOOK_BATCH_SIZE
            )
            events = events.try_lock_for_update().filtered_domain(
                [("state", "=", "pending")]
            )
            if not events:
                break
            try:
                events._process()
            except CONCURRENCY_ERRORS as err:
                # A concurrent booker touched the same sales: the next run re-reads
                # them.
                _logger.info(
                    "Gumroad pings conflicted with a concurrent booking: %r", err
                )
                self.env.cr.rollback()
                self.env.ref(
                    "gumroad_connector.ir_cron_gumroad_process_events"
                )._trigger(fields.Datetime.now() + timedelta(seconds=5))
                break
            remaining = self.search_count([("state", "=", "pending")])
            if (
                not cron._commit_progress(len(events), remaining=remaining)
                or not remaining
            ):
                break

    def _process(self):
        """Treat each ping as a signal: re-read the truth from Gumroad, then book it."""
        for event in self:
            event.attempts += 1
            try:
                with self.env.cr.savepoint():
                    result = event._process_one()
            except (GumroadError, UserError, MalformedPayloadError) as err:
                event.write({"state": "error", "last_error": str(err)})
                continue
            event.write({"state": result[0], "result": result[1], "last_error": False})

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
            if ping.resource_name == "sale" and existing and existing.state != "error":
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
                # The paid row of a gift is the sender's, only in the sales list: sync
                # that day.
                day = ping.sale_timestamp.date()
                sale_model._import_range(account, day, day + timedelta(days=1))
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
        self.write({"state": "pending", "last_error": False})
        self.env.ref("gumroad_connector.ir_cron_gumroad_process_events")._trigger()
        return True

    def action_process_now(self):
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
        account.sudo().webhook_registered_resources = ", ".join(registered)
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
        account.sudo().webhook_registered_resources = False
        return removed
