import base64
from datetime import timedelta

from odoo import fields
from odoo.tests import tagged
from odoo.tools import mute_logger

from .. import const
from ..dev import reliability
from .common import FORM, GumroadWebhookCommon


@tagged("post_install", "-at_install")
class TestWebhook(GumroadWebhookCommon):
    def post(self, body, url=None, headers=None):
        headers = FORM if headers is None else headers
        return self.url_open(url or self.url, data=body, headers=headers)

    def paid_sale(self):
        return self.sandbox_sale(
            lambda s: self.untouched(s) and not s["is_gift_sender_purchase"]
        )

    def test_a_sale_ping_is_stored_answered_and_then_booked_from_the_api(self):
        sale = self.paid_sale()
        response = self.post(self.sandbox.ping_body("sale", sale_id=sale["id"]))
        self.assertEqual(response.status_code, 200)
        event = self.events.search([("account_id", "=", self.account.id)])
        self.assertEqual(len(event), 1)
        self.assertEqual(event.state, "pending")
        self.assertEqual(event.resource_name, "sale")
        self.assertEqual(event.sale_gumroad_id, sale["id"])
        self.process_events()
        self.assertEqual(event.state, "done")
        record = self.record(sale["id"])
        self.assertEqual(record.state, "invoiced")
        self.assertAlmostEqual(record.invoice_id.amount_total, sale["price"] / 100)

    def test_duplicate_sale_pings_book_once(self):
        sale = self.paid_sale()
        body = self.sandbox.ping_body("sale", sale_id=sale["id"])
        for _ in range(3):
            self.assertEqual(self.post(body).status_code, 200)
        self.process_events()
        self.assertEqual(self.events.search_count([("state", "=", "done")]), 3)
        self.assertEqual(len(self.record(sale["id"]).move_ids), 1)

    def test_pings_arriving_together_wake_the_cron_once_and_all_book(self):
        cron = self.env.ref("gumroad_connector.ir_cron_gumroad_process_events")
        wake_ups = self.env["ir.cron.trigger"]
        wake_ups.search([("cron_id", "=", cron.id)]).unlink()
        sales = [
            s
            for s in self.sandbox.sales
            if self.untouched(s) and not s["is_gift_sender_purchase"]
        ][:5]
        self.assertEqual(len(sales), 5)
        for sale in sales:
            body = self.sandbox.ping_body("sale", sale_id=sale["id"])
            self.assertEqual(self.post(body).status_code, 200)
        due = wake_ups.search(
            [("cron_id", "=", cron.id), ("call_at", "<=", fields.Datetime.now())]
        )
        self.assertEqual(len(due), 1)
        self.process_events()
        self.assertEqual(self.events.search_count([("state", "=", "done")]), 5)
        for sale in sales:
            self.assertEqual(self.record(sale["id"]).state, "invoiced")

    def test_identical_refund_pings_each_end_in_the_right_net(self):
        sale = self.paid_sale()
        self.env["gumroad.sale"]._sync_one(self.account, sale["id"])
        for _ in range(2):
            self.sandbox.refund(sale["id"], amount_cents=sale["price"] // 4)
            self.post(self.sandbox.ping_body("refund", sale_id=sale["id"]))
            self.process_events()
            record = self.record(sale["id"])
            self.assertEqual(
                self.booked_net(record),
                self.sandbox.sale_net_usd_cents(sale["id"]) / 100,
            )
        self.assertEqual(len(self.record(sale["id"]).credit_note_ids), 2)

    def test_wrong_secret_answers_404_and_writes_nothing(self):
        response = self.post(
            self.sandbox.ping_body("sale", sale_id=self.paid_sale()["id"]),
            url="/gumroad/webhook/not-the-secret",
        )
        self.assertEqual(response.status_code, 404)
        self.assertFalse(self.events.search([]))
        reliability.record(
            "webhook_wrong_secret",
            "a real sale ping to a webhook URL with a wrong secret",
            "404, nothing stored, nothing booked",
        )

    def test_an_old_or_archived_connectors_url_answers_404_at_once(self):
        # The route caches the connectors' secrets: a new secret, or an archived
        # connector, must count from the next ping on.
        body = self.sandbox.ping_body("sale", sale_id=self.paid_sale()["id"])
        self.assertEqual(self.post(body).status_code, 200)
        old_url = self.url
        self.account.action_regenerate_webhook_secret()
        new_url = f"/gumroad/webhook/{self.account.webhook_secret}"
        self.assertNotEqual(new_url, old_url)
        self.assertEqual(self.post(body, url=old_url).status_code, 404)
        self.assertEqual(self.post(body, url=new_url).status_code, 200)
        self.account.active = False
        self.assertEqual(self.post(body, url=new_url).status_code, 404)
        self.account.active = True
        self.assertEqual(self.post(body, url=new_url).status_code, 200)
        self.assertEqual(
            self.events.search_count([("account_id", "=", self.account.id)]), 3
        )

    def test_non_post_answers_405_and_big_bodies_413(self):
        self.assertEqual(self.url_open(self.url).status_code, 405)
        response = self.post(b"x=" + b"a" * (70 * 1024))
        self.assertEqual(response.status_code, 413)
        # Chunked, with no Content-Length to refuse it on.
        response = self.post(iter([b"x=", b"a" * (70 * 1024)]))
        self.assertEqual(response.status_code, 413)
        self.assertFalse(self.events.search([]))

    def test_a_ping_keeps_the_bytes_gumroad_sent(self):
        sale = self.paid_sale()
        body = self.sandbox.ping_body("sale", sale_id=sale["id"])
        # Encoded as a form may be but a re-encoding would not be: spaces as %20,
        # a lower-case escape, an escaped letter, a field repeated at the end.
        sent = body + b"&note=two%20words%2c%41&note=again"
        self.assertEqual(self.post(sent).status_code, 200)
        event = self.events.search([("account_id", "=", self.account.id)])
        self.assertEqual(base64.b64decode(event.raw_body), sent)
        self.assertEqual(event.sale_gumroad_id, sale["id"])
        self.process_events()
        self.assertEqual(event.state, "done")
        self.assertEqual(self.record(sale["id"]).state, "invoiced")

    def test_test_pings_are_recorded_not_booked(self):
        sale = self.paid_sale()
        self.post(self.sandbox.ping_body("sale", sale_id=sale["id"], test=True))
        self.process_events()
        event = self.events.search([])
        self.assertEqual(event.state, "ignored")
        self.assertTrue(event.is_test)
        self.assertFalse(self.record(sale["id"]))

    @mute_logger("odoo.addons.gumroad_connector.models.gumroad_webhook_event")
    def test_malformed_pings_are_kept_in_error_and_replay_after_a_fix(self):
        self.assertEqual(self.post(b"resource_name=sale&price=100").status_code, 200)
        self.assertEqual(
            self.post(b"resource_name=teleport&sale_id=x").status_code, 200
        )
        self.assertEqual(
            self.post(
                b"\xff\xfe\x00garbage",
                headers={"Content-Type": "application/octet-stream"},
            ).status_code,
            200,
        )
        events = self.events.search([])
        self.assertEqual(len(events), 3)
        self.assertEqual(set(events.mapped("state")), {"error"})
        self.assertTrue(all(events.mapped("last_error")))

    def test_forged_sale_ping_for_a_sale_not_in_the_account_books_nothing(self):
        body = self.sandbox.ping_body("sale", sale_id=self.paid_sale()["id"]).replace(
            b"sale_id=", b"sale_id=FORGED"
        )
        self.post(body)
        self.process_events()
        event = self.events.search([])
        self.assertEqual(event.state, "error")
        self.assertIn("not in this Gumroad account", event.last_error)
        self.assertFalse(
            self.env["gumroad.sale"].search([("account_id", "=", self.account.id)])
        )
        reliability.record(
            "webhook_forged_sale",
            "a sale ping for a sale id the Gumroad account does not have",
            "kept in error with the reason; nothing booked",
        )

    def test_a_ping_gumroad_cannot_answer_is_retried_later_and_then_books(self):
        sale = self.paid_sale()
        other = self.sandbox_sale(
            lambda s: (
                self.untouched(s)
                and not s["is_gift_sender_purchase"]
                and s["id"] != sale["id"]
            )
        )
        self.sandbox.faults.server_error_every = 1
        self.post(self.sandbox.ping_body("sale", sale_id=sale["id"]))
        with (
            self.no_sleep(),
            mute_logger("odoo.addons.gumroad_connector.gumroad.client"),
        ):
            self.process_events()
        event = self.events.search([])
        self.assertEqual(event.state, "pending", "a passing failure is retried")
        self.assertEqual(event.attempts, 1)
        self.assertIn("unavailable", event.last_error)
        self.assertGreater(event.next_attempt_at, fields.Datetime.now())
        # Not due yet: the cron leaves it, and books the pings that came after it.
        self.sandbox.faults.reset()
        self.post(self.sandbox.ping_body("sale", sale_id=other["id"]))
        self.process_events()
        self.assertEqual(event.attempts, 1)
        self.assertEqual(self.record(other["id"]).state, "invoiced")
        self.assertNotEqual(self.record(sale["id"]).state, "invoiced")
        event.next_attempt_at = fields.Datetime.now() - timedelta(seconds=1)
        self.process_events()
        self.assertEqual(event.state, "done")
        self.assertEqual(event.attempts, 2)
        self.assertFalse(event.last_error)
        self.assertEqual(self.record(sale["id"]).state, "invoiced")

    def test_a_ping_that_keeps_failing_ends_in_error_and_replays_after_the_fix(self):
        sale = self.paid_sale()
        self.sandbox.faults.server_error_every = 1
        self.post(self.sandbox.ping_body("sale", sale_id=sale["id"]))
        event = self.events.search([])
        with (
            self.no_sleep(),
            mute_logger("odoo.addons.gumroad_connector.gumroad.client"),
        ):
            for _attempt in range(const.PING_MAX_ATTEMPTS):
                self.assertEqual(event.state, "pending")
                event.next_attempt_at = False
                self.process_events()
        self.assertEqual(event.state, "error")
        self.assertEqual(event.attempts, const.PING_MAX_ATTEMPTS)
        self.assertIn(f"Failed {const.PING_MAX_ATTEMPTS} times", event.last_error)
        self.assertIn("unavailable", event.last_error)
        self.sandbox.faults.reset()
        event.action_replay()
        self.process_events()
        self.assertEqual(event.state, "done")
        self.assertEqual(self.record(sale["id"]).state, "invoiced")

    def test_subscription_pings_update_the_subscription(self):
        renewal = self.sandbox_sale(lambda s: s.get("subscription_id"))
        subscription_id = renewal["subscription_id"]
        self.sandbox.cancel_subscription(subscription_id)
        self.post(
            self.sandbox.ping_body("cancellation", subscription_id=subscription_id)
        )
        self.process_events()
        subscription = self.env["gumroad.subscription"].search(
            [("gumroad_id", "=", subscription_id)]
        )
        # Cancelled at the end of the paid period: Gumroad's "pending_cancellation".
        self.assertEqual(subscription.status, "pending_cancellation")
        self.assertTrue(subscription.is_active)
        self.assertEqual(subscription.cancelled_by, "buyer")
        self.assertTrue(subscription.cancelled_at)
        self.assertEqual(subscription.product_name, renewal["product_name"])
        self.sandbox.end_subscription(subscription_id)
        self.post(
            self.sandbox.ping_body(
                "subscription_ended", subscription_id=subscription_id
            )
        )
        self.process_events()
        self.assertEqual(subscription.status, "cancelled")
        self.assertFalse(subscription.is_active)
        self.assertTrue(subscription.ended_at)

    def test_registration_is_idempotent_against_the_sandbox(self):
        account = self.account.with_context(gumroad_allow_local_webhooks=True)
        account.action_enable_realtime_sync()
        account.action_enable_realtime_sync()
        client = account._gumroad_client()
        for resource in ("sale", "refund", "dispute", "dispute_won", "cancellation"):
            urls = [s["post_url"] for s in client.list_resource_subscriptions(resource)]
            self.assertEqual(urls.count(account.webhook_url), 1, resource)
        account.action_disconnect()
        self.assertFalse(self.account.has_token)

    def test_registration_refuses_localhost_with_a_clear_message(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "web.base.url", "http://localhost:8069"
        )
        with self.assertRaisesRegex(
            Exception, "refuses webhook addresses on localhost"
        ):
            self.account.action_enable_realtime_sync()

    def test_every_ping_kind_through_the_route_books_right(self):
        sale = self.paid_sale()
        self.post(self.sandbox.ping_body("sale", sale_id=sale["id"]))
        self.process_events()
        record = self.record(sale["id"])
        self.assertEqual(record.state, "invoiced")

        self.sandbox.dispute(sale["id"])
        self.post(self.sandbox.ping_body("dispute", sale_id=sale["id"]))
        self.process_events()
        self.assertEqual(record.dispute_state, "open")
        self.assertEqual(self.booked_net(record), 0.0)

        self.sandbox.win_dispute(sale["id"])
        self.post(self.sandbox.ping_body("dispute_won", sale_id=sale["id"]))
        self.process_events()
        self.assertEqual(record.dispute_state, "won")
        self.assertAlmostEqual(self.booked_net(record), sale["price"] / 100)

        membership = next(p for p in self.sandbox.products if p["is_tiered_membership"])
        subscription_id = next(
            s["subscription_id"]
            for s in self.sandbox.sales
            if s["product_id"] == membership["id"]
            and s.get("subscription_id")
            and not s.get("cancelled")
        )
        other_tier = membership["variants"][0]["options"][-1]["name"]
        self.sandbox.change_plan(subscription_id, tier=other_tier)
        body = self.sandbox.ping_body
        self.post(body("subscription_updated", subscription_id=subscription_id))
        self.process_events()
        subscription = self.env["gumroad.subscription"].search(
            [("gumroad_id", "=", subscription_id)]
        )
        self.assertIn(other_tier, subscription.plan)
        self.assertEqual(subscription.last_change, "subscription_updated")

        self.sandbox.cancel_subscription(subscription_id)
        self.sandbox.restart_subscription(subscription_id)
        self.post(body("subscription_restarted", subscription_id=subscription_id))
        self.process_events()
        self.assertEqual(subscription.status, "alive")
        self.assertTrue(subscription.restarted_at)
        states = set(self.events.search([]).mapped("state"))
        self.assertEqual(states, {"done"}, "every ping processed")
