from odoo import fields, models

from ..gumroad.alerts import KINDS

ALERT_KINDS = [
    ("token", "Token refused or missing scopes"),
    ("unreachable", "Gumroad unreachable"),
    ("import_failed", "Import failed"),
    ("sales_error", "Sales in error"),
    ("pings_error", "Pings in error"),
    ("payout_mismatch", "Payout differences"),
    ("summary_failed", "Daily summaries not booked"),
]
assert [kind for kind, _label in ALERT_KINDS] == list(KINDS)


class GumroadAlert(models.Model):
    """A problem of a connector that needs a person: raised once (an activity for the
    connector's responsible user, a notifying message for its followers), kept while
    the problem lasts, closed by the connector when it is gone.
    """

    _name = "gumroad.alert"
    _description = "Gumroad Alert"
    _order = "state desc, opened_at desc, id desc"

    account_id = fields.Many2one(
        "gumroad.account",
        string="Connector",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    company_id = fields.Many2one(
        related="account_id.company_id", store=True, index=True
    )
    kind = fields.Selection(ALERT_KINDS, required=True, readonly=True)
    state = fields.Selection(
        [("open", "Open"), ("closed", "Closed")],
        default="open",
        required=True,
        readonly=True,
        index=True,
    )
    name = fields.Char(string="Alert", readonly=True)
    message = fields.Text(readonly=True)
    record_count = fields.Integer(string="Records", readonly=True)
    res_model = fields.Char(string="Records of", readonly=True)
    res_domain = fields.Json(readonly=True)
    activity_id = fields.Many2one("mail.activity", readonly=True, ondelete="set null")
    opened_at = fields.Datetime(readonly=True, default=fields.Datetime.now)
    closed_at = fields.Datetime(readonly=True)

    _one_open_alert_per_kind = models.UniqueIndex(
        "(account_id, kind) WHERE state = 'open'",
        "A connector has one open alert per kind.",
    )

    def action_open_records(self):
        """The records the alert is about (the sales in error, the failed run...)."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.name,
            "res_model": self.res_model,
            "view_mode": "list,form",
            "views": [(False, "list"), (False, "form")],
            "domain": self.res_domain or [],
            "target": "current",
        }
