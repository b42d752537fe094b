from datetime import timedelta

from odoo import models
from odoo.fields import Command

# The connector's field and the default code of each processor's clearing journal.
PROCESSOR_JOURNALS = {
    "paypal": ("paypal_journal_id", "GRPP"),
    "stripe_connect": ("stripe_connect_journal_id", "GRSC"),
}


class GumroadAccountLedger(models.AbstractModel):
    """Where a connector books: the sales journal, the Gumroad balance journal, the fee
    account, the "Gumroad, Inc." partner and the payout bank journal, created on first
    use. Mixed into `gumroad.account`, whose fields it uses.
    """

    _name = "gumroad.account.ledger"
    _description = "Gumroad Connector Ledger"

    # === BUSINESS METHODS: the Gumroad balance === #

    def _sales_journal(self):
        self.ensure_one()
        return self.journal_id or self.env["account.journal"].search(
            [("type", "=", "sale"), ("company_id", "=", self.company_id.id)], limit=1
        )

    def _free_code(self, model, field, base, domain):
        code, number = base, 1
        while (
            self.env[model].sudo().search_count([*domain, (field, "=", code)], limit=1)
        ):
            number += 1
            code = f"{base}{number}"
        return code

    def _balance_journal(self):
        """The connector's Gumroad balance journal (USD), created on first use."""
        self.ensure_one()
        if self.balance_journal_id:
            return self.balance_journal_id
        usd = self.env.ref("base.USD")
        if not usd.active:
            usd.sudo().active = True
        company = self.company_id
        journal = (
            self.env["account.journal"]
            .sudo()
            .create(
                {
                    "name": self.env._("Gumroad balance (%(name)s)", name=self.name),
                    "type": "bank",
                    "code": self._free_code(
                        "account.journal",
                        "code",
                        "GRB",
                        [("company_id", "=", company.id)],
                    ),
                    "company_id": company.id,
                    "currency_id": usd.id if company.currency_id != usd else False,
                }
            )
        )
        self.sudo().balance_journal_id = journal
        return journal

    def _fee_account(self):
        """The expense account of Gumroad's fees, created on first use."""
        return self._expense_account(
            "fee_account_id", self.env._("Gumroad fees"), "GRFEE"
        )

    def _affiliate_account(self):
        """The expense account of affiliate commissions, created on first use."""
        return self._expense_account(
            "affiliate_account_id", self.env._("Gumroad affiliate commissions"), "GRAFF"
        )

    def _retained_fee_account(self):
        """The expense account of the processor fee Gumroad retains on refunds."""
        return self._expense_account(
            "retained_fee_account_id",
            self.env._("Processor fee Gumroad retained"),
            "GRPF",
        )

    def _processor_fee_account(self):
        """The expense account of PayPal's / Stripe's fees of direct sales."""
        return self._expense_account(
            "processor_fee_account_id",
            self.env._("PayPal and Stripe fees (Gumroad sales)"),
            "GRPROC",
        )

    def _expense_account(self, field, name, code):
        self.ensure_one()
        if self[field]:
            return self[field]
        company = self.company_id
        account = (
            self.env["account.account"]
            .sudo()
            .create(
                {
                    "name": name,
                    "code": self._free_code(
                        "account.account",
                        "code",
                        code,
                        [("company_ids", "in", company.id)],
                    ),
                    "account_type": "expense",
                    "company_ids": [Command.link(company.id)],
                }
            )
        )
        self.sudo()[field] = account
        return account

    def _processor_journal(self, processor):
        """The clearing journal of sales paid into the seller's own PayPal or Stripe
        account ("paypal" / "stripe_connect"), USD, created on first use."""
        self.ensure_one()
        field, code = PROCESSOR_JOURNALS[processor]
        if processor == "paypal":
            name = self.env._("PayPal (Gumroad sales)")
        else:
            name = self.env._("Stripe Connect (Gumroad sales)")
        if self[field]:
            return self[field]
        usd = self.env.ref("base.USD")
        company = self.company_id
        journal = (
            self.env["account.journal"]
            .sudo()
            .create(
                {
                    "name": f"{name} ({self.name})",
                    "type": "bank",
                    "code": self._free_code(
                        "account.journal",
                        "code",
                        code,
                        [("company_id", "=", company.id)],
                    ),
                    "company_id": company.id,
                    "currency_id": usd.id if company.currency_id != usd else False,
                }
            )
        )
        self.sudo()[field] = journal
        return journal

    def _seller_tax_account(self):
        """The tax payable account of seller-collected tax, created on first use."""
        self.ensure_one()
        if self.seller_tax_account_id:
            return self.seller_tax_account_id
        company = self.company_id
        account = (
            self.env["account.account"]
            .sudo()
            .create(
                {
                    "name": self.env._("Sales tax collected through Gumroad"),
                    "code": self._free_code(
                        "account.account",
                        "code",
                        "GRTAX",
                        [("company_ids", "in", company.id)],
                    ),
                    "account_type": "liability_current",
                    "company_ids": [Command.link(company.id)],
                }
            )
        )
        self.sudo().seller_tax_account_id = account
        return account

    def _seller_tax(self, label, rate):
        """The sales tax of seller-collected tax named `label` at `rate` percent
        (rounded to 0.01), on the seller tax account; created on first use.

        The rate only names the tax: each invoice's tax line carries Gumroad's exact
        amount (`_set_seller_tax_amounts`).
        """
        self.ensure_one()
        company = self.company_id
        name = self.env._(
            "%(label)s %(rate)s%% (seller-collected, Gumroad)",
            label=label or self.env._("Sales tax"),
            rate=f"{rate.normalize():f}",
        )
        Tax = self.env["account.tax"].sudo().with_context(active_test=False)
        tax = Tax.search(
            [
                ("company_id", "=", company.id),
                ("type_tax_use", "=", "sale"),
                ("name", "=", name),
            ],
            limit=1,
        )
        if tax:
            return tax
        account = self._seller_tax_account()

        def repartition():
            return [
                Command.create({"repartition_type": "base"}),
                Command.create({"repartition_type": "tax", "account_id": account.id}),
            ]

        return Tax.create(
            {
                "name": name,
                "type_tax_use": "sale",
                "amount_type": "percent",
                "amount": float(rate),
                "price_include_override": "tax_excluded",
                "company_id": company.id,
                "invoice_label": label or False,
                "invoice_repartition_line_ids": repartition(),
                "refund_repartition_line_ids": repartition(),
            }
        )

    def _gumroad_partner(self):
        """Gumroad, Inc., the customer of self-billing invoices."""
        self.ensure_one()
        if self.gumroad_partner_id:
            return self.gumroad_partner_id
        partner = self.env["res.partner"].search(
            [("name", "=", "Gumroad, Inc."), ("is_company", "=", True)], limit=1
        ) or self.env["res.partner"].sudo().create(
            {
                "name": "Gumroad, Inc.",
                "is_company": True,
                "website": "https://gumroad.com",
                "country_id": self.env.ref("base.us").id,
            }
        )
        self.sudo().gumroad_partner_id = partner
        return partner

    def _payout_bank_journal(self):
        self.ensure_one()
        if self.payout_journal_id:
            return self.payout_journal_id
        connectors = (
            self.sudo()
            .with_context(active_test=False)
            .search([("balance_journal_id", "!=", False)])
        )
        balance_journals = (
            connectors.balance_journal_id
            | connectors.paypal_journal_id
            | connectors.stripe_connect_journal_id
        )
        return self.env["account.journal"].search(
            [
                ("type", "=", "bank"),
                ("company_id", "=", self.company_id.id),
                ("id", "not in", balance_journals.ids),
            ],
            limit=1,
        )

    def _first_open_day(self, day, journal):
        """`day`, or the first day after the lock dates that close it for `journal`:
        a closed period keeps its books, the money moves on the first open day."""
        self.ensure_one()
        locked = self.company_id._get_violated_lock_dates(day, False, journal)
        return locked[-1][0] + timedelta(days=1) if locked else day

    def _balance_amount(self):
        """The Gumroad balance in USD: the balance journal's account, posted."""
        self.ensure_one()
        journal = self.balance_journal_id
        if not journal:
            return 0.0
        [(amount,)] = self.env["account.move.line"]._read_group(
            [
                ("account_id", "=", journal.default_account_id.id),
                ("parent_state", "=", "posted"),
                ("company_id", "=", self.company_id.id),
            ],
            [],
            ["amount_currency:sum"],
        )
        return amount
