from odoo import api, fields, models


class GumroadSubscription(models.Model):
    _name = "gumroad.subscription"
    _description = "Gumroad Subscription"
    _order = "write_date desc, id desc"
    _rec_name = "gumroad_id"

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
    gumroad_id = fields.Char(string="Subscription id", required=True, readonly=True)
    gumroad_product_id = fields.Char(readonly=True)
    product_name = fields.Char(readonly=True)
    product_tmpl_id = fields.Many2one(
        "product.template", string="Product", readonly=True
    )
    email = fields.Char(readonly=True)
    recurrence = fields.Char(readonly=True)
    status = fields.Selection(
        [
            ("alive", "Active"),
            ("cancelled", "Cancelled"),
            ("ended", "Ended"),
            ("restarted", "Restarted"),
        ],
        default="alive",
        readonly=True,
    )
    cancelled_at = fields.Datetime(readonly=True)
    cancelled_by = fields.Char(readonly=True)
    ended_at = fields.Datetime(readonly=True)
    ended_reason = fields.Char(readonly=True)
    restarted_at = fields.Datetime(readonly=True)
    plan = fields.Char(string="Current plan", readonly=True)
    last_change = fields.Char(readonly=True)

    _gumroad_id_account_uniq = models.Constraint(
        "UNIQUE(account_id, gumroad_id)",
        "A Gumroad subscription is recorded once per connector.",
    )

    @staticmethod
    def _datetime(value):
        if not value or not isinstance(value, str):
            return False
        try:
            return fields.Datetime.to_datetime(
                value.replace("T", " ").replace("Z", "")[:19]
            )
        except ValueError:
            return False

    @api.model
    def _apply_ping(self, account, ping):
        """Update (or create) the subscription from a
        cancellation/updated/ended/restarted ping.
        """
        data = ping.data
        subscription = self.search(
            [
                ("account_id", "=", account.id),
                ("gumroad_id", "=", ping.subscription_id),
            ],
            limit=1,
        )
        template = (
            self.env["product.template"]
            .with_context(active_test=False)
            .search(
                [
                    ("gumroad_account_id", "=", account.id),
                    ("gumroad_product_id", "=", data.get("product_id")),
                ],
                limit=1,
            )
        )
        vals = {
            "gumroad_product_id": data.get("product_id"),
            "product_name": data.get("product_name"),
            "product_tmpl_id": template.id or False,
            "email": data.get("user_email"),
            "recurrence": data.get("recurrence"),
            "last_change": ping.resource_name,
        }
        if ping.resource_name == "cancellation":
            by = next(
                (
                    key[len("cancelled_by_") :]
                    for key in (
                        "cancelled_by_buyer",
                        "cancelled_by_seller",
                        "cancelled_by_admin",
                    )
                    if data.get(key) is True
                ),
                "payment failures"
                if data.get("cancelled_due_to_payment_failures")
                else False,
            )
            vals.update(
                status="cancelled",
                cancelled_at=self._datetime(data.get("cancelled_at")),
                cancelled_by=by,
            )
        elif ping.resource_name == "subscription_ended":
            vals.update(
                status="ended",
                ended_at=self._datetime(data.get("ended_at")),
                ended_reason=data.get("ended_reason"),
            )
        elif ping.resource_name == "subscription_restarted":
            vals.update(
                status="restarted",
                restarted_at=self._datetime(data.get("restarted_at")),
            )
        elif ping.resource_name == "subscription_updated":
            new_plan = data.get("new_plan") or {}
            tier = (new_plan.get("tier") or {}) if isinstance(new_plan, dict) else {}
            vals.update(
                plan=" / ".join(
                    str(v) for v in (tier.get("name"), new_plan.get("recurrence")) if v
                )
                or False,
            )
        if subscription:
            subscription.write(vals)
        else:
            subscription = self.create(
                {**vals, "account_id": account.id, "gumroad_id": ping.subscription_id}
            )
        return subscription
