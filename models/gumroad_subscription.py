from decimal import Decimal

from odoo import api, fields, models

from ..gumroad.memberships import (
    ACTIVE_STATUSES,
    RECURRENCE_MONTHS,
    monthly_amount,
    recurring_price_cents,
)


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
    gumroad_user_id = fields.Char(string="Gumroad user id", readonly=True)
    user_email = fields.Char(
        readonly=True, help="The email of the buyer's Gumroad account, if any."
    )
    recurrence = fields.Char(readonly=True)
    status = fields.Selection(
        [
            ("alive", "Alive"),
            ("pending_cancellation", "Pending cancellation"),
            ("pending_failure", "Pending failure"),
            ("failed_payment", "Failed payment"),
            ("fixed_subscription_period_ended", "Fixed period ended"),
            ("cancelled", "Cancelled"),
        ],
        default="alive",
        readonly=True,
        help="The status as Gumroad gives it.",
    )
    is_active = fields.Boolean(
        compute="_compute_is_active",
        store=True,
        help="Gumroad counts it active: alive, or cancelled for a date still ahead.",
    )
    created_at = fields.Datetime(string="Started at", readonly=True)
    user_requested_cancellation_at = fields.Datetime(
        string="Cancellation requested at", readonly=True
    )
    failed_at = fields.Datetime(readonly=True)
    free_trial_ends_at = fields.Datetime(readonly=True)
    churned_at = fields.Datetime(
        compute="_compute_churned_at",
        store=True,
        help="When an inactive subscription stopped: ended, failed or cancelled.",
    )
    charge_occurrence_count = fields.Integer(
        string="Charges planned",
        readonly=True,
        help="The number of charges of a fixed-length membership (empty: no end).",
    )
    license_key = fields.Char(string="Licence key", readonly=True)
    sale_ids = fields.One2many("gumroad.sale", "subscription_id", string="Charges")
    sale_count = fields.Integer(compute="_compute_sale_count", string="Charges count")
    currency_id = fields.Many2one(
        "res.currency", default=lambda self: self.env.ref("base.USD"), readonly=True
    )
    recurring_usd = fields.Monetary(
        string="Recurring price (USD)",
        compute="_compute_recurring",
        store=True,
        help="The USD price of the latest charge.",
    )
    mrr_usd = fields.Monetary(
        string="MRR (USD)",
        compute="_compute_recurring",
        store=True,
        help="The recurring price per month (a yearly price divided by 12, rounded "
        "half up to the cent); counted in the MRR while the subscription is active.",
    )
    last_charge_gumroad_id = fields.Char(
        string="Latest charge id",
        readonly=True,
        help="The latest charge, read from Gumroad when it is not among the imported "
        "sales.",
    )
    last_charge_usd = fields.Monetary(string="Latest charge (USD)", readonly=True)
    last_charge_at = fields.Datetime(string="Latest charge at", readonly=True)
    synced_at = fields.Datetime(string="Imported at", readonly=True)
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

    @api.depends("status")
    def _compute_is_active(self):
        for subscription in self:
            subscription.is_active = subscription.status in ACTIVE_STATUSES

    @api.depends("is_active", "ended_at", "failed_at", "cancelled_at")
    def _compute_churned_at(self):
        for subscription in self:
            subscription.churned_at = not subscription.is_active and (
                subscription.ended_at
                or subscription.failed_at
                or subscription.cancelled_at
            )

    def _compute_sale_count(self):
        for subscription in self:
            subscription.sale_count = len(subscription.sale_ids)

    @api.depends(
        "recurrence",
        "sale_ids.price_usd",
        "sale_ids.sale_datetime",
        "last_charge_gumroad_id",
        "last_charge_usd",
        "last_charge_at",
    )
    def _compute_recurring(self):
        def cents(amount):
            return int((Decimal(str(amount or 0)) * 100).to_integral_value())

        for subscription in self:
            charges = [
                {
                    "price": cents(sale.price_usd),
                    "created_at": fields.Datetime.to_string(sale.sale_datetime),
                }
                for sale in subscription.sale_ids
            ]
            if subscription.last_charge_gumroad_id and (
                subscription.last_charge_gumroad_id
                not in subscription.sale_ids.mapped("gumroad_id")
            ):
                charges.append(
                    {
                        "price": cents(subscription.last_charge_usd),
                        "created_at": fields.Datetime.to_string(
                            subscription.last_charge_at
                        ),
                    }
                )
            cents_total = recurring_price_cents(charges)
            subscription.recurring_usd = cents_total / 100
            subscription.mrr_usd = (
                float(monthly_amount(cents_total, subscription.recurrence))
                if subscription.recurrence in RECURRENCE_MONTHS
                else 0.0
            )

    @api.model_create_multi
    def create(self, vals_list):
        subscriptions = super().create(vals_list)
        subscriptions._link_sales()
        return subscriptions

    def _link_sales(self, purchase_ids=None):
        """Link the connector's sales of these subscriptions (by the sale's
        subscription id, or the subscriber's purchase ids).
        """
        for subscription in self:
            domain = [
                ("account_id", "=", subscription.account_id.id),
                ("subscription_gumroad_id", "=", subscription.gumroad_id),
            ]
            if purchase_ids:
                domain = [
                    ("account_id", "=", subscription.account_id.id),
                    "|",
                    ("subscription_gumroad_id", "=", subscription.gumroad_id),
                    ("gumroad_id", "in", list(purchase_ids)),
                ]
            sales = self.env["gumroad.sale"].search(
                [*domain, ("subscription_id", "!=", subscription.id)]
            )
            if sales:
                sales.write({"subscription_id": subscription.id})

    def action_open_sales(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._(
                "Charges of %(subscription)s", subscription=self.gumroad_id
            ),
            "res_model": "gumroad.sale",
            "view_mode": "list,form",
            "domain": [("subscription_id", "=", self.id)],
        }

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
        if self._datetime(data.get("created_at")):
            vals["created_at"] = self._datetime(data.get("created_at"))
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
            cancelled_at = self._datetime(data.get("cancelled_at"))
            ahead = bool(cancelled_at) and cancelled_at > fields.Datetime.now()
            if data.get("cancelled_due_to_payment_failures"):
                vals.update(
                    status="pending_failure" if ahead else "failed_payment",
                    failed_at=cancelled_at,
                )
            else:
                vals["status"] = "pending_cancellation" if ahead else "cancelled"
            vals.update(cancelled_at=cancelled_at, cancelled_by=by)
        elif ping.resource_name == "subscription_ended":
            reason = data.get("ended_reason")
            vals.update(
                status=reason
                if reason in ("failed_payment", "fixed_subscription_period_ended")
                else "cancelled",
                ended_at=self._datetime(data.get("ended_at")),
                ended_reason=data.get("ended_reason"),
            )
        elif ping.resource_name == "subscription_restarted":
            vals.update(
                status="alive",
                restarted_at=self._datetime(data.get("restarted_at")),
                cancelled_at=False,
                user_requested_cancellation_at=False,
                ended_at=False,
                failed_at=False,
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

    @api.model
    def _import_subscribers(self, account, subscribers, charges=None):
        """Create or update the connector's subscriptions from parsed subscribers
        (gumroad.memberships.Subscriber) and the latest charges read for them
        ({subscriber id: vals}); unchanged rows are not written.

        :return: dict of counts: created, updated, unchanged
        """
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        if not subscribers:
            return counts
        existing = {
            s.gumroad_id: s
            for s in self.search(
                [
                    ("account_id", "=", account.id),
                    ("gumroad_id", "in", [sub.id for sub in subscribers]),
                ]
            )
        }
        templates = {
            t.gumroad_product_id: t
            for t in self.env["product.template"]
            .with_context(active_test=False)
            .search(
                [
                    ("gumroad_account_id", "=", account.id),
                    ("gumroad_product_id", "in", [s.product_id for s in subscribers]),
                ]
            )
        }
        now = fields.Datetime.now()
        for sub in subscribers:
            vals = {
                **self._subscriber_vals(sub, templates.get(sub.product_id)),
                **(charges or {}).get(sub.id, {}),
            }
            subscription = existing.get(sub.id)
            if subscription:
                changed = subscription._changed_vals(vals)
                if changed:
                    subscription.write({**changed, "synced_at": now})
                    counts["updated"] += 1
                else:
                    counts["unchanged"] += 1
            else:
                subscription = self.create(
                    {
                        **vals,
                        "account_id": account.id,
                        "gumroad_id": sub.id,
                        "synced_at": now,
                    }
                )
                counts["created"] += 1
            subscription._link_sales(sub.purchase_ids)
        return counts

    @api.model
    def _subscriber_vals(self, sub, template):
        def naive(moment):
            return moment.replace(tzinfo=None) if moment else False

        return {
            "gumroad_product_id": sub.product_id,
            "product_name": sub.product_name or False,
            "product_tmpl_id": template.id if template else False,
            "email": sub.email or False,
            "gumroad_user_id": sub.user_id or False,
            "user_email": sub.user_email or False,
            "recurrence": sub.recurrence,
            "status": sub.status,
            "created_at": naive(sub.created_at),
            "user_requested_cancellation_at": naive(sub.user_requested_cancellation_at),
            "cancelled_at": naive(sub.cancelled_at),
            "ended_at": naive(sub.ended_at),
            "failed_at": naive(sub.failed_at),
            "free_trial_ends_at": naive(sub.free_trial_ends_at),
            "charge_occurrence_count": sub.charge_occurrence_count or 0,
            "license_key": sub.license_key or False,
        }

    def _changed_vals(self, vals):
        self.ensure_one()
        changed = {}
        for name, value in vals.items():
            current = self[name]
            if isinstance(current, models.BaseModel):
                current = current.id
            if (current or False) != (value or False):
                changed[name] = value
        return changed
