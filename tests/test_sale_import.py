import copy
from datetime import date, datetime, timedelta

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .. import const
from ..gumroad_sandbox import ledger
from .common import GumroadCommon


def cents(value):
    return round(value / 100, 2)


@tagged("post_install", "-at_install")
class TestSaleImport(GumroadCommon):
    sandbox_sales = 80

    def paid_plain_usd_sale(self, exclude=()):
        return self.sandbox_sale(
            lambda s: (
                s["price"] > 0
                and s.get("currency", "usd") == "usd"
                and s["formatted_total_price"].startswith("$")
                and self.untouched(s)
                and not s["is_gift_sender_purchase"]
                and s["id"] not in exclude
            )
        )

    def assert_net_matches_sandbox(self, sale_id):
        record = self.record(sale_id)
        self.assertEqual(
            self.booked_net(record),
            cents(self.sandbox.sale_net_usd_cents(sale_id)),
            f"net of {sale_id} ({record.state})",
        )

    # --- booking ---

    def test_each_paid_sale_becomes_one_posted_invoice_in_usd(self):
        counts = self.import_all()
        self.assertEqual(counts["read"], len(self.sandbox.sales))
        self.assertEqual(counts["failed"], 0)
        paid = [s for s in self.sandbox.sales if s["price"] > 0]
        self.assertEqual(counts["new"], len(paid))
        self.assertEqual(counts["skipped"], len(self.sandbox.sales) - len(paid))
        for sale in paid:
            record = self.record(sale["id"])
            invoice = record.invoice_id
            self.assertEqual(invoice.move_type, "out_invoice")
            self.assertEqual(invoice.state, "posted")
            self.assertEqual(invoice.ref, f"GR-{sale['id']}")
            self.assertEqual(invoice.currency_id, self.usd)
            self.assertAlmostEqual(invoice.amount_total, cents(sale["price"]))
            # Gumroad-collected VAT is not invoiced; seller-collected tax, inside
            # the price, is (buyer_presentment.seller_tax_cents, purchase.rb:3729).
            seller_tax = (sale.get("buyer_presentment") or {}).get("seller_tax_cents")
            self.assertAlmostEqual(
                invoice.amount_tax, cents(sale["tax_cents"]) if seller_tax else 0.0
            )
            self.assertEqual(
                invoice.invoice_date,
                datetime.strptime(sale["created_at"], "%Y-%m-%dT%H:%M:%SZ").date(),
            )
            self.assertEqual(invoice.partner_id.email, sale["email"])
            self.assertEqual(invoice.gumroad_sale_id, record)
            self.assertEqual(
                invoice.invoice_line_ids.product_id.product_tmpl_id.gumroad_product_id,
                sale["product_id"],
            )
        invoices = self.env["account.move"].search(
            [
                ("gumroad_sale_id.account_id", "=", self.account.id),
                ("move_type", "=", "out_invoice"),
            ]
        )
        self.assertEqual(len(invoices), len(paid), "one invoice per paid sale, no more")

    def test_net_of_every_sale_equals_what_gumroad_says_to_the_cent(self):
        self.import_all()
        kinds = {"refunded": 0, "partial": 0, "disputed": 0}
        for sale in self.sandbox.sales:
            self.assert_net_matches_sandbox(sale["id"])
            kinds["refunded"] += bool(sale.get("refunded"))
            kinds["partial"] += sale["partially_refunded"]
            kinds["disputed"] += sale["disputed"]
        self.assertTrue(all(kinds.values()), f"demo data lacks a case: {kinds}")

    def test_reimporting_the_same_range_adds_nothing(self):
        self.import_all()
        moves_before = self.env["account.move"].search_count(
            [("gumroad_sale_id", "!=", False)]
        )
        counts = self.import_all()
        self.assertEqual(counts["unchanged"], len(self.sandbox.sales))
        self.assertEqual(counts["new"] + counts["changed"] + counts["failed"], 0)
        self.assertEqual(
            self.env["account.move"].search_count([("gumroad_sale_id", "!=", False)]),
            moves_before,
        )

    def flush_tracking(self):
        """Write the tracking values, which Odoo keeps for the commit."""
        self.env.flush_all()
        self.env.cr.flush()

    def test_booked_invoices_log_their_history_only_when_the_connector_asks(self):
        first, second = [s for s in self.sandbox.sales if self.untouched(s)][:2]
        # The test case turns the mail features off; a server has them on.
        sales = self.env["gumroad.sale"].with_context(
            tracking_disable=False,
            mail_create_nolog=False,
            mail_create_nosubscribe=False,
            mail_notrack=False,
        )
        sales._book_payloads(self.account, [first])
        self.flush_tracking()
        quiet = self.record(first["id"]).invoice_id
        self.assertEqual(quiet.state, "posted")
        self.assertFalse(quiet.message_ids, "no creation or posting message")
        self.assertFalse(quiet.message_follower_ids)

        self.account.track_booking_history = True
        sales._book_payloads(self.account, [second])
        self.flush_tracking()
        tracked = self.record(second["id"]).invoice_id
        self.assertEqual(tracked.state, "posted")
        self.assertIn("Invoice Created", "".join(tracked.message_ids.mapped("body")))

    def sandbox_earnings(self, sale):
        """USD cents the sandbox's own rules leave the seller for the sale."""
        with self.sandbox.store.lock:
            return ledger.earnings(self.sandbox.store.rows_by_id[sale["id"]])

    def test_full_refund_books_a_reconciled_reversal_for_the_whole_amount(self):
        sale = self.paid_plain_usd_sale()
        self.import_all()
        invoice = self.record(sale["id"]).invoice_id
        self.sandbox.refund(sale["id"])
        counts = self.import_all()
        self.assertEqual(counts["changed"], 1)
        record = self.record(sale["id"])
        self.assertEqual(record.state, "reversed")
        self.assertEqual(record.refund_state, "full")
        credit_note = record.credit_note_ids
        self.assertEqual(len(credit_note), 1)
        self.assertEqual(credit_note.move_type, "out_refund")
        self.assertEqual(credit_note.reversed_entry_id, invoice)
        self.assertTrue(credit_note.ref.startswith(f"GR-{sale['id']}"))
        self.assertAlmostEqual(credit_note.amount_total, cents(sale["price"]))
        # The invoice was paid from the Gumroad balance at the first import; the
        # refund took the money back out and settled the credit note.
        self.assertEqual(invoice.payment_state, "paid")
        self.assertEqual(credit_note.amount_residual, 0.0)
        # Refunded to the buyer from the balance: paid, not Odoo's "Reversed".
        self.assertEqual(credit_note.payment_state, "paid")
        # Gumroad keeps the processor fee of the refund (credit.rb
        # create_for_refund_fee_retention!): the sale ends at minus that fee.
        self.assertGreater(record.money_retained, 0)
        self.assertAlmostEqual(record.money_earnings, -record.money_retained)
        self.assertAlmostEqual(record.money_earnings * 100, self.sandbox_earnings(sale))
        self.assertEqual(self.booked_net(record), 0.0)

    def test_refunds_made_before_the_first_import_settle_their_own_invoices(self):
        """Invoices and credit notes booked in the same import: each credit note is
        the reversal of its sale's invoice and is matched with it, not with another
        sale's moves, and nothing is left open."""
        self.import_all()
        records = self.env["gumroad.sale"].search(
            [
                ("account_id", "=", self.account.id),
                ("move_ids.move_type", "=", "out_refund"),
            ]
        )
        self.assertTrue(records, "the demo has sales refunded before the import")
        for record in records:
            invoice = record.invoice_id
            for credit_note in record.credit_note_ids:
                self.assertEqual(
                    credit_note.reversed_entry_id, invoice, record.gumroad_id
                )
                self.assertIn(invoice, credit_note._gumroad_settling_moves())
                self.assertEqual(credit_note.amount_residual, 0.0, record.gumroad_id)
                self.assertEqual(credit_note.state, "posted")
            settling = invoice._gumroad_settling_moves()
            self.assertLessEqual(
                settling, record.credit_note_ids | record.balance_move_ids
            )
            self.assertEqual(invoice.amount_residual, 0.0, record.gumroad_id)

    def test_two_partial_refunds_each_book_only_the_new_difference(self):
        sale = self.paid_plain_usd_sale()
        price = sale["price"]
        self.import_all()
        self.sandbox.refund(sale["id"], amount_cents=price // 4)
        self.import_all()
        record = self.record(sale["id"])
        self.assertEqual(record.state, "adjusted")
        self.assertEqual(len(record.credit_note_ids), 1)
        self.assertAlmostEqual(record.credit_note_ids.amount_total, cents(price // 4))
        self.sandbox.refund(sale["id"], amount_cents=price // 4)
        self.import_all()
        self.assertEqual(len(record.credit_note_ids), 2)
        self.assertEqual(
            sorted(record.credit_note_ids.mapped("amount_total")),
            [cents(price // 4)] * 2,
        )
        self.assert_net_matches_sandbox(sale["id"])
        # Paid from the Gumroad balance when booked; each refund left it again and
        # settled its credit note.
        self.assertEqual(record.invoice_id.payment_state, "paid")
        self.assertEqual(set(record.credit_note_ids.mapped("amount_residual")), {0.0})
        self.assertEqual(set(record.credit_note_ids.mapped("payment_state")), {"paid"})
        # Each refund gave its floored fee share back and retained its processor
        # fee, as the sandbox's own books say (refundable.rb:255, credit.rb).
        self.assertAlmostEqual(record.money_earnings * 100, self.sandbox_earnings(sale))

    def test_open_dispute_reverses_and_won_dispute_restores_the_net(self):
        sale = self.paid_plain_usd_sale()
        self.import_all()
        self.sandbox.dispute(sale["id"])
        self.import_all()
        record = self.record(sale["id"])
        self.assertEqual(record.dispute_state, "open")
        self.assertEqual(record.state, "reversed")
        self.assertEqual(self.booked_net(record), 0.0)
        self.sandbox.win_dispute(sale["id"])
        self.import_all()
        self.assertEqual(record.dispute_state, "won")
        self.assertEqual(record.state, "invoiced")
        self.assertAlmostEqual(self.booked_net(record), cents(sale["price"]))
        self.assert_net_matches_sandbox(sale["id"])

    def test_listed_currency_mode_invoices_a_eur_sale_in_eur(self):
        self.account.currency_mode = "listed"
        sale = self.sandbox_sale(
            lambda s: (
                s["formatted_total_price"].startswith("€")
                and s["price"] > 0
                and self.untouched(s)
            )
        )
        self.import_all()
        invoice = self.record(sale["id"]).invoice_id
        self.assertEqual(invoice.currency_id, self.eur)
        listed = float(sale["formatted_total_price"].lstrip("€").replace(",", ""))
        self.assertAlmostEqual(invoice.amount_total, listed)
        self.assertEqual(
            round(invoice.amount_total * 100),
            self.sandbox.sale_net_listed_cents(sale["id"]),
        )

    def test_usd_mode_invoices_a_eur_sale_in_usd_from_price(self):
        sale = self.sandbox_sale(
            lambda s: s["formatted_total_price"].startswith("€") and s["price"] > 0
        )
        self.import_all()
        invoice = self.record(sale["id"]).invoice_id
        self.assertEqual(invoice.currency_id, self.usd)
        self.assertAlmostEqual(invoice.amount_total, cents(sale["price"]))

    def test_partial_refund_of_a_eur_sale_is_converted_in_the_sales_own_proportion(
        self,
    ):
        sale = self.sandbox_sale(
            lambda s: (
                s["formatted_total_price"].startswith("€")
                and s["price"] > 0
                and self.untouched(s)
            )
        )
        self.import_all()
        listed_cents = self.sandbox.sale_net_listed_cents(sale["id"])
        self.sandbox.refund(sale["id"], amount_cents=listed_cents // 2)
        self.import_all()
        self.assert_net_matches_sandbox(sale["id"])

    def test_gift_sender_is_invoiced_and_the_receiver_is_recorded_only(self):
        sender = self.sandbox_sale(lambda s: s["is_gift_sender_purchase"])
        self.import_all()
        self.assertEqual(self.record(sender["id"]).state, "invoiced")
        self.assertTrue(self.record(sender["id"]).is_gift_sender)
        receiver_id = self.sandbox.gift_receiver_id(sender["id"])
        self.env["gumroad.sale"]._sync_one(self.account, receiver_id)
        receiver = self.record(receiver_id)
        self.assertEqual(receiver.state, "skipped")
        self.assertTrue(receiver.is_gift_receiver)
        self.assertFalse(receiver.move_ids)

    def test_free_product_is_recorded_without_invoice(self):
        free = self.sandbox_sale(
            lambda s: s["price"] == 0 and not s["is_gift_receiver_purchase"]
        )
        self.import_all()
        record = self.record(free["id"])
        self.assertEqual(record.state, "skipped")
        self.assertFalse(record.move_ids)

    def test_preorder_authorization_books_nothing_and_its_release_is_a_sale(self):
        # Gumroad charges a pre-order at release, as a new sale; the authorization
        # (sent by its ping and /sales/:id) moved no money.
        sale = self.paid_plain_usd_sale()
        authorization = dict(
            self.sandbox.sale(sale["id"]),
            id="UFJFT1JERVJBVVRIT1JJWkFUSU9O",
            is_preorder_authorization=True,
            is_in_preorder_state=True,
            preorder_cancelled=False,
        )
        counts = self.env["gumroad.sale"]._book_payloads(self.account, [authorization])
        self.assertEqual((counts["skipped"], counts["new"]), (1, 0))
        record = self.record(authorization["id"])
        self.assertEqual(record.state, "authorized")
        self.assertFalse(record.move_ids)
        self.assertFalse(record.balance_move_ids)
        self.assertEqual(record.net_amount, 0.0)
        release = dict(
            self.sandbox.sale(sale["id"]),
            id="UFJFT1JERVJSRUxFQVNF",
            preorder_authorization_time=authorization["created_at"],
        )
        self.env["gumroad.sale"]._book_payloads(self.account, [release])
        released = self.record(release["id"])
        self.assertEqual(released.state, "invoiced")
        self.assertAlmostEqual(released.invoice_id.amount_total, cents(sale["price"]))
        self.assertFalse(record.move_ids, "the authorization still books nothing")

    def test_subscription_renewal_and_licence_are_kept(self):
        renewal = self.sandbox_sale(
            lambda s: s.get("recurring_charge") is True and self.untouched(s)
        )
        self.import_all()
        record = self.record(renewal["id"])
        self.assertTrue(record.is_renewal)
        self.assertEqual(record.subscription_gumroad_id, renewal["subscription_id"])
        self.assertEqual(record.state, "invoiced")

    def test_variants_and_offer_code_are_named_on_the_invoice_line(self):
        sale = self.sandbox_sale(
            lambda s: s.get("variants") and s.get("offer_code") and s["price"] > 0
        )
        self.import_all()
        label = self.record(sale["id"]).invoice_id.invoice_line_ids.name
        for option in sale["variants"].values():
            self.assertIn(option, label)
        self.assertIn(sale["offer_code"]["code"], label)

    def test_preview_books_nothing_and_counts_what_an_import_would_do(self):
        wizard = self.env["gumroad.sale.import"].create(
            {
                "account_id": self.account.id,
                "date_from": date(2000, 1, 1),
                "date_to": date(2100, 1, 1),
            }
        )
        wizard.action_preview()
        paid = len([s for s in self.sandbox.sales if s["price"] > 0])
        self.assertEqual(wizard.preview_new, paid)
        self.assertEqual(wizard.preview_skipped, len(self.sandbox.sales) - paid)
        self.assertFalse(
            self.env["gumroad.sale"].search([("account_id", "=", self.account.id)])
        )
        self.assertFalse(
            self.env["account.move"].search([("gumroad_sale_id", "!=", False)])
        )

    def test_wizard_import_books_and_reports_the_counts(self):
        today = fields.Datetime.now().date()
        date_from = today - timedelta(days=const.FOREGROUND_IMPORT_MAX_DAYS - 1)
        in_range = [
            s
            for s in self.sandbox.sales
            if date_from <= date.fromisoformat(s["created_at"][:10]) <= today
        ]
        self.assertTrue(in_range, "the demo data needs sales in the last month")
        wizard = self.env["gumroad.sale.import"].create(
            {"account_id": self.account.id, "date_from": date_from, "date_to": today}
        )
        wizard.action_import()
        self.assertEqual(wizard.state, "done")
        self.assertIn(f"{len(in_range)} sales read", wizard.summary)
        run = wizard.import_id
        self.assertEqual(
            (run.state, run.origin, run.sales_read), ("done", "wizard", len(in_range))
        )
        self.assertEqual(self.account.last_import_id, run)
        self.assertEqual(
            set(self.account.sale_ids.mapped("gumroad_id")),
            {s["id"] for s in in_range},
            "only the sales of the range are booked",
        )

    def test_a_sale_that_cannot_be_booked_is_in_error_and_retry_books_it(self):
        self.account.currency_mode = "listed"
        self.jpy.active = False
        yen = [
            s
            for s in self.sandbox.sales
            if s["formatted_total_price"].startswith("¥") and s["price"] > 0
        ]
        self.assertTrue(yen, "the demo data needs a JPY sale")
        counts = self.import_all()
        self.assertEqual(counts["failed"], len(yen))
        record = self.record(yen[0]["id"])
        self.assertEqual(record.state, "error")
        self.assertIn("JPY", record.error_message)
        self.assertIn(yen[0]["id"], record.error_message)
        self.assertFalse(record.move_ids)
        others = self.env["gumroad.sale"].search(
            [("account_id", "=", self.account.id), ("state", "=", "invoiced")]
        )
        self.assertTrue(others, "the other sales are booked anyway")
        self.jpy.active = True
        self.env["gumroad.sale"].search([("state", "=", "error")]).action_retry()
        self.assertEqual(record.state, "invoiced")
        self.assertEqual(record.invoice_id.currency_id, self.jpy)

    @mute_logger("odoo.addons.gumroad_connector.models.gumroad_sale_booking")
    def test_a_malformed_sale_is_marked_with_the_field_and_the_others_book(self):
        good, bad = self.sandbox.sales[0], copy.deepcopy(self.sandbox.sales[1])
        bad["price"] = "twelve dollars"
        counts = self.env["gumroad.sale"]._book_payloads(self.account, [good, bad])
        self.assertEqual(counts["failed"], 1)
        record = self.record(bad["id"])
        self.assertEqual(record.state, "error")
        self.assertIn("price", record.error_message)
        self.assertIn(bad["id"], record.error_message)
        self.assertNotEqual(self.record(good["id"]).state, "error")

    def test_a_sale_in_a_locked_period_is_booked_on_the_first_open_day(self):
        sale = self.paid_plain_usd_sale()
        sale_day = datetime.strptime(sale["created_at"], "%Y-%m-%dT%H:%M:%SZ").date()
        self.company.sudo().sale_lock_date = sale_day
        self.import_all()
        invoice = self.record(sale["id"]).invoice_id
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(
            invoice.invoice_date, sale_day, "the document keeps the sale's day"
        )
        self.assertGreater(
            invoice.date, sale_day, "the entry goes to the first open day"
        )

    def test_a_closed_year_moves_the_balance_entry_to_the_first_open_day(self):
        sale = self.paid_plain_usd_sale()
        sale_day = datetime.strptime(sale["created_at"], "%Y-%m-%dT%H:%M:%SZ").date()
        self.company.sudo().fiscalyear_lock_date = sale_day
        self.import_all()
        record = self.record(sale["id"])
        self.assertEqual(record.balance_move_ids.state, "posted")
        self.assertEqual(record.balance_move_ids.date, sale_day + timedelta(days=1))
        self.assertEqual(record.invoice_id.payment_state, "paid")

    def test_scheduled_sync_moves_the_watermark_and_books_new_sales(self):
        self.account.state = "connected"
        self.account.sync_watermark = date(2000, 1, 1)
        with self.cron_progress():
            self.env["gumroad.account"]._cron_sync_sales()
        run = self.account.last_import_id
        self.assertEqual(
            (run.origin, run.state, run.rescan), ("schedule", "done", True)
        )
        self.assertEqual(self.account.sync_watermark, fields.Datetime.now().date())
        self.assertEqual(self.account.last_rescan_date, fields.Datetime.now().date())
        self.assertEqual(
            len(self.account.sale_ids), len(self.sandbox.sales), "every sale since 2000"
        )
        new_sale = self.sandbox.add_sale(product_id=self.plain_usd_product()["id"])
        with self.cron_progress():
            self.env["gumroad.account"]._cron_sync_sales()
        self.assertEqual(self.record(new_sale["id"]).state, "invoiced")

    def test_a_booked_sale_cannot_be_deleted_so_it_is_never_booked_twice(self):
        sale = self.paid_plain_usd_sale()
        self.import_all()
        with self.assertRaisesRegex(UserError, "next import book it again"):
            self.record(sale["id"]).unlink()
        free = self.sandbox_sale(lambda s: s["price"] == 0)
        self.record(free["id"]).unlink()  # nothing booked: the row may go
        self.assertFalse(self.record(free["id"]))
