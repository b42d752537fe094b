from odoo.tests import HttpCase, tagged

from .common import GumroadCommon


@tagged("post_install", "-at_install")
class TestRealtimeSync(GumroadCommon, HttpCase):
    """The sandbox's own ping sender posts to Odoo's real webhook route, as Gumroad
    does.
    """

    def setUp(self):
        super().setUp()
        account = self.account.with_context(gumroad_allow_local_webhooks=True)
        account.action_enable_realtime_sync()
        self.events = self.env["gumroad.webhook.event"]

    def deliver(self, change, *args, **kwargs):
        """Make a change in the sandbox, let its pings reach Odoo, then process them.

        Odoo's test server serves only its own test client unless told otherwise: the
        pings come from the sandbox, as they would from Gumroad.
        """
        with self.allow_requests(all_requests=True):
            result = change(*args, **kwargs)
            self.assertTrue(self.sandbox.wait_for_pings(timeout=20))
        with self.cron_progress():
            self.events._cron_process_events()
            # What a ping queued (a gift's day to sync) is run by the import cron.
            self.env["gumroad.import"]._cron_process_imports()
        return result

    def test_sale_then_partial_refund_then_refund_end_to_end(self):
        product = self.plain_usd_product()
        sale = self.deliver(self.sandbox.add_sale, product_id=product["id"])
        record = self.record(sale["id"])
        self.assertEqual(record.state, "invoiced")
        self.assertAlmostEqual(record.invoice_id.amount_total, sale["price"] / 100)

        self.deliver(self.sandbox.refund, sale["id"], amount_cents=sale["price"] // 4)
        self.assertEqual(record.state, "adjusted")
        self.assertEqual(
            self.booked_net(record), self.sandbox.sale_net_usd_cents(sale["id"]) / 100
        )

        self.deliver(self.sandbox.refund, sale["id"])
        self.assertEqual(record.state, "reversed")
        self.assertEqual(self.booked_net(record), 0.0)
        self.assertEqual(len(record.credit_note_ids), 2)
        received = self.events.search([("sale_gumroad_id", "=", sale["id"])])
        self.assertEqual(
            sorted(received.mapped("resource_name")), ["refund", "refund", "sale"]
        )
        self.assertEqual(set(received.mapped("state")), {"done"})
        self.assertTrue(
            all(ping.status == 200 for ping in self.sandbox.pings_sent),
            "every ping was acknowledged at once",
        )

    def test_gift_receiver_ping_books_the_paying_senders_row(self):
        sender, receiver = self.deliver(self.sandbox.add_gift)
        receiver_record = self.record(receiver["id"])
        self.assertTrue(receiver_record.is_gift_receiver)
        self.assertEqual(receiver_record.state, "skipped")
        run = self.account.last_import_id
        self.assertEqual((run.origin, run.state), ("ping", "done"))
        sender_record = self.record(sender["id"])
        self.assertEqual(
            sender_record.state, "invoiced", "the day's sync booked the sender"
        )
        self.assertAlmostEqual(
            sender_record.invoice_id.amount_total, sender["price"] / 100
        )
