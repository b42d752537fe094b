from decimal import ROUND_HALF_UP, Decimal

from odoo.tests import tagged

from ..gumroad_sandbox import ledger
from .test_balance import GumroadBalanceCommon


@tagged("post_install", "-at_install")
class TestPayoutTransactions(GumroadBalanceCommon):
    """Each payout's transactions (GET /payouts/:id?include_transactions=true, rows
    of Exports::Payouts::Base#payout_data, app/services/exports/payouts/base.rb)
    against the books."""

    accounting_mode = "entries"

    def test_full_payout_matches_every_transaction(self):
        payout = self.check_refund_dispute_and_full_payout()
        self.assertTrue(payout.line_ids)
        self.assertEqual(set(payout.line_ids.mapped("state")), {"matched"})
        self.assertEqual(payout.unmatched_count, 0)
        self.assertAlmostEqual(
            sum(payout.line_ids.mapped("gumroad_amount")), payout.amount
        )
        self.assertFalse(payout.adjustment_move_id)
        # Every payout synced so far is fully matched too; the rows of PayPal and
        # Stripe Connect sales (paid by the processor, base.rb
        # merge_paypal_sales_data) are information.
        lines = self.account.payout_ids.line_ids
        self.assertEqual(set(lines.mapped("state")) - {"information"}, {"matched"})
        direct = self.env["gumroad.sale"].search(
            [("account_id", "=", self.account.id), ("payment_processor", "!=", False)]
        )
        for line in lines.filtered(lambda line: line.state == "information"):
            self.assertTrue(
                line.kind.startswith(("PayPal", "Stripe Connect"))
                or line.gumroad_sale_id in direct.mapped("gumroad_id"),
                line.kind,
            )

    def test_gumroad_credit_is_a_difference_booked_with_its_label(self):
        """A Credit row without a sale (a Credit Gumroad made on the balance, base.rb
        `Credit.where(balance: bal)`) is Gumroad's own: booked from the payout."""
        self.sync()
        self.sandbox.add_credit(1234, "goodwill")
        self.sandbox.add_sale(product_id=self.plain_usd_product()["id"])
        self.sync()
        # Before the payout, only Gumroad knows of the credit.
        self.assertEqual(self.balance_cents() + 1234, self.sandbox_balance())
        self.sandbox.pay_out()
        [payout] = self.sync()
        [credit] = payout.line_ids.filtered(lambda line: line.kind == "Credit")
        self.assertEqual(credit.state, "adjustment")
        self.assertAlmostEqual(credit.to_book, 12.34)
        self.assertEqual(payout.unmatched_count, 1)
        entry = payout.adjustment_move_id
        self.assertEqual(entry.journal_id, self.account.balance_journal_id)
        self.assertIn(credit.label, entry.line_ids.mapped("name")[0])
        self.assertTrue(credit.label.startswith("Gumroad credit"))
        self.assertEqual(self.balance_cents(), self.sandbox_balance())
        self.assertEqual(self.sandbox_balance(), 0)
        # A second sync books nothing again.
        moves = self.env["account.move"].search_count([])
        self.assertFalse(self.env["gumroad.payout"]._sync_payouts(self.account))
        self.assertEqual(self.env["account.move"].search_count([]), moves)

    def test_dashboard_shows_the_upcoming_payout(self):
        self.sandbox.add_sale(product_id=self.plain_usd_product()["id"])
        self.sync()
        upcoming = self.sandbox.store.upcoming_payout()
        self.assertEqual(
            round(self.account.upcoming_payout_amount * 100), upcoming.amount_cents
        )
        self.assertGreater(upcoming.amount_cents, 0)
        self.assertEqual(self.account.upcoming_payout_status, "payable")


@tagged("post_install", "-at_install")
class TestTwoRefundsSeenAsOne(GumroadBalanceCommon):
    """A sandbox of its own: the other tests' payouts leave nothing to offset."""

    accounting_mode = "entries"

    def test_two_refunds_seen_as_one_leave_nothing_after_the_payout(self):
        """Two partial refunds made before the connector saw the sale: the sale JSON
        has only their total, so the books split one refund, while Gumroad floors each
        refund's fee share and retained fee (summarize_partial_refund). The payout's
        rows reveal the difference; it is booked against the retained fee, and the
        balance is 0 after the payout."""
        self.sync()
        sale = self.sandbox.add_sale(product_id=self.plain_usd_product()["id"])
        price, fee = sale["price"], sale["gumroad_fee"]

        def seller_loses(amount):
            return amount - fee * amount // price + ledger.retained_fee(amount, price)

        # An amount whose two refunds cost the seller other cents than one of twice it.
        amount = next(
            cents
            for cents in range(50, price // 2)
            if 2 * seller_loses(cents) != seller_loses(2 * cents)
        )
        self.sandbox.refund(sale["id"], amount_cents=amount)
        self.sandbox.refund(sale["id"], amount_cents=amount)
        self.sync()
        drift = self.balance_cents() - self.sandbox_balance()
        self.assertIn(abs(drift), (1, 2), "the books' one refund floors otherwise")
        self.sandbox.pay_out()
        [payout] = self.sync()
        [line] = payout.line_ids.filtered(
            lambda line: line.gumroad_sale_id == sale["id"]
        )
        self.assertEqual(line.state, "adjustment")
        self.assertEqual(line.book_against, "retained")
        self.assertEqual(round(line.to_book * 100), -drift)
        self.assertTrue(payout.adjustment_move_id)
        self.assertEqual(self.sandbox_balance(), 0)
        self.assertEqual(self.balance_cents(), 0)

    def test_the_affiliate_cent_of_refunds_seen_as_one_is_booked_too(self):
        """Gumroad rounds the affiliate's share of each refund on its own: the cent
        the Affiliate Credit row shows for refunds seen as one is booked against the
        affiliate commission, and the balance is 0 after the payout."""
        self.sync()
        product = self.plain_usd_product()
        affiliate = product["price"] // 10 + 3
        sale = self.sandbox.add_sale(
            product_id=product["id"],
            affiliate_email="aff@example.com",
            affiliate_credit_cents=affiliate,
        )
        price, fee = sale["price"], sale["gumroad_fee"]

        def share(cents):
            return int((Decimal(affiliate * cents) / price).quantize(0, ROUND_HALF_UP))

        def seller(cents):
            return fee * cents // price - ledger.retained_fee(cents, price)

        amount = next(
            cents
            for cents in range(50, price // 2)
            if 2 * share(cents) != share(2 * cents)
            and 2 * seller(cents) != seller(2 * cents)
        )
        self.sandbox.refund(sale["id"], amount_cents=amount)
        self.sandbox.refund(sale["id"], amount_cents=amount)
        self.sync()
        self.sandbox.pay_out()
        [payout] = self.sync()
        [affiliate_line] = payout.line_ids.filtered(
            lambda line: line.kind == "Affiliate Credit"
        )
        self.assertEqual(
            (affiliate_line.state, affiliate_line.book_against),
            ("adjustment", "affiliate"),
        )
        self.assertEqual(self.sandbox_balance(), 0)
        self.assertEqual(self.balance_cents(), 0)
