from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .common import FORM, GumroadWebhookCommon


@tagged("post_install", "-at_install")
class TestWebhookHealth(GumroadWebhookCommon):
    """What Gumroad pings the connector for, the last ping per resource, lost pings."""

    def setUp(self):
        super().setUp()
        self.account.state = "connected"
        # The sandbox is shared by the class: start each test with no subscription.
        for sub in self.sandbox.store.alive_resource_subscriptions():
            sub.deleted = True

    def enable(self):
        self.account.with_context(
            gumroad_allow_local_webhooks=True
        ).action_enable_realtime_sync()

    def our_subscriptions(self, resource):
        url = self.account.webhook_url
        return [
            s
            for s in self.sandbox.store.alive_resource_subscriptions(resource)
            if s.post_url == url
        ]

    def test_a_deleted_subscription_shows_missing_and_repair_restores_it(self):
        self.enable()
        self.assertTrue(self.account.webhook_registered_at)
        self.account.action_check_webhooks()
        self.assertFalse(self.account.webhook_missing_resources)
        (refund,) = self.our_subscriptions("refund")
        self.sandbox.store.delete_resource_subscription(self.sandbox.token, refund.id)

        action = self.account.action_check_webhooks()
        self.assertEqual(action["params"]["type"], "warning")
        self.assertEqual(self.account.webhook_missing_resources, "refund")
        self.assertIn(
            "<tr><td>refund</td><td>never</td><td>missing</td></tr>",
            str(self.account.webhook_health_html),
        )

        self.account.with_context(
            gumroad_allow_local_webhooks=True
        ).action_repair_webhooks()
        self.assertFalse(self.account.webhook_missing_resources)
        self.assertEqual(len(self.our_subscriptions("refund")), 1)
        self.assertEqual(len(self.our_subscriptions("sale")), 1)
        self.assertIn("Subscribed again: refund.", self.account.message_ids[0].body)

    def test_the_last_ping_received_per_resource(self):
        sale = self.sandbox_sale(self.untouched)
        response = self.url_open(
            self.url,
            data=self.sandbox.ping_body("sale", sale_id=sale["id"]),
            headers=FORM,
        )
        self.assertEqual(response.status_code, 200)
        event = self.events.search([("account_id", "=", self.account.id)])
        received = fields.Datetime.to_string(
            fields.Datetime.context_timestamp(self.account, event.received_at)
        )
        html = str(self.account.webhook_health_html)
        self.assertIn(f"<tr><td>sale</td><td>{received}</td>", html)
        self.assertIn(
            "<tr><td>refund</td><td>never</td><td>not checked</td></tr>", html
        )

    def test_sales_the_sync_found_without_a_ping_raise_one_message(self):
        now = fields.Datetime.now()
        self.account.sudo().webhook_registered_at = now - timedelta(days=3)
        product = self.plain_usd_product()["id"]
        pinged = self.sandbox.add_sale(
            product_id=product, created_at=now - timedelta(hours=5)
        )
        for hours in (6, 7):
            self.sandbox.add_sale(
                product_id=product, created_at=now - timedelta(hours=hours)
            )
        # Too recent to count: its ping may still be on its way.
        self.sandbox.add_sale(
            product_id=product, created_at=now - timedelta(minutes=10)
        )
        self.url_open(
            self.url,
            data=self.sandbox.ping_body("sale", sale_id=pinged["id"]),
            headers=FORM,
        )
        self.import_all()

        with self.cron_progress():
            self.env["gumroad.account"]._cron_check_webhook_health()
        self.assertEqual(self.account.webhook_lost_ping_count, 2)
        lost = self.account.message_ids.filtered(
            lambda m: "arrived without a ping" in (m.body or "")
        )
        self.assertEqual(len(lost), 1)
        self.assertIn("2 sales of the last two days", lost.body)

        with self.cron_progress():
            self.env["gumroad.account"]._cron_check_webhook_health()
        self.assertEqual(
            len(
                self.account.message_ids.filtered(
                    lambda m: "arrived without a ping" in (m.body or "")
                )
            ),
            1,
        )
