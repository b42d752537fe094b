import logging
from datetime import timedelta
from decimal import Decimal

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.fields import Command

from .. import const
from ..gumroad import GumroadError, MalformedPayloadError, MissingScopeError
from ..gumroad.balance import split_payout
from ..gumroad.payouts import (
    match_payout_transactions,
    parse_payout,
    parse_transactions,
)

_logger = logging.getLogger(__name__)


class GumroadPayout(models.Model):
    _name = "gumroad.payout"
    _description = "Gumroad Payout"
    _order = "payout_date desc, id desc"
    _rec_name = "name"

    # === FIELDS === #

    account_id = fields.Many2one(
        "gumroad.account",
        string="Connector",
        required=True,
        ondelete="restrict",
        index=True,
    )
    company_id = fields.Many2one(
        related="account_id.company_id", store=True, index=True
    )
    gumroad_id = fields.Char(string="Gumroad payout id", required=True, readonly=True)
    name = fields.Char(compute="_compute_name")
    usd_currency_id = fields.Many2one(
        "res.currency", default=lambda self: self.env.ref("base.USD"), readonly=True
    )
    amount = fields.Monetary(currency_field="usd_currency_id", readonly=True)
    status = fields.Char(readonly=True)
    payout_date = fields.Date(
        readonly=True, help="The day the money left Gumroad (UTC)."
    )
    created_at = fields.Datetime(string="Created at (UTC)", readonly=True)
    processed_at = fields.Datetime(string="Processed at (UTC)", readonly=True)
    payment_processor = fields.Char(readonly=True)
    bank_account_visual = fields.Char(string="Bank account", readonly=True)
    paypal_email = fields.Char(string="PayPal email", readonly=True)
    sale_ids = fields.One2many("gumroad.sale", "payout_id", string="Sales paid")
    sale_count = fields.Integer(string="Sales", compute="_compute_sale_count")
    gumroad_sale_ids = fields.Json(
        string="Gumroad sale ids", readonly=True, help="The sales Gumroad lists."
    )
    move_id = fields.Many2one(
        "account.move",
        string="Entry",
        readonly=True,
        copy=False,
        help="The transfer from the Gumroad balance, or the self-billing invoice to "
        "Gumroad (Gumroad as customer).",
    )
    statement_line_id = fields.Many2one(
        "account.bank.statement.line",
        string="Bank statement line",
        readonly=True,
        copy=False,
    )
    state = fields.Selection(
        [
            ("booked", "Booked"),
            ("reconciled", "Reconciled with the bank"),
        ],
        default="booked",
        required=True,
        readonly=True,
    )
    raw_json = fields.Json(string="Gumroad data", readonly=True)
    line_ids = fields.One2many(
        "gumroad.payout.line", "payout_id", string="Transactions", readonly=True
    )
    unmatched_count = fields.Integer(
        string="Differences", compute="_compute_unmatched_count"
    )
    transactions_note = fields.Char(readonly=True)
    adjustment_move_id = fields.Many2one(
        "account.move",
        string="Gumroad adjustments",
        readonly=True,
        copy=False,
        help="Gumroad's own credits, fees and retained refund fees from the "
        "payout's transactions, booked on the Gumroad balance.",
    )

    # === CONSTRAINTS === #

    _gumroad_id_account_uniq = models.Constraint(
        "UNIQUE(account_id, gumroad_id)",
        "A Gumroad payout is recorded once per connector.",
    )

    # === COMPUTE METHODS === #

    def _compute_name(self):
        for payout in self:
            payout.name = self.env._(
                "Gumroad payout %(date)s", date=payout.payout_date or ""
            )

    @api.depends("line_ids.state")
    def _compute_unmatched_count(self):
        for payout in self:
            payout.unmatched_count = len(
                payout.line_ids.filtered(
                    lambda line: line.state not in ("matched", "information")
                )
            )

    def _compute_sale_count(self):
        counts = dict(
            self.env["gumroad.sale"]._read_group(
                [("payout_id", "in", self.ids)], ["payout_id"], ["__count"]
            )
        )
        for payout in self:
            payout.sale_count = counts.get(payout, 0)

    # === CRUD METHODS === #

    @api.ondelete(at_uninstall=False)
    def _unlink_except_booked(self):
        if self.filtered("move_id"):
            raise UserError(
                self.env._(
                    "A booked payout cannot be deleted: the next sync would book it "
                    "again. Reverse its entry instead."
                )
            )

    # === ACTION METHODS === #

    def action_open_sales(self):
        self.ensure_one()
        action = self.account_id.action_open_sales()
        action["domain"] = [("payout_id", "=", self.id)]
        return action

    def action_reconcile_statement(self):
        """Find the bank statement line of each payout and reconcile it."""
        matched = self._reconcile_with_statements()
        if not matched and len(self) == 1:
            raise UserError(
                self.env._(
                    "No unreconciled bank statement line of %(amount)s USD dated "
                    "%(first)s to %(last)s was found in %(journal)s.",
                    amount=f"{self.amount:.2f}",
                    first=self.payout_date
                    - timedelta(days=const.PAYOUT_MATCH_DAYS_BEFORE),
                    last=self.payout_date
                    + timedelta(days=const.PAYOUT_MATCH_DAYS_AFTER),
                    journal=self.account_id._payout_bank_journal().display_name,
                )
            )
        return True

    # === BUSINESS METHODS: sync === #

    @api.model
    def _sync_payouts(self, account):
        """Record and book every completed payout not recorded yet.

        :return: the new payouts
        """
        client = account._gumroad_client()
        known = set(
            self.search_fetch([("account_id", "=", account.id)], ["gumroad_id"]).mapped(
                "gumroad_id"
            )
        )
        created = self.browse()
        self._sync_upcoming(account, client)
        # Gumroad lists the newest first: book the oldest first, so that the journal's
        # sequence follows the payout dates.
        for data in reversed(list(client.iter_payouts())):
            try:
                listed = parse_payout(data)
            except MalformedPayloadError as err:
                raise UserError(
                    self.env._(
                        "Gumroad sent a payout that cannot be read: %(reason)s",
                        reason=err,
                    )
                ) from err
            if listed.id in known or not listed.is_paid:
                continue
            raw = client.get_payout(listed.id, include_transactions=True)
            detail = parse_payout(raw)
            payout = self.create(self._vals_from(account, detail))
            payout._link_sales()
            payout._book()
            payout._match_transactions(raw)
            payout._book_adjustments()
            created |= payout
            known.add(listed.id)
        return created

    @api.model
    def _vals_from(self, account, payout):
        def naive(moment):
            return moment.replace(tzinfo=None) if moment else False

        if payout.currency != "USD":
            raise UserError(
                self.env._(
                    "Payout %(id)s is in %(currency)s: the Gumroad balance is in USD.",
                    id=payout.id,
                    currency=payout.currency,
                )
            )
        return {
            "account_id": account.id,
            "gumroad_id": payout.id,
            "amount": float(payout.amount),
            "status": payout.status,
            "payout_date": payout.payout_date,
            "created_at": naive(payout.created_at),
            "processed_at": naive(payout.processed_at),
            "payment_processor": payout.payment_processor,
            "bank_account_visual": payout.bank_account_visual,
            "paypal_email": payout.paypal_email,
            "gumroad_sale_ids": list(payout.sale_ids or ()),
            "raw_json": payout.raw,
        }

    def _link_sales(self):
        for payout in self:
            ids = payout.gumroad_sale_ids or []
            if not ids:
                continue
            sales = self.env["gumroad.sale"].search(
                [("account_id", "=", payout.account_id.id), ("gumroad_id", "in", ids)]
            )
            sales.filtered(lambda s: not s.payout_id).payout_id = payout

    @api.model
    def _sync_upcoming(self, account, client):
        """The upcoming payout, for the dashboard (payouts_controller.rb#upcoming:
        unsaved payments, amount and status payable/paused, no id)."""
        upcoming = client.get_upcoming_payouts()
        first = upcoming[0] if upcoming and isinstance(upcoming[0], dict) else {}
        try:
            amount = float(str(first.get("amount") or "0").replace(",", ""))
        except ValueError as err:
            raise UserError(
                self.env._(
                    "Gumroad sent an upcoming payout whose 'amount' is not a number: "
                    "%(amount)s",
                    amount=first.get("amount"),
                )
            ) from err
        status = first.get("status")
        created = first.get("created_at")
        account.write(
            {
                "upcoming_payout_amount": amount,
                "upcoming_payout_status": status
                if status in ("payable", "paused")
                else False,
                "upcoming_payout_date": str(created)[:10] if created else False,
            }
        )

    # === BUSINESS METHODS: transactions === #

    def _match_transactions(self, raw):
        """Store the payout's transactions, each against what the books say."""
        self.ensure_one()
        try:
            transactions = parse_transactions(raw, self.gumroad_id)
        except MalformedPayloadError as err:
            if err.field == "transactions" and "transactions" not in raw:
                self.transactions_note = self.env._(
                    "Gumroad sent no transactions for this payout."
                )
                return
            raise UserError(
                self.env._(
                    "Gumroad sent payout transactions that cannot be read: %(reason)s",
                    reason=err,
                )
            ) from err
        sale_ids = {t.sale_id for t in transactions if t.sale_id}
        sales = self.env["gumroad.sale"].search(
            [
                ("account_id", "=", self.account_id.id),
                ("gumroad_id", "in", list(sale_ids)),
            ]
        )
        earlier = self.env["gumroad.payout.line"].search(
            [
                ("payout_id.account_id", "=", self.account_id.id),
                ("payout_id", "!=", self.id),
                ("gumroad_sale_id", "in", list(sale_ids)),
            ]
        )
        counted, counted_affiliate = {}, {}
        for line in earlier:
            key = line.gumroad_sale_id
            counted[key] = (
                counted.get(key, 0) + line.gumroad_amount + line.affiliate_in_rows
            )
            counted_affiliate[key] = (
                counted_affiliate.get(key, 0) + line.booked_affiliate
            )
        # The Credit row of a won dispute is the seller's re-credit, net of the
        # affiliate's share (dispute_win_credits.rb; base.rb lists no affiliate row
        # for it): that share is in the sale's rows, not in the Affiliate Credit row.
        credited = {t.sale_id for t in transactions if t.kind == "Credit" and t.sale_id}
        in_rows = {
            sale.gumroad_id: sale.money_dispute_affiliate
            for sale in sales
            if sale.dispute_state == "won" and sale.gumroad_id in credited
        }
        # What this payout should cover of each sale: its net on the balance as
        # booked, before the affiliate's commission (Gumroad lists commissions in
        # their own Affiliate Credit row), less what earlier payouts already paid
        # of it. Direct sales never were on the balance.
        direct = {sale.gumroad_id for sale in sales if sale.payment_processor}
        balance_sales = sales.filtered(lambda sale: not sale.payment_processor)
        booked = {
            sale.gumroad_id: round(
                sale.money_earnings
                + sale.money_affiliate
                - counted.get(sale.gumroad_id, 0)
                - in_rows.get(sale.gumroad_id, 0),
                2,
            )
            for sale in balance_sales
        }
        affiliate_by_sale = {
            sale.gumroad_id: round(
                sale.money_affiliate - counted_affiliate.get(sale.gumroad_id, 0), 2
            )
            for sale in balance_sales
        }
        affiliate = Decimal(
            str(
                round(
                    sum(affiliate_by_sale.values(), 0.0) - sum(in_rows.values(), 0.0),
                    2,
                )
            )
        ).quantize(Decimal("0.01"))
        # A Sale row's net is price - fee (base.rb summarize_sale): when it agrees,
        # a difference on the sale's refund rows is the refunds' own.
        sale_nets = {
            sale.gumroad_id: round(sale.price_usd - sale.gumroad_fee_usd, 2)
            for sale in balance_sales
        }
        by_id = {sale.gumroad_id: sale for sale in sales}
        self.line_ids = [Command.clear()] + [
            Command.create(
                {
                    "sequence": index,
                    "kind": match.kind,
                    "label": match.label,
                    "gumroad_sale_id": match.sale_id,
                    "sale_id": by_id[match.sale_id].id
                    if match.sale_id in by_id
                    else False,
                    "gumroad_amount": float(match.gumroad),
                    "booked_amount": float(match.booked or 0),
                    "booked_affiliate": affiliate_by_sale.get(match.sale_id, 0)
                    if match.sale_id and match.state != "information"
                    else 0,
                    "affiliate_in_rows": in_rows.get(match.sale_id, 0)
                    if match.sale_id and match.state != "information"
                    else 0,
                    "difference": float(match.difference)
                    if match.booked is not None
                    else 0,
                    "to_book": float(match.book),
                    "book_against": match.against,
                    "state": match.state,
                }
            )
            for index, match in enumerate(
                match_payout_transactions(
                    transactions, booked, affiliate, direct, sale_nets
                )
            )
        ]
        self.transactions_note = False

    def _book_adjustments(self):
        """One entry on the Gumroad balance for Gumroad's own adjustments (credits,
        payout fees, retained refund fees), each line with Gumroad's label."""
        for payout in self.filtered(lambda p: not p.adjustment_move_id):
            lines = payout.line_ids.filtered("to_book")
            if not lines:
                continue
            account = payout.account_id
            company = account.company_id
            journal = account._balance_journal()
            day = account._first_open_day(payout.payout_date, journal)
            usd = payout.usd_currency_id
            label = self.env._(
                "Gumroad adjustments, payout %(id)s", id=payout.gumroad_id
            )
            expense = {
                "fee": account._fee_account,
                "retained": account._retained_fee_account,
                "affiliate": account._affiliate_account,
            }
            commands = []
            for line in lines:
                amount = line.to_book
                balance = usd._convert(amount, company.currency_id, company, day)
                name = f"{line.label} ({payout.gumroad_id})"
                commands += [
                    Command.create(
                        {
                            "name": name,
                            "account_id": journal.default_account_id.id,
                            "currency_id": usd.id,
                            "amount_currency": amount,
                            "balance": balance,
                        }
                    ),
                    Command.create(
                        {
                            "name": name,
                            "account_id": expense[line.book_against or "fee"]().id,
                            "currency_id": usd.id,
                            "amount_currency": -amount,
                            "balance": -balance,
                        }
                    ),
                ]
            move = self.env["account.move"].create(
                {
                    "move_type": "entry",
                    "journal_id": journal.id,
                    "date": day,
                    "ref": label,
                    "line_ids": commands,
                }
            )
            move.action_post()
            payout.adjustment_move_id = move

    # === BUSINESS METHODS: booking === #

    def _book(self):
        """The payout's entry: money leaves the Gumroad balance for the bank."""
        for payout in self.filtered(lambda p: not p.move_id):
            account = payout.account_id
            if account.accounting_mode == "gumroad_customer":
                move = self.env["account.move"].create(payout._self_billing_vals())
            else:
                move = self.env["account.move"].create(payout._transfer_vals())
            move.action_post()
            payout.move_id = move

    def _transfer_vals(self):
        self.ensure_one()
        account = self.account_id
        company = account.company_id
        transfer_account = company.transfer_account_id
        if not transfer_account:
            raise UserError(
                self.env._(
                    "Company %(company)s has no internal transfer account "
                    "(Accounting settings): payouts need one.",
                    company=company.name,
                )
            )
        journal = account._balance_journal()
        day = account._first_open_day(self.payout_date, journal)
        amount = self.amount
        balance = self.usd_currency_id._convert(
            amount, company.currency_id, company, day
        )
        label = self.env._("Gumroad payout %(id)s", id=self.gumroad_id)
        return {
            "move_type": "entry",
            "journal_id": journal.id,
            "date": day,
            "ref": label,
            "gumroad_payout_id": self.id,
            "line_ids": [
                Command.create(
                    {
                        "name": label,
                        "account_id": transfer_account.id,
                        "currency_id": self.usd_currency_id.id,
                        "amount_currency": amount,
                        "balance": balance,
                    }
                ),
                Command.create(
                    {
                        "name": label,
                        "account_id": journal.default_account_id.id,
                        "currency_id": self.usd_currency_id.id,
                        "amount_currency": -amount,
                        "balance": -balance,
                    }
                ),
            ],
        }

    def _self_billing_vals(self):
        """A customer invoice to Gumroad for the payout, one line per sale it paid.

        Revenue was booked sale by sale; the lines take the money out of the Gumroad
        balance, so the invoice turns what Gumroad owes into its receivable, which
        the bank statement line pays.
        """
        self.ensure_one()
        account = self.account_id
        journal = account._balance_journal()
        partner = account._gumroad_partner()
        sales = self.sale_ids.sorted("sale_datetime")
        lines, rest = split_payout(
            self.amount,
            {
                sale.gumroad_id: sale.money_earnings
                for sale in sales
                if not sale.payment_processor
            },
        )
        by_id = {sale.gumroad_id: sale for sale in sales}
        invoice_lines = [
            Command.create(
                {
                    "name": by_id[sale_id]._payout_line_label(),
                    "quantity": 1,
                    "price_unit": float(amount),
                    "account_id": journal.default_account_id.id,
                    "tax_ids": [Command.clear()],
                }
            )
            for sale_id, amount in lines.items()
            if amount
        ]
        if rest or not invoice_lines:
            invoice_lines.append(
                Command.create(
                    {
                        "name": self.env._(
                            "Refunds, disputes and fees of sales paid out before"
                        )
                        if invoice_lines
                        else self.env._("Gumroad payout %(id)s", id=self.gumroad_id),
                        "quantity": 1,
                        "price_unit": float(rest),
                        "account_id": journal.default_account_id.id,
                        "tax_ids": [Command.clear()],
                    }
                )
            )
        vals = {
            "move_type": "out_invoice",
            "partner_id": partner.id,
            "invoice_date": self.payout_date,
            "currency_id": self.usd_currency_id.id,
            "ref": self.env._("Gumroad payout %(id)s", id=self.gumroad_id),
            "invoice_origin": self.env._("Self-billing: Gumroad payout"),
            "gumroad_payout_id": self.id,
            "invoice_line_ids": invoice_lines,
        }
        sales_journal = account._sales_journal()
        if sales_journal:
            vals["journal_id"] = sales_journal.id
        return vals

    # === BUSINESS METHODS: bank reconciliation === #

    def _counterpart_line(self):
        """The payout's open line the bank statement line settles."""
        self.ensure_one()
        if self.move_id.move_type == "out_invoice":  # self-billing: Gumroad owes it
            settles = lambda line: line.account_id.account_type == "asset_receivable"
        else:
            transfer = self.account_id.company_id.transfer_account_id
            settles = lambda line: line.account_id == transfer
        return self.move_id.line_ids.filtered(
            lambda line: not line.reconciled and line.balance > 0 and settles(line)
        )[:1]

    def _statement_candidates(self):
        self.ensure_one()
        journal = self.account_id._payout_bank_journal()
        if not journal:
            return self.env["account.bank.statement.line"]
        lines = self.env["account.bank.statement.line"].search(
            [
                ("journal_id", "=", journal.id),
                ("is_reconciled", "=", False),
                (
                    "date",
                    ">=",
                    self.payout_date - timedelta(days=const.PAYOUT_MATCH_DAYS_BEFORE),
                ),
                (
                    "date",
                    "<=",
                    self.payout_date + timedelta(days=const.PAYOUT_MATCH_DAYS_AFTER),
                ),
            ]
        )
        usd = self.usd_currency_id
        return lines.filtered(
            lambda st: (
                not usd.compare_amounts(st.amount_currency, self.amount)
                if st.foreign_currency_id == usd
                else st.currency_id == usd
                and not usd.compare_amounts(st.amount, self.amount)
            )
        ).sorted(lambda st: abs((st.date - self.payout_date).days))

    def _reconcile_with_statements(self):
        """Reconcile each booked payout with its bank statement line; returns the
        payouts reconciled."""
        reconciled = self.browse()
        taken = self.env["account.bank.statement.line"]
        for payout in self.filtered(
            lambda p: p.state == "booked" and p.move_id and p.amount
        ):
            candidates = payout._statement_candidates() - taken
            counterpart = payout._counterpart_line()
            if not candidates or not counterpart:
                continue
            st_line = candidates[0]
            payout._reconcile_statement_line(st_line, counterpart)
            taken |= st_line
            payout.write({"statement_line_id": st_line.id, "state": "reconciled"})
            reconciled |= payout
        return reconciled

    def _reconcile_statement_line(self, st_line, counterpart):
        """Put the statement line's suspense amount on the payout's account and
        reconcile the two, as the bank reconciliation does by hand."""
        _liquidity, suspense, _other = st_line._seek_for_lines()
        move = st_line.move_id
        move.button_draft()
        suspense.with_context(skip_readonly_check=True).write(
            {
                "account_id": counterpart.account_id.id,
                "partner_id": counterpart.partner_id.id,
                "name": counterpart.name,
            }
        )
        move.action_post()
        (suspense | counterpart).reconcile()

    @api.model
    def _cron_sync_payouts(self, accounts):
        """Sync and reconcile the payouts of the given connectors; never raises."""
        for account in accounts:
            try:
                self._sync_payouts(account)
            except MissingScopeError:
                continue  # the token cannot read payouts: shown on the connector
            except (GumroadError, UserError) as err:
                _logger.warning("Gumroad payouts of connector %s: %s", account.id, err)
                account.message_post(
                    body=self.env._("Payout sync failed: %(reason)s", reason=str(err))
                )
                continue
            self.search(
                [("account_id", "=", account.id), ("state", "=", "booked")]
            )._reconcile_with_statements()
