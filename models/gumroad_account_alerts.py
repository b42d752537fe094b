import json
import logging
from datetime import timedelta

from markupsafe import Markup
from psycopg2 import errors as pg_errors

from odoo import api, fields, models
from odoo.tools import mute_logger

from .. import const
from ..gumroad.alerts import plan_alerts

_logger = logging.getLogger(__name__)

# Gumroad unreachable (no successful sync) for longer than this raises an alert.
UNREACHABLE_AFTER = timedelta(days=1)
# Two workers refreshing the same connector's alerts at once (the sync cron, the
# import cron, the ping cron): the second one's refresh is redundant.
RACE_ERRORS = (
    pg_errors.SerializationFailure,
    pg_errors.UniqueViolation,
    pg_errors.LockNotAvailable,
    pg_errors.DeadlockDetected,
)


class GumroadAccountAlerts(models.AbstractModel):
    """What needs a person on a connector, raised once and closed when gone: see
    `gumroad.alert`. Mixed into `gumroad.account`.
    """

    _name = "gumroad.account.alerts"
    _description = "Gumroad Connector Alerts"

    # === FIELDS === #

    responsible_user_id = fields.Many2one(
        "res.users",
        string="Responsible",
        default=lambda self: self.env.user,
        domain="[('share', '=', False)]",
        tracking=True,
        help="Gets an activity for each problem of this connector that needs a "
        "person (a failed import, sales or pings in error, payout differences, a "
        "refused token, Gumroad unreachable). Followers get an email.",
    )
    alert_ids = fields.One2many("gumroad.alert", "account_id", string="Alerts")
    open_alert_count = fields.Integer(
        string="Open alerts", compute="_compute_open_alert_count"
    )

    # === COMPUTE METHODS === #

    def _compute_open_alert_count(self):
        counts = dict(
            self.env["gumroad.alert"]._read_group(
                [("account_id", "in", self.ids), ("state", "=", "open")],
                ["account_id"],
                ["__count"],
            )
        )
        for account in self:
            account.open_alert_count = counts.get(account, 0)

    # === BUSINESS METHODS === #

    def _current_problems(self):
        """kind -> (count, model, domain, title, message) of what is wrong now."""
        self.ensure_one()
        problems = {}
        if self.state == "error" or self.missing_scopes:
            problems["token"] = (
                1,
                "gumroad.account",
                [("id", "=", self.id)],
                self.env._("Gumroad refuses the connector's token"),
                self.last_error
                or self.env._(
                    "The token lacks scopes: %(scopes)s", scopes=self.missing_scopes
                ),
            )
        since = self.last_sync_at or self.create_date
        if (
            self.state == "connected"
            and self.sync_enabled
            and since
            and since < fields.Datetime.now() - UNREACHABLE_AFTER
        ):
            problems["unreachable"] = (
                1,
                "gumroad.import",
                [("account_id", "=", self.id)],
                self.env._("No sync with Gumroad for more than a day"),
                self.env._(
                    "The last complete sync was on %(date)s.",
                    date=fields.Datetime.to_string(since),
                ),
            )
        last_run = self.env["gumroad.import"].search(
            [
                ("account_id", "=", self.id),
                ("parent_id", "=", False),
                ("state", "in", ("done", "failed")),
            ],
            order="id desc",
            limit=1,
        )
        if last_run.state == "failed":
            problems["import_failed"] = (
                1,
                "gumroad.import",
                [("id", "=", last_run.id)],
                self.env._("The last import failed"),
                last_run.error_message or "",
            )
        for kind, model, title in (
            ("sales_error", "gumroad.sale", self.env._("Sales in error")),
            ("pings_error", "gumroad.webhook.event", self.env._("Pings in error")),
        ):
            domain = [("account_id", "=", self.id), ("state", "=", "error")]
            count = self.env[model].search_count(domain)
            if count:
                problems[kind] = (
                    count,
                    model,
                    domain,
                    title,
                    self.env._("%(count)s to look at and retry.", count=count),
                )
        if self.summary_error:
            pending = [("account_id", "=", self.id), ("summary_pending", "=", True)]
            problems["summary_failed"] = (
                self.env["gumroad.sale"].search_count(pending),
                "gumroad.sale",
                pending,
                self.env._("Daily summaries not booked"),
                self.summary_error,
            )
        payouts = self._payouts_with_differences()
        if payouts:
            problems["payout_mismatch"] = (
                len(payouts),
                "gumroad.payout",
                [("id", "in", payouts.ids)],
                self.env._("Payouts that do not match"),
                self.env._(
                    "%(count)s payouts differ from their transactions or have no bank "
                    "statement line.",
                    count=len(payouts),
                ),
            )
        return problems

    def _payouts_with_differences(self):
        """Payouts whose transactions Odoo cannot match, or that no bank line paid
        although the bank statements go past the days the money takes to arrive.
        """
        self.ensure_one()
        unmatched = (
            self.env["gumroad.payout.line"]
            .search(
                [
                    ("payout_id.account_id", "=", self.id),
                    ("state", "in", ("not_booked", "amount")),
                ]
            )
            .payout_id
        )
        bank = self._payout_bank_journal()
        last_bank_day = (
            bank
            and self.env["account.bank.statement.line"]
            .search([("journal_id", "=", bank.id)], order="date desc", limit=1)
            .date
        )
        if last_bank_day:
            late = last_bank_day - timedelta(days=const.PAYOUT_MATCH_DAYS_AFTER)
            unmatched |= self.env["gumroad.payout"].search(
                [
                    ("account_id", "=", self.id),
                    ("state", "=", "booked"),
                    ("move_id", "!=", False),
                    # Nothing reaches the bank for a payout of nothing.
                    ("amount", "!=", 0),
                    ("payout_date", "<", late),
                ]
            )
        return unmatched

    def _refresh_alerts(self):
        """Open an alert per new problem, update lasting ones, close solved ones.

        Each connector in a savepoint of its own: when another worker refreshes the
        same alerts at the same time, this refresh gives way (theirs is as good)
        instead of failing the import, sync or ping run that called it.
        """
        self.env.flush_all()
        for account in self:
            try:
                with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                    account._refresh_own_alerts()
            except RACE_ERRORS as err:
                _logger.info(
                    "Alerts of connector %s refreshed concurrently (%s): left to the "
                    "other worker",
                    account.id,
                    type(err).__name__,
                )

    def _refresh_own_alerts(self):
        self.ensure_one()
        Alert = self.env["gumroad.alert"].sudo()
        problems = self._current_problems()
        open_alerts = {
            alert.kind: alert
            for alert in Alert.search(
                [("account_id", "=", self.id), ("state", "=", "open")]
            )
        }
        plan = plan_alerts(
            {kind: problem[0] for kind, problem in problems.items()}, open_alerts
        )
        for kind in plan.open:
            self._open_alert(kind, *problems[kind])
        for kind in plan.update:
            count, _model, domain, title, message = problems[kind]
            alert = open_alerts[kind]
            vals = {
                "record_count": count,
                # As the Json field reads it back: lists, not tuples.
                "res_domain": json.loads(json.dumps(domain)),
                "name": title,
                "message": message,
            }
            # Write only what changed: an unchanged alert is never a row another
            # worker has to wait for.
            changed = {
                name: value for name, value in vals.items() if alert[name] != value
            }
            if changed:
                alert.write(changed)
        for kind in plan.close:
            self._close_alert(open_alerts[kind])

    def _open_alert(self, kind, count, model, domain, title, message):
        self.ensure_one()
        alert = (
            self.env["gumroad.alert"]
            .sudo()
            .create(
                {
                    "account_id": self.id,
                    "kind": kind,
                    "name": title,
                    "message": message,
                    "record_count": count,
                    "res_model": model,
                    "res_domain": domain,
                }
            )
        )
        url = f"{self.get_base_url()}/odoo/gumroad.alert/{alert.id}"
        link = Markup('<a href="%s">%s</a>') % (url, self.env._("Open the alert"))
        user = self.responsible_user_id or self.create_uid
        activity = self.sudo().activity_schedule(
            "gumroad_connector.mail_activity_type_gumroad_alert",
            summary=title,
            note=Markup("<p>%s</p><p>%s</p>") % (message, link),
            user_id=user.id,
        )
        alert.activity_id = activity
        self.sudo().message_post(
            body=Markup("<p><b>%s</b></p><p>%s</p><p>%s</p>") % (title, message, link),
            subtype_xmlid="gumroad_connector.mt_gumroad_alert",
        )
        return alert

    def _close_alert(self, alert):
        self.ensure_one()
        alert.write({"state": "closed", "closed_at": fields.Datetime.now()})
        feedback = self.env._("Solved: %(title)s", title=alert.name)
        if alert.activity_id:
            alert.activity_id.sudo().action_feedback(feedback=feedback)
        else:
            self.sudo().message_post(body=feedback)

    @api.model
    def _refresh_all_alerts(self):
        self.search([("state", "!=", "not_connected")])._refresh_alerts()

    # === ACTION METHODS === #

    def action_open_alerts(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Alerts of %(name)s", name=self.name),
            "res_model": "gumroad.alert",
            "view_mode": "list,form",
            "domain": [("account_id", "=", self.id)],
            "context": {"search_default_open": 1},
        }
