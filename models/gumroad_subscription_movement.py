from odoo import fields, models, tools
from odoo.tools import SQL


class GumroadSubscriptionMovement(models.Model):
    """Membership movements per month: new, churned and reactivated subscriptions
    and the MRR they add or take away (a SQL view over gumroad.subscription).
    """

    _name = "gumroad.subscription.movement"
    _description = "Gumroad Membership Movement"
    _auto = False
    _order = "month desc, product_tmpl_id, kind"

    month = fields.Date(readonly=True)
    account_id = fields.Many2one("gumroad.account", string="Connector", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    product_tmpl_id = fields.Many2one(
        "product.template", string="Product", readonly=True
    )
    gumroad_product_id = fields.Char(readonly=True)
    kind = fields.Selection(
        [("new", "New"), ("churned", "Churned"), ("reactivated", "Reactivated")],
        readonly=True,
    )
    subscription_count = fields.Integer(string="Subscriptions", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    mrr_change = fields.Monetary(string="MRR change (USD)", readonly=True)

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        parts = [
            SQL(
                """
                SELECT s.account_id, s.company_id, s.product_tmpl_id,
                       s.gumroad_product_id, s.currency_id, %(kind)s AS kind,
                       date_trunc('month', s.%(moment)s)::date AS month,
                       COUNT(*) AS subscription_count,
                       %(sign)s * SUM(COALESCE(s.mrr_usd, 0)) AS mrr_change
                  FROM gumroad_subscription s
                 WHERE s.%(moment)s IS NOT NULL
              GROUP BY s.account_id, s.company_id, s.product_tmpl_id,
                       s.gumroad_product_id, s.currency_id,
                       date_trunc('month', s.%(moment)s)
                """,
                kind=kind,
                moment=SQL.identifier(moment),
                sign=sign,
            )
            for kind, moment, sign in (
                ("new", "created_at", 1),
                ("churned", "churned_at", -1),
                ("reactivated", "restarted_at", 1),
            )
        ]
        self.env.cr.execute(
            SQL(
                "CREATE OR REPLACE VIEW %s AS (SELECT row_number() OVER () AS id, m.* "
                "FROM (%s) m)",
                SQL.identifier(self._table),
                SQL(" UNION ALL ").join(parts),
            )
        )
