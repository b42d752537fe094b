import logging

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..gumroad import (
    GumroadError,
    MalformedPayloadError,
    MissingScopeError,
    parse_sale,
)
from ..gumroad.errors import NotFoundError
from ..gumroad.memberships import parse_subscriber

_logger = logging.getLogger(__name__)


class GumroadAccount(models.Model):
    """Memberships of a connector: its subscribers imported per membership product,
    and the active subscribers and MRR on its dashboard.
    """

    _inherit = "gumroad.account"

    subscription_ids = fields.One2many(
        "gumroad.subscription", "account_id", string="Subscriptions"
    )
    dashboard_active_subscribers = fields.Integer(
        string="Active subscribers", compute="_compute_dashboard_memberships"
    )
    dashboard_mrr = fields.Monetary(
        string="MRR (USD)",
        currency_field="usd_currency_id",
        compute="_compute_dashboard_memberships",
        help="Monthly recurring revenue: each active subscription's latest charge, "
        "divided by the months it pays for, rounded to the cent.",
    )

    @api.depends("subscription_ids.is_active", "subscription_ids.mrr_usd")
    def _compute_dashboard_memberships(self):
        groups = {
            account.id: (count, mrr)
            for account, count, mrr in self.env["gumroad.subscription"]._read_group(
                [("account_id", "in", self.ids), ("is_active", "=", True)],
                ["account_id"],
                ["__count", "mrr_usd:sum"],
            )
        }
        for account in self:
            count, mrr = groups.get(account.id, (0, 0.0))
            account.dashboard_active_subscribers = count
            account.dashboard_mrr = mrr

    def _membership_product_ids(self, client):
        """Gumroad ids of the connector's membership products: recurring products of
        Gumroad's list, and those its sales and subscriptions name.
        """
        self.ensure_one()
        ids = {
            product["id"]
            for product in client.iter_products()
            if product.get("is_tiered_membership")
            or product.get("subscription_duration")
        }
        sales = self.env["gumroad.sale"].search(
            [("account_id", "=", self.id), ("subscription_gumroad_id", "!=", False)]
        )
        ids.update(p for p in sales.mapped("gumroad_product_id") if p)
        ids.update(p for p in self.subscription_ids.mapped("gumroad_product_id") if p)
        return sorted(ids)

    def _import_subscribers(self):
        """Read every subscriber (paged) of each membership product, then the
        subscriptions known here that Gumroad no longer lists (it lists only active
        ones) one by one; create or update them and link their sales.

        :return: dict of counts: created, updated, unchanged
        """
        self.ensure_one()
        client = self._gumroad_client()
        subscribers = {}
        for product_id in self._membership_product_ids(client):
            for data in client.iter_subscribers(product_id):
                subscriber = parse_subscriber(data)
                subscribers[subscriber.id] = subscriber
        known = self.env["gumroad.subscription"].search([("account_id", "=", self.id)])
        unlisted = {
            s.gumroad_id
            for s in known
            if s.is_active and s.gumroad_id not in subscribers
        }
        # Charges of subscriptions that ended before the connector knew them.
        named = self.env["gumroad.sale"].search(
            [
                ("account_id", "=", self.id),
                ("subscription_gumroad_id", "!=", False),
                ("subscription_id", "=", False),
            ]
        )
        unlisted.update(
            set(named.mapped("subscription_gumroad_id"))
            - set(known.mapped("gumroad_id"))
            - set(subscribers)
        )
        for subscription_id in sorted(unlisted):
            try:
                data = client.get_subscriber(subscription_id)
            except NotFoundError:
                continue
            subscriber = parse_subscriber(data)
            subscribers[subscriber.id] = subscriber
        return self.env["gumroad.subscription"]._import_subscribers(
            self,
            list(subscribers.values()),
            self._latest_charges(client, subscribers.values(), known),
        )

    def _latest_charges(self, client, subscribers, known):
        """The latest charge of each subscription whose latest charge is not among
        the imported sales (it may be older than the sales imported so far): read by
        id once, so that the recurring price does not depend on the import window.
        Gumroad gives `purchase_ids` oldest first.
        """
        latest = {
            sub.id: sub.purchase_ids[-1] for sub in subscribers if sub.purchase_ids
        }
        imported = set(
            self.env["gumroad.sale"]
            .search(
                [
                    ("account_id", "=", self.id),
                    ("gumroad_id", "in", list(latest.values())),
                ]
            )
            .mapped("gumroad_id")
        )
        stored = {s.gumroad_id: s.last_charge_gumroad_id for s in known}
        charges = {}
        for subscription_id, sale_id in latest.items():
            if sale_id in imported or stored.get(subscription_id) == sale_id:
                continue
            try:
                sale = parse_sale(client.get_sale(sale_id))
            except NotFoundError:
                continue
            charges[subscription_id] = {
                "last_charge_gumroad_id": sale.id,
                "last_charge_usd": float(sale.price_usd),
                "last_charge_at": sale.created_at.replace(tzinfo=None),
            }
        return charges

    def action_import_subscribers(self):
        """Import the subscribers of every membership product now."""
        self.ensure_one()
        self._check_manager_access()
        try:
            counts = self._import_subscribers()
        except (GumroadError, MalformedPayloadError) as err:
            raise UserError(
                self.env._(
                    "Gumroad refused the subscriber import: %(reason)s",
                    reason=str(err),
                )
            ) from err
        message = self.env._(
            "Subscribers imported: %(created)s created, %(updated)s updated, "
            "%(unchanged)s unchanged.",
            **counts,
        )
        self.message_post(body=message)
        return self._notify(message, "success")

    def _cron_import_subscribers(self):
        """The scheduled sync's subscriber import; never raises."""
        for account in self:
            try:
                with self.env.cr.savepoint():
                    account._import_subscribers()
            except MissingScopeError:
                continue  # the token cannot read sales: shown on the connector
            except (GumroadError, MalformedPayloadError) as err:
                _logger.warning(
                    "Gumroad subscribers of connector %s: %s", account.id, err
                )
                account.message_post(
                    body=self.env._(
                        "Subscriber import failed: %(reason)s", reason=str(err)
                    )
                )

    def action_open_membership_movements(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "gumroad_connector.gumroad_subscription_movement_action"
        )
        action["domain"] = [("account_id", "=", self.id)]
        return action

    def action_open_subscriptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "gumroad_connector.gumroad_subscription_action"
        )
        action["domain"] = [("account_id", "=", self.id)]
        action["context"] = {"search_default_active_subs": 1}
        return action
