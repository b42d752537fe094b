from odoo import api, fields, models


class GumroadSale(models.Model):
    """The link of a sale to its membership subscription."""

    _inherit = "gumroad.sale"

    subscription_id = fields.Many2one(
        "gumroad.subscription",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
    )

    @api.model_create_multi
    def create(self, vals_list):
        sales = super().create(vals_list)
        sales.filtered("subscription_gumroad_id")._link_subscription()
        return sales

    def write(self, vals):
        result = super().write(vals)
        if vals.get("subscription_gumroad_id"):
            self._link_subscription()
        return result

    def _link_subscription(self):
        """Later charges join the subscription the connector already knows."""
        for sale in self:
            if (
                sale.subscription_id
                and sale.subscription_id.gumroad_id == sale.subscription_gumroad_id
            ):
                continue
            subscription = self.env["gumroad.subscription"].search(
                [
                    ("account_id", "=", sale.account_id.id),
                    ("gumroad_id", "=", sale.subscription_gumroad_id),
                ],
                limit=1,
            )
            if subscription:
                sale.subscription_id = subscription
