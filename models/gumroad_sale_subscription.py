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
        # A caller that names the subscription has already looked it up.
        if vals.get("subscription_gumroad_id") and "subscription_id" not in vals:
            self._link_subscription()
        return result

    def _write_rows(self, row_vals):
        # The rows of a batch are written one by one where their values differ:
        # their subscriptions are looked up once for the batch, not once per write.
        charges = {
            row: vals["subscription_gumroad_id"]
            for row, vals in row_vals.items()
            if vals.get("subscription_gumroad_id")
        }
        known = self._subscriptions_by_key(
            {(row.account_id.id, gumroad_id) for row, gumroad_id in charges.items()}
        )
        for row, gumroad_id in charges.items():
            subscription = known.get((row.account_id.id, gumroad_id))
            # Unknown yet: the link waits for the subscription (_link_sales).
            row_vals[row]["subscription_id"] = (
                subscription.id if subscription else row.subscription_id.id
            )
        return super()._write_rows(row_vals)

    def _link_subscription(self):
        """Later charges join the subscription the connector already knows."""
        unlinked = self.filtered(
            lambda sale: sale.subscription_id.gumroad_id != sale.subscription_gumroad_id
        )
        known = self._subscriptions_by_key(
            {(sale.account_id.id, sale.subscription_gumroad_id) for sale in unlinked}
        )
        for sale in unlinked:
            subscription = known.get((sale.account_id.id, sale.subscription_gumroad_id))
            if subscription:
                sale.subscription_id = subscription

    @api.model
    def _subscriptions_by_key(self, keys):
        """{(connector id, Gumroad subscription id): subscription} of keys, in one
        search."""
        if not keys:
            return {}
        subscriptions = self.env["gumroad.subscription"].search(
            [
                ("account_id", "in", list({account_id for account_id, _g in keys})),
                ("gumroad_id", "in", list({gumroad_id for _a, gumroad_id in keys})),
            ]
        )
        return {
            (subscription.account_id.id, subscription.gumroad_id): subscription
            for subscription in subscriptions
        }
