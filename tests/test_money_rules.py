"""Every kind of Gumroad sale booked as Gumroad counts it, in each accounting mode
(issue #17; the rules G1-G8 of readme/GUMROAD_MONEY.md, gumroad/balance.py).

The sandbox computes its own balance by the same rules (gumroad_sandbox/ledger.py);
the Gumroad balance journal must say the same to the cent after every step.
"""

from decimal import ROUND_HALF_UP, Decimal

from odoo.tests import tagged

from ..gumroad_sandbox import SandboxServer
from .test_balance import GumroadBalanceCommon

AFFILIATE = "partner@affiliates.example"


class MoneyRulesCommon(GumroadBalanceCommon):
    sandbox_sales = 30
    sandbox_seed = 41

    # --- helpers ---

    def add(self, **options):
        return self.sandbox.add_sale(**{"product_id": self.product_id, **options})

    def physical_product(self):
        return next(p for p in self.sandbox.products if p.get("require_shipping"))

    def seller_taxed(self):
        """A demo sale whose JSON proves the seller collected its tax
        (buyer_presentment.seller_tax_cents, purchase.rb:3729-3745)."""
        return self.sandbox_sale(
            lambda s: (
                self.untouched(s)
                and (s.get("buyer_presentment") or {}).get("seller_tax_cents")
            )
        )

    def setUp(self):
        super().setUp()
        # A sandbox of its own per test: Odoo rolls each test back, the sandbox
        # would keep the refunds of the tests before (and the next test would see
        # two refunds at once).
        self.sandbox = SandboxServer(
            sales=self.sandbox_sales,
            seed=self.sandbox_seed,
            allow_loopback_post_urls=True,
        ).start()
        self.addCleanup(self.sandbox.stop)
        self.account.write(
            {"api_base_url": self.sandbox.base_url, "access_token": self.sandbox.token}
        )
        self.product_id = self.plain_usd_product()["id"]

    def account_total(self, account):
        """Posted USD amount of an account."""
        domain = [("account_id", "=", account.id), ("parent_state", "=", "posted")]
        lines = self.env["account.move.line"].search(domain)
        return round(sum(lines.mapped("amount_currency")), 2)

    def journal_total(self, journal):
        return self.account_total(journal.default_account_id)

    def sales(self, **domain):
        return self.env["gumroad.sale"].search(
            [("account_id", "=", self.account.id)]
            + [(key, "=", value) for key, value in domain.items()]
        )

    def assert_balance(self):
        self.assertEqual(self.balance_cents(), self.sandbox_balance())

    def step(self):
        """Import as the scheduled sync does, then compare with the sandbox."""
        self.import_all()
        self.assert_balance()

    def moves_of(self, record):
        return record.move_ids | record.balance_move_ids

    # --- the scenario ---

    def check_every_kind_mixed(self):
        """G1 affiliate (purchase.rb:1832-1866), G2/G3 refunds and the retained
        processor fee (credit.rb:294-391, refundable.rb:255), G4 chargeback
        (purchase.rb:554), G5 won dispute (dispute_win_credits.rb), G6 PayPal and
        Stripe Connect (purchase.rb:1838, :1548-1550), G7 pre-order
        (purchase.rb:3874-3877, preorder.rb:79-91), G8 taxes, shipping and tip
        (purchase.rb:3856-3861, :537-548), and the payout rows (base.rb)."""
        self.sync()
        self.assert_balance()
        made = {
            "plain": self.add(),
            "affiliate": self.add(
                affiliate_email=AFFILIATE, affiliate_credit_cents=250
            ),
            "affiliate_refunded": self.add(
                affiliate_email=AFFILIATE, affiliate_credit_cents=333
            ),
            "seller_tax": self.seller_taxed(),
            "gumroad_tax": self.add(gumroad_tax_cents=120),
            "shipping_tip": self.add(
                product_id=self.physical_product()["id"],
                shipping_cents=500,
                tip_cents=300,
            ),
            "paypal": self.add(
                payment_processor="paypal",
                processor_fee_cents=95,
                affiliate_email=AFFILIATE,
                affiliate_credit_cents=100,
            ),
            "stripe": self.add(
                payment_processor="stripe_connect", processor_fee_cents=80
            ),
            "disputed": self.add(),
            "won": self.add(affiliate_email=AFFILIATE, affiliate_credit_cents=150),
        }
        preorder = self.add(preorder=True)
        self.step()
        ids = {key: sale["id"] for key, sale in made.items()}

        # G7: the authorization is not listed; its ping books nothing.
        self.assertFalse(self.record(preorder["id"]))
        self.env["gumroad.sale"]._sync_one(self.account, preorder["id"])
        authorization = self.record(preorder["id"])
        self.assertEqual(authorization.state, "authorized")
        self.assertFalse(self.moves_of(authorization))
        release = self.sandbox.release_preorder(preorder["id"])
        self.step()
        released = self.record(release["id"])
        self.assertEqual(len(released.balance_move_ids), 1)
        self.assertEqual(released.state, "invoiced")

        # Refunds, a chargeback and a won dispute, each imported as it happens.
        self.sandbox.refund(ids["plain"])
        self.step()
        self.sandbox.refund(ids["affiliate_refunded"], amount_cents=1000)
        self.step()
        self.sandbox.refund(ids["shipping_tip"], amount_cents=700)
        self.step()
        self.sandbox.refund(ids["shipping_tip"])
        self.step()
        self.sandbox.refund(ids["paypal"], amount_cents=500)
        self.step()
        self.sandbox.dispute(ids["disputed"])
        self.step()
        self.sandbox.dispute(ids["won"])
        self.step()
        self.sandbox.win_dispute(ids["won"])
        self.step()

        records = {key: self.record(sale_id) for key, sale_id in ids.items()}
        expected = self.sandbox.balance()

        # G1: the affiliate commission is an expense against the Gumroad balance.
        affiliate = records["affiliate"]
        self.assertAlmostEqual(affiliate.money_affiliate, 2.50)
        [entry] = affiliate.balance_move_ids
        self.assertEqual(entry.journal_id, self.account.balance_journal_id)
        commission = entry.line_ids.filtered(
            lambda line: line.account_id == self.account.affiliate_account_id
        )
        self.assertAlmostEqual(commission.balance, 2.50)
        self.assertEqual(self.account.affiliate_account_id.account_type, "expense")
        balance_sales = self.sales(payment_processor=False)
        self.assertEqual(
            round(sum(balance_sales.mapped("money_affiliate")) * 100),
            expected["affiliate_cents"],
        )
        # G2/G3: the retained processor fee is an expense too.
        self.assertEqual(
            round(sum(balance_sales.mapped("money_retained")) * 100),
            expected["retained_cents"],
        )
        self.assertGreater(expected["retained_cents"], 0)
        self.assertEqual(
            round(self.account_total(self.account.retained_fee_account_id) * 100),
            expected["retained_cents"],
        )
        self.assertEqual(
            round(sum(balance_sales.mapped("money_fee")) * 100), expected["fees_cents"]
        )

        # G6: direct sales stay off the Gumroad balance, in their clearing journals.
        for key, field in (
            ("paypal", "paypal_journal_id"),
            ("stripe", "stripe_connect_journal_id"),
        ):
            record = records[key]
            journal = self.account[field]
            self.assertTrue(journal, f"{field} created on the first such sale")
            self.assertEqual(record.balance_move_ids.journal_id, journal)
            same = self.sales(payment_processor=record.payment_processor)
            self.assertEqual(
                round(self.journal_total(journal), 2),
                round(sum(same.mapped("money_earnings")), 2),
            )
        paypal = records["paypal"]
        # 5.00 refunded from the seller's own PayPal; fee and commission stay spent.
        self.assertAlmostEqual(
            paypal.money_earnings,
            paypal.price_usd - paypal.gumroad_fee_usd - 1.00 - 0.95 - 5.00,
        )
        self.assertEqual(paypal.money_retained, 0)
        direct = self.sales(payment_processor="paypal") | self.sales(
            payment_processor="stripe_connect"
        )
        self.assertEqual(
            round(sum(direct.mapped("money_earnings")) * 100),
            expected["direct_sales_cents"],
        )
        self.assertAlmostEqual(
            self.account_total(self.account.processor_fee_account_id),
            round(sum(direct.mapped("processor_fee_usd")), 2),
        )
        self.assertAlmostEqual(records["stripe"].money_processor_fee, 0.80)
        self.assertFalse(
            self.env["account.move.line"].search_count(
                [
                    ("move_id", "in", direct.balance_move_ids.ids),
                    (
                        "account_id",
                        "=",
                        self.account.balance_journal_id.default_account_id.id,
                    ),
                ]
            )
        )

        # G8: seller tax reaches the tax report; Gumroad's tax nothing at all.
        seller = self.moves_of(records["seller_tax"]).line_ids
        self.assertEqual(records["seller_tax"].tax_collector, "seller")
        tax_lines = seller.filtered("tax_line_id")
        self.assertTrue(tax_lines)
        self.assertTrue(seller.filtered("tax_ids"))
        self.assertAlmostEqual(
            -sum(tax_lines.mapped("amount_currency")),
            records["seller_tax"].seller_tax_usd,
        )
        gumroad = self.moves_of(records["gumroad_tax"]).line_ids
        self.assertTrue(gumroad)
        self.assertFalse(
            gumroad.filtered(
                lambda line: line.tax_line_id or line.tax_ids or line.tax_tag_ids
            )
        )
        self.assertAlmostEqual(
            sum(
                line.balance
                for line in gumroad
                if line.account_id.account_type == "income"
            ),
            -records["gumroad_tax"].price_usd,
        )

        # G4/G5: nothing is retained on the chargeback; the won dispute is whole.
        self.assertEqual(records["disputed"].money_earnings, 0)
        self.assertEqual(records["disputed"].money_retained, 0)
        won = records["won"]
        self.assertAlmostEqual(
            won.money_earnings, won.price_usd - won.gumroad_fee_usd - 1.50
        )

        # Re-running books nothing.
        moves = self.env["account.move"].search_count([])
        counts = self.import_all()
        self.assertEqual(counts["new"] + counts["changed"], 0)
        self.assertEqual(self.env["account.move"].search_count([]), moves)

        # Paid out in full: the Gumroad balance is 0 and every row matches.
        self.sandbox.pay_out()
        self.sync()
        self.assertEqual(self.balance_cents(), 0)
        self.assertEqual(self.sandbox_balance(), 0)
        lines = self.account.payout_ids.line_ids
        self.assertTrue(lines)
        self.assertEqual(
            set(lines.mapped("state")) - {"information"},
            {"matched"},
            lines.filtered(
                lambda line: line.state not in ("matched", "information")
            ).mapped(lambda line: (line.kind, line.gumroad_amount, line.booked_amount)),
        )
        self.assertFalse(lines.filtered("to_book"))
        self.assertTrue(lines.filtered(lambda line: line.kind == "Affiliate Credit"))
        return records


@tagged("post_install", "-at_install")
class TestMoneyRules(MoneyRulesCommon):
    """Per-buyer invoices."""

    accounting_mode = "invoices"

    def test_every_kind_mixed_matches_gumroad(self):
        records = self.check_every_kind_mixed()
        for record in records.values():
            for credit_note in record.credit_note_ids:
                self.assertEqual(credit_note.payment_state, "paid")
        self.assertEqual(records["paypal"].invoice_id.payment_state, "paid")

    def test_full_refund_retains_the_processor_fee(self):
        """app/models/credit.rb:294-391 create_for_refund_fee_retention! (fallback
        formula) and purchase.rb:2366-2370: a full refund takes back price - fee -
        affiliate and leaves the seller at minus the retained processor fee."""
        self.sync()
        sale = self.add(affiliate_email=AFFILIATE, affiliate_credit_cents=200)
        self.import_all()
        before = self.balance_cents()
        self.sandbox.refund(sale["id"])
        self.import_all()
        record = self.record(sale["id"])
        price = round(record.price_usd * 100)
        retained = int(
            (Decimal(price) * 29 / 1000 + 30).quantize(Decimal(1), ROUND_HALF_UP)
        )
        self.assertEqual(round(record.money_retained * 100), retained)
        earned = price - round(record.gumroad_fee_usd * 100) - 200
        self.assertEqual(self.balance_cents(), before - earned - retained)
        self.assert_balance()
        self.assertEqual(record.credit_note_ids.payment_state, "paid")

    def test_won_dispute_recredits_what_the_chargeback_took(self):
        """app/models/concerns/purchase/dispute_win_credits.rb: the seller gets back
        exactly what the lost dispute took; no dispute fee (purchase.rb:554)."""
        self.sync()
        sale = self.add(affiliate_email=AFFILIATE, affiliate_credit_cents=175)
        self.sandbox.refund(sale["id"], amount_cents=333)
        self.import_all()
        after_refund = self.balance_cents()
        self.sandbox.dispute(sale["id"])
        self.import_all()
        self.assert_balance()
        self.sandbox.win_dispute(sale["id"])
        self.import_all()
        self.assertEqual(self.balance_cents(), after_refund)
        self.assert_balance()


@tagged("post_install", "-at_install")
class TestMoneyRulesGumroadCustomer(MoneyRulesCommon):
    """Gumroad as customer (self-billing per payout)."""

    accounting_mode = "gumroad_customer"

    def test_every_kind_mixed_matches_gumroad(self):
        records = self.check_every_kind_mixed()
        self.assertFalse(records["plain"].invoice_id)
        for payout in self.account.payout_ids:
            self.assertAlmostEqual(payout.move_id.amount_total, payout.amount)


@tagged("post_install", "-at_install")
class TestMoneyRulesEntries(MoneyRulesCommon):
    """Journal entries only."""

    accounting_mode = "entries"

    def test_every_kind_mixed_matches_gumroad(self):
        records = self.check_every_kind_mixed()
        record = records["seller_tax"]
        tax_line = record.balance_move_ids.line_ids.filtered("tax_line_id")
        self.assertEqual(tax_line.account_id, self.account.seller_tax_account_id)
        # The sale's USD tax (booked in USD, the connector's default currency mode).
        self.assertAlmostEqual(tax_line.amount_currency, -record.seller_tax_usd)

    def test_direct_sale_pays_its_clearing_journal_less_both_fees(self):
        """app/models/purchase.rb:1838 (a direct sale never touches the Gumroad
        balance) and :1548-1550 (Gumroad's application fee: fee + affiliate +
        its tax); processor_fee_cents is the processor's own fee."""
        self.sync()
        balance = self.balance_cents()
        sale = self.add(
            payment_processor="stripe_connect",
            processor_fee_cents=123,
            affiliate_email=AFFILIATE,
            affiliate_credit_cents=100,
            gumroad_tax_cents=90,
        )
        self.import_all()
        record = self.record(sale["id"])
        self.assertEqual(self.balance_cents(), balance)
        journal = self.account.stripe_connect_journal_id
        self.assertAlmostEqual(
            self.journal_total(journal),
            round(record.price_usd - record.gumroad_fee_usd - 1.00 - 1.23, 2),
        )
        entry = record.balance_move_ids
        fee = entry.line_ids.filtered(
            lambda line: line.account_id == self.account.processor_fee_account_id
        )
        self.assertAlmostEqual(fee.balance, 1.23)
        # A refund is paid from the seller's own account, nothing retained.
        self.sandbox.refund(sale["id"])
        self.import_all()
        self.assertEqual(record.money_retained, 0)
        self.assertAlmostEqual(
            self.journal_total(journal),
            round(-record.gumroad_fee_usd - 1.00 - 1.23, 2),
        )
        self.assertEqual(self.balance_cents(), balance)
