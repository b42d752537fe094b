import logging
from datetime import timedelta

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..gumroad import GumroadError
from ..gumroad.pings import PING_RESOURCES
from ..gumroad.webhook_health import (
    MISSING,
    missing_resources,
    sales_without_ping,
    subscription_states,
)

_logger = logging.getLogger(__name__)

# A sale's ping reaches Odoo within seconds; a sale younger than this may simply not
# have been pinged yet when the check runs.
PING_GRACE = timedelta(hours=1)
# How far back the daily check looks.
PING_CHECK_SPAN = timedelta(days=2)


class GumroadAccountWebhook(models.AbstractModel):
    """Webhook health: which resources Gumroad pings this connector for, the last
    ping received per resource, and whether sales arrive without their ping.
    Mixed into `gumroad.account`.
    """

    _name = "gumroad.account.webhook"
    _description = "Gumroad Connector Webhook Health"

    # === FIELDS === #

    webhook_registered_at = fields.Datetime(
        string="Real-time sync since", readonly=True, copy=False
    )
    webhook_checked_at = fields.Datetime(
        string="Subscriptions checked on", readonly=True, copy=False
    )
    webhook_missing_resources = fields.Char(
        string="Missing subscriptions",
        readonly=True,
        copy=False,
        help="Resources Gumroad does not ping this connector's URL for, at the last "
        "check. Repair subscribes them again.",
    )
    webhook_lost_ping_count = fields.Integer(
        string="Sales without a ping",
        readonly=True,
        copy=False,
        help="Sales of the last two days that the scheduled sync found but no ping "
        "announced, at the last daily check: Gumroad's pings are not arriving.",
    )
    webhook_health_html = fields.Html(
        string="Pings per resource", compute="_compute_webhook_health_html"
    )

    # === COMPUTE METHODS === #

    def _compute_webhook_health_html(self):
        last_by_account = {}
        if self.ids:
            groups = (
                self.env["gumroad.webhook.event"]
                .sudo()
                ._read_group(
                    [("account_id", "in", self.ids), ("resource_name", "!=", False)],
                    ["account_id", "resource_name"],
                    ["received_at:max"],
                )
            )
            for account, resource, last in groups:
                last_by_account.setdefault(account.id, {})[resource] = last
        for account in self:
            last = last_by_account.get(account.id, {})
            missing = set((account.webhook_missing_resources or "").split(", "))
            rows = []
            for resource in PING_RESOURCES:
                received = (
                    fields.Datetime.to_string(
                        fields.Datetime.context_timestamp(account, last[resource])
                    )
                    if resource in last
                    else self.env._("never")
                )
                if not account.webhook_checked_at:
                    state = self.env._("not checked")
                elif resource in missing:
                    state = self.env._("missing")
                else:
                    state = self.env._("subscribed")
                rows.append(
                    Markup("<tr><td>%s</td><td>%s</td><td>%s</td></tr>")
                    % (resource, received, state)
                )
            account.webhook_health_html = Markup(
                '<table class="table table-sm o_gumroad_webhook_health">'
                "<thead><tr><th>%s</th><th>%s</th><th>%s</th></tr></thead>"
                "<tbody>%s</tbody></table>"
            ) % (
                self.env._("Resource"),
                self.env._("Last ping received"),
                self.env._("Gumroad subscription"),
                Markup("").join(rows),
            )

    # === BUSINESS METHODS === #

    def _check_webhook_subscriptions(self):
        """Read Gumroad's subscriptions for this URL; store which are missing."""
        self.ensure_one()
        client = self._gumroad_client()
        url = self.sudo().webhook_url
        subscriptions = {
            resource: client.list_resource_subscriptions(resource)
            for resource in PING_RESOURCES
        }
        states = subscription_states(url, subscriptions)
        missing = missing_resources(states)
        self.sudo().write(
            {
                "webhook_checked_at": fields.Datetime.now(),
                "webhook_missing_resources": ", ".join(missing) or False,
            }
        )
        return states

    def _count_sales_without_ping(self):
        """Sales the sync found in the last two days that no ping announced."""
        self.ensure_one()
        now = fields.Datetime.now()
        start = max(now - PING_CHECK_SPAN, self.webhook_registered_at)
        found = self.env["gumroad.sale"].search(
            [
                ("account_id", "=", self.id),
                ("sale_datetime", ">=", start),
                ("sale_datetime", "<", now - PING_GRACE),
                # Gumroad pings a gift's receiver, never its paying sender.
                ("is_gift_sender", "=", False),
            ]
        )
        pinged = self.env["gumroad.webhook.event"].search(
            [
                ("account_id", "=", self.id),
                ("resource_name", "=", "sale"),
                ("sale_gumroad_id", "in", found.mapped("gumroad_id")),
            ]
        )
        return len(
            sales_without_ping(
                found.mapped("gumroad_id"), pinged.mapped("sale_gumroad_id")
            )
        )

    @api.model
    def _cron_check_webhook_health(self):
        """Daily: the subscriptions still in place, no sale arriving without ping."""
        cron = self.env["ir.cron"]
        accounts = self.search(
            [("state", "=", "connected"), ("webhook_registered_at", "!=", False)]
        )
        for index, account in enumerate(accounts):
            try:
                states = account._check_webhook_subscriptions()
            except GumroadError as err:
                _logger.info(
                    "Webhook check of connector %s failed: %s", account.id, err
                )
                states = {}
            lost = account._count_sales_without_ping()
            account._report_webhook_health(states, lost)
            if cron._commit_progress(1, remaining=len(accounts) - index - 1) <= 0:
                break

    def _report_webhook_health(self, states, lost):
        """Say on the connector what changed since the last check."""
        self.ensure_one()
        missing = [resource for resource, state in states.items() if state == MISSING]
        if missing:
            self.message_post(
                body=self.env._(
                    "Gumroad no longer pings this connector for: %(resources)s. "
                    "Use Repair on the Real-time sync tab.",
                    resources=", ".join(missing),
                )
            )
        if lost and lost != self.webhook_lost_ping_count:
            self.message_post(
                body=self.env._(
                    "%(count)s sales of the last two days arrived without a ping: "
                    "Gumroad's pings are being lost (check the webhook URL is "
                    "reachable from the internet). The scheduled sync booked them.",
                    count=lost,
                )
            )
        self.sudo().webhook_lost_ping_count = lost

    # === ACTION METHODS === #

    def action_check_webhooks(self):
        self.ensure_one()
        self._check_manager_access()
        try:
            states = self._check_webhook_subscriptions()
        except GumroadError as err:
            raise UserError(
                self.env._("Gumroad refused the check: %(reason)s", reason=str(err))
            ) from err
        missing = missing_resources(states)
        if missing:
            message = self.env._(
                "Missing subscriptions: %(resources)s.", resources=", ".join(missing)
            )
            return self._notify(message, "warning")
        return self._notify(
            self.env._("Gumroad pings this connector for every resource."), "success"
        )

    def action_repair_webhooks(self):
        """Subscribe again what Gumroad no longer pings this connector for."""
        self.ensure_one()
        self._check_manager_access()
        before = set(missing_resources(self._check_webhook_subscriptions()))
        self.env["gumroad.webhook.event"]._subscribe_resources(self)
        still = missing_resources(self._check_webhook_subscriptions())
        repaired = sorted(before - set(still))
        message = self.env._(
            "Subscribed again: %(resources)s.",
            resources=", ".join(repaired) or self.env._("nothing was missing"),
        )
        self.message_post(body=message)
        return self._notify(message, "success")
