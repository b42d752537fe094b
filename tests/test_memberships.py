from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from odoo.tests import tagged

from .common import GumroadCommon

MONTHS = {
    "monthly": 1,
    "quarterly": 3,
    "biannually": 6,
    "yearly": 12,
    "every_two_years": 24,
}


@tagged("post_install", "-at_install")
class TestMemberships(GumroadCommon):
    sandbox_sales = 60

    def setUp(self):
        super().setUp()
        self.membership = next(
            p for p in self.sandbox.products if p["is_tiered_membership"]
        )

    def sandbox_mrr(self):
        """The sandbox's own MRR: each active subscription's current plan price
        (USD product) per month, rounded half up to the cent, summed.
        """
        store = self.sandbox.store
        now = store.now()
        total = Decimal("0.00")
        count = 0
        for sub in store.subscriptions.values():
            if not sub.is_active(now):
                continue
            count += 1
            total += (
                Decimal(sub.price_cents()) / 100 / MONTHS[sub.recurrence]
            ).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        return total, count

    def import_memberships(self):
        self.import_all()
        return self.account._import_subscribers()

    def connector_mrr(self):
        self.account.invalidate_recordset()
        return Decimal(str(self.account.dashboard_mrr)).quantize(Decimal("0.01"))

    def test_mrr_and_active_subscribers_equal_the_sandbox(self):
        yearly = self.sandbox.add_sale(
            product_id=self.membership["id"], variant="Pro", recurrence="yearly"
        )
        renewed_id = next(
            s["subscription_id"]
            for s in self.sandbox.sales
            if s.get("subscription_id")
            and s["product_id"] == self.membership["id"]
            and s["id"] != yearly["id"]
        )
        renewal = self.sandbox.add_sale(subscription_id=renewed_id)
        counts = self.import_memberships()
        self.assertGreater(counts["created"], 1)

        expected_mrr, expected_count = self.sandbox_mrr()
        self.assertGreater(expected_mrr, 0)
        self.assertEqual(self.connector_mrr(), expected_mrr)
        self.assertEqual(self.account.dashboard_active_subscribers, expected_count)

        pro = self.env["gumroad.subscription"].search(
            [("gumroad_id", "=", yearly["subscription_id"])]
        )
        self.assertEqual(pro.recurring_usd, yearly["price"] / 100)
        self.assertAlmostEqual(
            pro.mrr_usd,
            float(
                (Decimal(yearly["price"]) / 1200).quantize(
                    Decimal("0.01"), rounding=ROUND_HALF_UP
                )
            ),
        )
        self.assertEqual(pro.status, "alive")
        self.assertEqual(pro.product_tmpl_id.gumroad_product_id, self.membership["id"])

        # Every charge of a subscription, first or renewal, is linked to it.
        charges = [s for s in self.sandbox.sales if s.get("subscription_id")]
        self.assertIn(renewal["id"], [s["id"] for s in charges])
        for sale in charges:
            record = self.record(sale["id"])
            self.assertEqual(
                record.subscription_id.gumroad_id, sale["subscription_id"], sale["id"]
            )
        renewed = self.record(renewal["id"]).subscription_id
        self.assertGreaterEqual(len(renewed.sale_ids), 2)

        # Re-importing creates nothing twice and changes nothing.
        subscriptions = self.env["gumroad.subscription"].search_count(
            [("account_id", "=", self.account.id)]
        )
        again = self.import_memberships()
        self.assertEqual(again["created"], 0)
        self.assertEqual(again["updated"], 0)
        self.assertEqual(
            self.env["gumroad.subscription"].search_count(
                [("account_id", "=", self.account.id)]
            ),
            subscriptions,
        )
        self.assertEqual(self.connector_mrr(), expected_mrr)

        # A later charge joins its subscription at its own import (the sale hook).
        later = self.sandbox.add_sale(subscription_id=renewed_id)
        self.import_all()
        self.assertEqual(self.record(later["id"]).subscription_id, renewed)

    def test_a_cancellation_moves_mrr_and_shows_as_churned_in_its_month(self):
        self.import_memberships()
        subscription = self.env["gumroad.subscription"].search(
            [
                ("account_id", "=", self.account.id),
                ("is_active", "=", True),
                ("mrr_usd", ">", 0),
            ],
            limit=1,
        )
        self.assertTrue(subscription)
        mrr_before = self.connector_mrr()
        monthly = Decimal(str(subscription.mrr_usd)).quantize(Decimal("0.01"))
        Movement = self.env["gumroad.subscription.movement"]

        def churned(month):
            rows = Movement.search(
                [
                    ("account_id", "=", self.account.id),
                    ("kind", "=", "churned"),
                    ("month", "=", month),
                ]
            )
            return sum(rows.mapped("subscription_count")), Decimal(
                str(round(sum(rows.mapped("mrr_change")), 2))
            ).quantize(Decimal("0.01"))

        subscriber = self.sandbox.cancel_subscription(
            subscription.gumroad_id, by="seller", immediately=True
        )
        ended = datetime.fromisoformat(subscriber["ended_at"].replace("Z", ""))
        month = ended.date().replace(day=1)
        count_before, churn_before = churned(month)

        # Gumroad no longer lists it: the import asks for it by id.
        self.account.action_import_subscribers()
        self.assertEqual(subscription.status, "cancelled")
        self.assertFalse(subscription.is_active)
        self.assertEqual(subscription.churned_at.date(), ended.date())
        self.assertEqual(self.connector_mrr(), mrr_before - monthly)
        expected_mrr, expected_count = self.sandbox_mrr()
        self.assertEqual(self.connector_mrr(), expected_mrr)
        self.assertEqual(self.account.dashboard_active_subscribers, expected_count)

        Movement.invalidate_model()
        count_after, churn_after = churned(month)
        self.assertEqual(count_after, count_before + 1)
        self.assertEqual(churn_after, churn_before - monthly)
        new_rows = Movement.search(
            [("account_id", "=", self.account.id), ("kind", "=", "new")]
        )
        self.assertEqual(
            sum(new_rows.mapped("subscription_count")),
            self.env["gumroad.subscription"].search_count(
                [("account_id", "=", self.account.id)]
            ),
        )

    def test_the_scheduled_sync_imports_the_subscribers_after_the_sales(self):
        self.account.state = "connected"
        with self.cron_progress():
            self.env["gumroad.account"]._cron_sync_sales()
        expected_mrr, expected_count = self.sandbox_mrr()
        self.assertTrue(self.account.sale_ids)
        self.assertEqual(self.account.dashboard_active_subscribers, expected_count)
        self.assertEqual(self.connector_mrr(), expected_mrr)
        action = self.account.action_open_membership_movements()
        self.assertEqual(action["res_model"], "gumroad.subscription.movement")
        self.assertTrue(self.env[action["res_model"]].search(action["domain"]))
