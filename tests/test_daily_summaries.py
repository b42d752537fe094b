from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from odoo import fields
from odoo.exceptions import UserError
from odoo.fields import Command
from odoo.tests import tagged

from .test_balance import GumroadBalanceCommon


@tagged("post_install", "-at_install")
class TestDailySummaries(GumroadBalanceCommon):
    """The daily summaries mode: one invoice per day and currency, the day's refunds
    as one credit note, the day's balance movements as one entry; the same nets and
    the same Gumroad balance as per-sale booking."""

    accounting_mode = "summary"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account.summary_from = date(2000, 1, 1)

    def summaries(self, **domain):
        return self.env["account.move"].search(
            [
                ("gumroad_summary_account_id", "=", self.account.id),
                *[(name, "=", value) for name, value in domain.items()],
            ]
        )

    def rows(self):
        return self.env["gumroad.sale"].search([("account_id", "=", self.account.id)])

    def signed_net(self, moves):
        """{(day, currency): invoiced - credited} of invoices and credit notes."""
        nets = defaultdict(float)
        for move in moves.filtered(lambda m: m.is_invoice()):
            sign = -1 if move.move_type == "out_refund" else 1
            nets[move.invoice_date, move.currency_id.name] += sign * move.amount_total
        return {key: round(value, 2) for key, value in nets.items()}

    def test_a_day_books_as_one_invoice_credit_note_and_entry(self):
        today = fields.Date.context_today(self.account)
        product = self.plain_usd_product()
        # Three sales of one product today, one of another product.
        sold = [self.sandbox.add_sale(product_id=product["id"]) for _i in range(3)]
        other = next(
            p
            for p in self.sandbox.products
            if p["currency"] == "usd" and p["price"] > 0 and p["id"] != product["id"]
        )
        self.sandbox.add_sale(product_id=other["id"])
        self.sync()
        # The import books the days that have ended; today's sales wait for the end
        # of the day (or for Book daily summaries now).
        pending = self.rows().filtered("summary_pending")
        self.assertTrue(
            all(
                part["day"] >= today.isoformat()
                for row in pending
                for part in row.summary_parts
            )
        )
        self.account.action_book_summaries()
        rows = self.rows()
        self.assertFalse(rows.filtered("summary_pending"))
        booked = rows.filtered(lambda r: r.state not in ("skipped", "authorized"))
        self.assertTrue(booked)
        self.assertEqual(set(booked.mapped("accounting_mode")), {"summary"})
        # No per-sale move at all.
        self.assertFalse(rows.move_ids | rows.balance_move_ids)
        moves = self.summaries()
        self.assertEqual(set(moves.mapped("state")), {"posted"})
        invoices = moves.filtered(lambda m: m.move_type == "out_invoice")
        # One invoice per day and currency, one balance entry per day and journal.
        days = {(m.invoice_date, m.currency_id) for m in invoices}
        self.assertEqual(len(invoices), len(days))
        sale_days = {r.sale_date for r in booked if r.price_usd}
        self.assertEqual({m.invoice_date for m in invoices}, sale_days)
        entries = moves.filtered(lambda m: m.move_type == "entry")
        for entry in entries:
            # What Gumroad owes for the day: one line per currency.
            owed = entry.line_ids.filtered(
                lambda ln: ln.account_id.account_type == "asset_receivable"
            )
            self.assertEqual(len(owed), len(owed.currency_id), entry.ref)
        self.assertEqual(len(entries), len({(m.date, m.journal_id) for m in entries}))
        # Today's invoice: a line per product, the three sales in one line.
        [today_invoice] = invoices.filtered(
            lambda m: m.invoice_date == today and m.currency_id == self.usd
        )
        sold_rows = self.env["gumroad.sale"].search(
            [("gumroad_id", "in", [s["id"] for s in sold])]
        )
        [line] = sold_rows.summary_line_ids.filtered(
            lambda ln: ln.move_id == today_invoice and ln.product_id
        )
        self.assertEqual(line.quantity, 3)
        self.assertAlmostEqual(line.price_subtotal, sum(sold_rows.mapped("net_amount")))
        self.assertGreaterEqual(len(today_invoice.invoice_line_ids), 2)
        # Exact to the cent: the summaries hold what the sales say, per currency.
        per_currency = defaultdict(float)
        for row in booked:
            per_currency[row.booking_currency_id.name] += row.net_amount
        summed = defaultdict(float)
        for (_day, currency), net in self.signed_net(moves).items():
            summed[currency] += net
        self.assertEqual(
            {k: round(v, 2) for k, v in summed.items()},
            {k: round(v, 2) for k, v in per_currency.items() if round(v, 2)},
        )
        self.assertEqual(self.balance_cents(), self.sandbox_balance())
        # Every summary is settled: invoices paid by the day's balance entries.
        self.assertEqual(
            set(invoices.mapped("payment_state")), {"paid"}, invoices.mapped("ref")
        )
        # Each sale links to the summary lines that hold it.
        sale = self.record(self.paid_sale()["id"])
        self.assertTrue(sale.summary_line_ids)
        invoice = sale.summary_move_ids.filtered(lambda m: m.move_type == "out_invoice")
        self.assertEqual(invoice.invoice_date, sale.sale_date)
        self.assertEqual(
            invoice.ref, f"GR-DAY-{sale.sale_date}/{invoice.currency_id.name}"
        )
        product_line = sale.summary_line_ids.filtered(
            lambda line: line.move_id == invoice and line.product_id
        )
        self.assertIn(sale.product_name, product_line.name)
        self.assertIn(
            sale,
            self.env["gumroad.sale"].search(
                invoice.action_open_gumroad_summary_sales()["domain"]
            ),
        )
        # Re-running books nothing more.
        count = len(moves)
        counts = self.import_all()
        self.assertEqual(counts["new"] + counts["changed"], 0)
        self.account.action_book_summaries()
        self.assertEqual(len(self.summaries()), count)

    def test_the_summary_tax_is_the_sum_of_the_sales_seller_taxes(self):
        """A tax's rate (0.01 % steps) only approximates the sales' taxes: on a
        day's summed base it misses their sum, and the summary says the sum."""
        tax = self.account._seller_tax("GST", Decimal("8.33"))
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.account._gumroad_partner().id,
                "invoice_date": fields.Date.context_today(self.account),
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": "Ebook",
                            "quantity": 50,
                            "price_unit": 10.0,
                            "tax_ids": [Command.set(tax.ids)],
                        }
                    )
                ],
            }
        )
        self.assertEqual(invoice.amount_tax, 41.65, "8.33 % of 500.00")
        # Fifty sales of 10.00 with 0.8332 of tax each, as Gumroad rounded them.
        self.env["gumroad.sale"]._set_exact_tax(invoice, Decimal("41.66"))
        self.assertEqual(invoice.amount_tax, 41.66)
        self.assertEqual(invoice.amount_total, 541.66)
        receivable = invoice.line_ids.filtered(
            lambda ln: ln.account_id.account_type == "asset_receivable"
        )
        self.assertEqual(receivable.debit, 541.66)
        invoice.action_post()
        self.assertEqual(invoice.line_ids.filtered("tax_line_id").credit, 41.66)

    def test_late_refund_books_on_the_day_it_is_seen(self):
        self.sync()
        self.account.action_book_summaries()
        sale_data = self.paid_sale()
        sale = self.record(sale_data["id"])
        old_day = self.summaries(gumroad_summary_date=sale.sale_date)
        before = self.balance_cents()
        self.sandbox.refund(sale_data["id"], amount_cents=100)
        self.import_all()
        self.assertTrue(sale.summary_pending)
        today = fields.Date.context_today(self.account)
        earlier = self.summaries(move_type="out_refund", invoice_date=today)
        self.account.action_book_summaries()
        # Today was booked already (the refunds the first import found): a further
        # credit note of the day.
        credit_note = (
            self.summaries(move_type="out_refund", invoice_date=today) - earlier
        )
        self.assertEqual(len(credit_note), 1)
        self.assertIn(credit_note, sale.summary_move_ids)
        line = sale.summary_line_ids.filtered(lambda ln: ln.move_id == credit_note)
        self.assertAlmostEqual(sum(line.mapped("price_total")), sale.amount_credited)
        # The sale's own day is never rewritten.
        self.assertEqual(self.summaries(gumroad_summary_date=sale.sale_date), old_day)
        self.assertLess(self.balance_cents(), before)
        self.assertEqual(self.balance_cents(), self.sandbox_balance())

    def test_a_sale_after_its_day_was_booked_gets_a_further_summary(self):
        self.sync()
        self.account.action_book_summaries()
        today = fields.Date.context_today(self.account)
        first = self.summaries(move_type="out_invoice", invoice_date=today)
        added = self.sandbox.add_sale(product_id=self.plain_usd_product()["id"])
        self.import_all()
        self.account.action_book_summaries()
        row = self.record(added["id"])
        further = self.summaries(move_type="out_invoice", invoice_date=today) - first
        self.assertEqual(len(further), 1)
        self.assertEqual(further.ref, f"{first.ref}-2" if first else further.ref)
        self.assertAlmostEqual(further.amount_total, row.amount_invoiced)
        self.assertEqual(self.balance_cents(), self.sandbox_balance())

    def test_listed_currencies_have_their_own_summaries(self):
        self.account.currency_mode = "listed"
        self.sync()
        self.account.action_book_summaries()
        invoices = self.summaries(move_type="out_invoice")
        self.assertGreater(len(invoices.currency_id), 1, "EUR and JPY too")
        for (day, currency), group in invoices.grouped(
            lambda m: (m.invoice_date, m.currency_id)
        ).items():
            self.assertEqual(len(group), 1, f"{day} {currency.name}")
        rows = self.rows().filtered(lambda r: r.booking_currency_id == self.eur)
        self.assertTrue(rows)
        eur = invoices.filtered(lambda m: m.currency_id == self.eur)
        credit = self.summaries(move_type="out_refund").filtered(
            lambda m: m.currency_id == self.eur
        )
        self.assertAlmostEqual(
            sum(eur.mapped("amount_total")) - sum(credit.mapped("amount_total")),
            sum(rows.mapped("net_amount")),
        )
        # Paid in USD from the balance: settled, and the balance is Gumroad's.
        self.assertEqual(set(eur.mapped("payment_state")), {"paid"})
        self.assertEqual(self.balance_cents(), self.sandbox_balance())

    def test_a_summary_that_cannot_be_booked_waits_and_says_why(self):
        self.account.currency_mode = "listed"
        eur_product = next(
            p
            for p in self.sandbox.products
            if p["currency"] == "eur" and p["price"] > 0 and p["published"]
        )
        self.sandbox.add_sale(product_id=eur_product["id"])
        self.sync()
        waiting = self.rows().filtered("summary_pending")
        self.assertTrue(waiting.filtered(lambda r: r.booking_currency_id == self.eur))
        # EUR deactivated once the sales were recorded: today's EUR invoice cannot be
        # created.
        self.eur.active = False
        with self.assertRaisesRegex(UserError, "could not be booked"):
            self.account.action_book_summaries()
        self.assertFalse(self.account._book_due_summaries(fields.Date.today()))
        self.assertIn("could not be booked", self.account.summary_error)
        self.assertEqual(self.rows().filtered("summary_pending"), waiting)
        self.account._refresh_alerts()
        alert = self.env["gumroad.alert"].search(
            [("account_id", "=", self.account.id), ("kind", "=", "summary_failed")]
        )
        self.assertEqual(alert.state, "open")
        self.assertEqual(alert.record_count, len(waiting))
        # Once EUR is back, the next run books them and the problem is gone.
        self.eur.active = True
        self.assertTrue(self.account._book_due_summaries(fields.Date.today()))
        self.assertFalse(self.account.summary_error)
        self.assertFalse(self.rows().filtered("summary_pending"))
        self.assertEqual(self.balance_cents(), self.sandbox_balance())
        self.account._refresh_alerts()
        self.assertEqual(alert.state, "closed")

    def test_switching_applies_from_its_day(self):
        rows_by_day = sorted(
            s["created_at"][:10] for s in self.sandbox.sales if s["price"] > 0
        )
        switch = date.fromisoformat(rows_by_day[len(rows_by_day) // 2])
        self.account.write({"accounting_mode": "invoices"})
        self.account.write({"accounting_mode": "summary", "summary_from": switch})
        self.assertEqual(self.account.summary_previous_mode, "invoices")
        self.sync()
        self.account.action_book_summaries()
        rows = self.rows().filtered("price_usd")
        before = rows.filtered(lambda r: r.sale_date < switch)
        after = rows - before
        self.assertTrue(before and after)
        self.assertEqual(set(before.mapped("accounting_mode")), {"invoices"})
        self.assertTrue(all(before.mapped("invoice_id")))
        self.assertEqual(set(after.mapped("accounting_mode")), {"summary"})
        self.assertFalse(after.move_ids)
        self.assertEqual(self.balance_cents(), self.sandbox_balance())

    def test_the_cron_books_the_days_that_ended(self):
        self.sandbox.add_sale(product_id=self.plain_usd_product()["id"])
        self.sync()
        pending = self.rows().filtered("summary_pending")
        self.assertTrue(pending, "the sandbox sells today too")
        tomorrow = fields.Date.context_today(self.account) + timedelta(days=1)
        with self.patch_today(tomorrow), self.cron_progress():
            self.env["gumroad.account"]._cron_book_summaries()
        self.assertFalse(self.rows().filtered("summary_pending"))
        self.assertEqual(self.balance_cents(), self.sandbox_balance())

    def patch_today(self, day):
        from unittest.mock import patch

        return patch.object(
            type(self.env["gumroad.sale"]),
            "_summary_due_day",
            lambda self: day - timedelta(days=1),
        )
