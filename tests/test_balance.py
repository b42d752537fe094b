from decimal import ROUND_HALF_UP, Decimal

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import GumroadCommon


class GumroadBalanceCommon(GumroadCommon):
    """Sales, refunds, fees and payouts of the sandbox, booked in one accounting
    mode; the Gumroad balance journal must say what the sandbox computes."""

    sandbox_sales = 60
    sandbox_seed = 23
    accounting_mode = "invoices"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account.accounting_mode = cls.accounting_mode
        cls.bank_journal = cls.company_data["default_journal_bank"]
        cls.account.payout_journal_id = cls.bank_journal

    def balance_cents(self):
        return round(self.account._balance_amount() * 100)

    def sandbox_balance(self):
        return self.sandbox.balance()["balance_cents"]

    def paid_sale(self):
        return self.sandbox_sale(
            lambda s: (
                self.untouched(s)
                and self.record(s["id"]).payout_id
                and not s.get("is_gift_sender_purchase")
            )
        )

    def sync(self):
        """What the scheduled sync does: sales, then payouts."""
        self.import_all()
        return self.env["gumroad.payout"]._sync_payouts(self.account)

    def statement_line(self, amount, day, ref="GUMROAD PAYOUT"):
        return self.env["account.bank.statement.line"].create(
            {
                "journal_id": self.bank_journal.id,
                "date": day,
                "amount": amount,
                "payment_ref": ref,
            }
        )

    def add_sales_since_the_last_payout(self, count):
        """New sales, so that the balance holds something whatever the day: the
        demo's weekly payout on Friday morning can have paid out every demo sale."""
        for _index in range(count):
            self.sandbox.add_sale(product_id=self.plain_usd_product()["id"])

    def check_balance_and_rerun(self):
        self.add_sales_since_the_last_payout(2)
        payouts = self.sync()
        expected = self.sandbox.balance()
        self.assertEqual(len(payouts), expected["payouts"])
        self.assertGreater(expected["balance_cents"], 0)
        self.assertEqual(self.balance_cents(), expected["balance_cents"])
        # Net revenue per sale is the same in every mode: collected - returned.
        sales = self.env["gumroad.sale"].search(
            [("account_id", "=", self.account.id), ("payment_processor", "=", False)]
        )
        self.assertEqual(
            round(sum(sales.mapped("money_fee")) * 100), expected["fees_cents"]
        )
        self.assertEqual(
            round(sum(sales.mapped("money_earnings")) * 100), expected["earned_cents"]
        )
        # Re-running changes nothing.
        moves_before = self.env["account.move"].search_count([])
        counts = self.import_all()
        self.assertEqual(counts["new"] + counts["changed"], 0)
        self.assertFalse(self.env["gumroad.payout"]._sync_payouts(self.account))
        self.assertEqual(self.env["account.move"].search_count([]), moves_before)
        self.assertEqual(self.balance_cents(), expected["balance_cents"])

    def check_refund_dispute_and_full_payout(self):
        self.sync()
        refunded, disputed = self.paid_sale(), None
        self.sandbox.refund(refunded["id"])
        disputed = self.sandbox_sale(
            lambda s: self.untouched(s) and s["id"] != refunded["id"]
        )
        self.sandbox.dispute(disputed["id"])
        self.sandbox.refund(
            self.sandbox_sale(
                lambda s: self.untouched(s) and s["id"] != disputed["id"]
            )["id"],
            amount_cents=150,
        )
        # New sales since the last payout, so that there is something to pay out
        # after the refunds (which the next payout deducts).
        self.add_sales_since_the_last_payout(3)
        for _attempt in range(20):
            if self.sandbox_balance() > 0:
                break
            self.add_sales_since_the_last_payout(1)
        self.sync()
        self.assertEqual(self.balance_cents(), self.sandbox_balance())
        # Gumroad pays everything out: a fully paid-out balance is 0.
        payout = self.sandbox.pay_out()
        [booked] = self.sync()
        self.assertEqual(booked.gumroad_id, payout["id"])
        self.assertEqual(booked.amount, float(payout["amount"]))
        self.assertEqual(self.balance_cents(), 0)
        self.assertEqual(self.sandbox_balance(), 0)
        self.assertEqual(
            sorted(booked.sale_ids.mapped("gumroad_id")), sorted(payout["sales"])
        )
        return booked

    def check_statement_reconciles(self, payout):
        noise = self.statement_line(payout.amount + 1, payout.payout_date)
        st_line = self.statement_line(payout.amount, payout.payout_date)
        payout.action_reconcile_statement()
        self.assertEqual(payout.state, "reconciled")
        self.assertEqual(payout.statement_line_id, st_line)
        self.assertTrue(st_line.is_reconciled)
        self.assertFalse(noise.is_reconciled)
        # The bank got the money; the Gumroad balance did not move.
        self.assertEqual(self.balance_cents(), 0)
        # Nothing left to match: said, not silently ignored.
        other = self.env["gumroad.payout"].search(
            [("account_id", "=", self.account.id), ("state", "=", "booked")], limit=1
        )
        with self.assertRaisesRegex(UserError, "No unreconciled bank statement line"):
            other.action_reconcile_statement()


@tagged("post_install", "-at_install")
class TestBalanceInvoices(GumroadBalanceCommon):
    accounting_mode = "invoices"

    def test_balance_equals_sandbox_and_rerun_adds_nothing(self):
        self.check_balance_and_rerun()
        # Each invoice is paid from the Gumroad balance.
        sale = self.record(self.paid_sale()["id"])
        self.assertEqual(sale.invoice_id.payment_state, "paid")
        [entry] = sale.balance_move_ids
        self.assertEqual(entry.journal_id, self.account.balance_journal_id)
        fee_line = entry.line_ids.filtered(
            lambda line: line.account_id == self.account.fee_account_id
        )
        self.assertAlmostEqual(fee_line.balance, sale.gumroad_fee_usd)
        self.assertEqual(
            self.account.balance_journal_id.currency_id.name or "USD", "USD"
        )

    def test_listed_currency_invoices_keep_the_usd_balance(self):
        self.account.currency_mode = "listed"
        self.sync()
        self.assertEqual(self.balance_cents(), self.sandbox_balance())
        foreign = self.env["gumroad.sale"].search(
            [
                ("account_id", "=", self.account.id),
                ("booking_currency_id", "not in", [self.usd.id, False]),
                ("money_earnings", ">", 0),
            ]
        )
        self.assertTrue(foreign, "the sandbox sells in other currencies too")
        # A EUR or JPY invoice, paid in USD from the balance: fully paid.
        self.assertEqual(set(foreign.invoice_id.mapped("payment_state")), {"paid"})

    def test_refund_takes_the_money_back_out(self):
        self.sync()
        sale_data = self.paid_sale()
        sale = self.record(sale_data["id"])
        before = self.balance_cents()
        self.sandbox.refund(sale_data["id"])
        self.import_all()
        # The whole earnings leave the balance (the fee and any affiliate commission
        # are given back), and Gumroad retains the processor fee (credit.rb
        # create_for_refund_fee_retention!).
        price = round(sale.price_usd * 100)
        retained = int(
            (Decimal(price) * 29 / 1000 + 30).quantize(Decimal(1), ROUND_HALF_UP)
        )
        self.assertEqual(round(sale.money_retained * 100), retained)
        self.assertEqual(
            self.balance_cents(),
            before
            - round((sale.price_usd - sale.gumroad_fee_usd - sale.affiliate_usd) * 100)
            - retained,
        )
        # The credit note is settled by the refund leaving the Gumroad balance.
        credit_note = sale.credit_note_ids
        self.assertEqual(credit_note.amount_residual, 0)
        self.assertEqual(credit_note.payment_state, "paid")
        self.assertEqual(sale.invoice_id.payment_state, "paid")
        self.assertAlmostEqual(sale.money_earnings, -retained / 100)
        self.assertEqual(self.balance_cents(), self.sandbox_balance())

    def test_full_payout_and_bank_statement(self):
        payout = self.check_refund_dispute_and_full_payout()
        self.assertEqual(payout.move_id.move_type, "entry")
        self.check_statement_reconciles(payout)

    def test_dashboard_figures(self):
        self.sync()
        expected = self.sandbox.balance()
        account = self.account
        self.assertEqual(round(account.dashboard_gross * 100), expected["gross_cents"])
        self.assertEqual(
            round(account.dashboard_refunds * 100), expected["refunded_cents"]
        )
        self.assertEqual(round(account.dashboard_fees * 100), expected["fees_cents"])
        self.assertEqual(round(account.dashboard_net * 100), expected["earned_cents"])
        self.assertEqual(
            round(account.dashboard_paid_out * 100), expected["paid_out_cents"]
        )
        self.assertEqual(
            round(account.gumroad_balance * 100), expected["balance_cents"]
        )
        action = account.action_open_sales_by_month()
        self.assertEqual(action["context"]["graph_groupbys"], ["sale_date:month"])


@tagged("post_install", "-at_install")
class TestBalanceGumroadCustomer(GumroadBalanceCommon):
    accounting_mode = "gumroad_customer"

    def test_balance_equals_sandbox_and_rerun_adds_nothing(self):
        self.check_balance_and_rerun()
        sale = self.record(self.paid_sale()["id"])
        # No invoice to the buyer: the revenue is an entry on the Gumroad balance.
        self.assertFalse(sale.invoice_id)
        self.assertEqual(sale.balance_move_ids.move_type, "entry")
        payouts = self.account.payout_ids
        self.assertTrue(payouts)
        # Booked oldest first: the journal's numbers follow the payout dates.
        by_date = payouts.sorted("payout_date")
        self.assertEqual(by_date.move_id.ids, sorted(by_date.move_id.ids))
        for payout in payouts:
            invoice = payout.move_id
            self.assertEqual(invoice.move_type, "out_invoice")
            self.assertEqual(invoice.partner_id, self.account.gumroad_partner_id)
            self.assertAlmostEqual(invoice.amount_total, payout.amount)

    def test_full_payout_and_bank_statement(self):
        payout = self.check_refund_dispute_and_full_payout()
        invoice = payout.move_id
        self.assertEqual(invoice.move_type, "out_invoice")
        # One line per sale paid, plus the refunds of sales paid out before.
        self.assertEqual(
            len(invoice.invoice_line_ids),
            len(payout.sale_ids.filtered("money_earnings")) + 1,
        )
        self.check_statement_reconciles(payout)
        self.assertEqual(invoice.payment_state, "paid")


@tagged("post_install", "-at_install")
class TestBalanceEntries(GumroadBalanceCommon):
    accounting_mode = "entries"

    def test_balance_equals_sandbox_and_rerun_adds_nothing(self):
        self.check_balance_and_rerun()
        sale = self.record(self.paid_sale()["id"])
        self.assertFalse(sale.invoice_id)
        self.assertEqual(sale.state, "invoiced")

    def test_full_payout_and_bank_statement(self):
        payout = self.check_refund_dispute_and_full_payout()
        self.check_statement_reconciles(payout)
