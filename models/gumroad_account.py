import logging
import os
import secrets
import time
from datetime import date
from typing import ClassVar

import psycopg2

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import config
from odoo.tools.urls import urljoin

from .. import const
from ..gumroad import (
    DEFAULT_BASE_URL,
    GumroadClient,
    GumroadError,
    MalformedPayloadError,
    MissingScopeError,
)
from ..gumroad import __version__ as client_version
from ..gumroad.catalog import read_catalogue
from ..utils import token_cipher
from .gumroad_sale_booking import CONCURRENCY_ERRORS

_logger = logging.getLogger(__name__)

TOKEN_PLACEHOLDER = "********"
# What `_webhook_targets` (cached) reads of a connector.
WEBHOOK_TARGET_FIELDS = frozenset(
    {"webhook_secret", "active", "company_id", "minimal_buyer_data"}
)


def _dashboard_figure(string):
    """A USD figure of the connector's dashboard, computed from what is booked."""
    return fields.Monetary(
        string=string, currency_field="usd_currency_id", compute="_compute_dashboard"
    )


class GumroadAccount(models.Model):
    """A connection to one Gumroad seller account: its token, settings, dashboard and
    actions. Its ledger (journals, accounts) is set up by `gumroad.account.ledger`, its
    imports scheduled by `gumroad.account.sync`.
    """

    _name = "gumroad.account"
    _description = "Gumroad Connector"
    _inherit: ClassVar[list[str]] = [
        "mail.thread",
        "mail.activity.mixin",
        "analytic.mixin",
        "gumroad.account.ledger",
        "gumroad.account.sync",
        "gumroad.account.retention",
        "gumroad.account.webhook",
        "gumroad.account.alerts",
    ]
    _order = "sequence, name, id"

    # === FIELDS === #

    name = fields.Char(
        required=True, tracking=True, help="A name for this Gumroad seller account."
    )
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company",
        required=True,
        default=lambda self: self.env.company,
        help="The company whose books receive this account's sales.",
    )
    company_currency_id = fields.Many2one(related="company_id.currency_id")
    api_base_url = fields.Char(
        string="API base URL",
        required=True,
        default=DEFAULT_BASE_URL,
        help="Gumroad's API address. Change it only to point at a Gumroad sandbox.",
    )
    state = fields.Selection(
        [
            ("not_connected", "Not connected"),
            ("connected", "Connected"),
            ("error", "Error"),
        ],
        default="not_connected",
        required=True,
        readonly=True,
        tracking=True,
        copy=False,
    )
    last_error = fields.Text(readonly=True, copy=False)

    # The token is write-only: `access_token` never returns it; only the ciphertext is
    # stored.
    access_token = fields.Char(
        compute="_compute_access_token",
        inverse="_inverse_access_token",
        groups="gumroad_connector.gumroad_connector_group_manager",
        help="A Gumroad access token (Settings > Advanced > Applications > Generate "
        "access token). It is stored encrypted and can never be read back.",
    )
    access_token_cipher = fields.Char(
        copy=False, groups="base.group_system", readonly=True, prefetch=False
    )
    has_token = fields.Boolean(readonly=True, copy=False)

    # Profile and summary filled by "Verify connection".
    gumroad_user_id = fields.Char(string="Gumroad user id", readonly=True, copy=False)
    profile_name = fields.Char(readonly=True, copy=False)
    profile_email = fields.Char(readonly=True, copy=False)
    profile_currency = fields.Char(readonly=True, copy=False)
    last_verified = fields.Datetime(readonly=True, copy=False)
    products_published_count = fields.Integer(readonly=True, copy=False)
    products_unpublished_count = fields.Integer(readonly=True, copy=False)
    sales_30d_count = fields.Integer(
        string="Sales (30 days)", readonly=True, copy=False
    )
    revenue_30d = fields.Monetary(
        string="Revenue (30 days)",
        currency_field="usd_currency_id",
        readonly=True,
        copy=False,
    )
    usd_currency_id = fields.Many2one(
        "res.currency", compute="_compute_usd_currency_id", string="USD"
    )
    missing_scopes = fields.Text(
        readonly=True,
        copy=False,
        help="Features unavailable with this token because it lacks a scope.",
    )

    # Accounting defaults.
    journal_id = fields.Many2one(
        "account.journal",
        string="Sales journal",
        domain="[('type', '=', 'sale'), ('company_id', '=', company_id)]",
        check_company=True,
        help="Journal of the invoices and credit notes. Default: the company's first "
        "sales journal.",
    )
    income_account_id = fields.Many2one(
        "account.account",
        string="Income account",
        check_company=True,
        help="Income account of the invoice lines. Default: the product's income "
        "account.",
    )
    shipping_account_id = fields.Many2one(
        "account.account",
        string="Shipping income account",
        check_company=True,
        help="Account of the shipping line of invoices (Gumroad's price includes "
        "shipping). Default: the product line's income account.",
    )
    tip_account_id = fields.Many2one(
        "account.account",
        string="Tips income account",
        check_company=True,
        help="Account of the tip line of invoices (Gumroad's price includes the "
        "buyer's tip). Default: the product line's income account.",
    )
    seller_tax_account_id = fields.Many2one(
        "account.account",
        string="Seller-collected tax account",
        check_company=True,
        help="Tax payable account of the taxes the seller collected through Gumroad "
        "(inside the price). Created on first use. Tax Gumroad collected is never "
        "booked.",
    )
    currency_mode = fields.Selection(
        [
            ("usd", "USD, as Gumroad settles"),
            ("listed", "The product's listed currency"),
        ],
        default="usd",
        required=True,
        help="USD: invoices carry what Gumroad settles (the sale's price in USD). "
        "Listed currency: invoices carry the amount in the product's own currency.",
    )
    default_partner_id = fields.Many2one(
        "res.partner",
        string="Fallback customer",
        help="Customer of sales whose buyer has no email address.",
    )

    # The Gumroad balance, fees and payouts.
    accounting_mode = fields.Selection(
        const.ACCOUNTING_MODES,
        default="invoices",
        required=True,
        tracking=True,
        help="Per-buyer invoices: one invoice per sale to the buyer, paid from the "
        "Gumroad balance. Gumroad as customer: Gumroad is the merchant of record; "
        "each sale's revenue is a journal entry and each payout a self-billing "
        "invoice to Gumroad. Journal entries only: revenue, fees and payouts as "
        "journal entries. Daily summaries: one invoice per day and currency to "
        "Gumroad, the day's refunds and chargebacks as one credit note, the day's "
        "balance movements as one entry, booked once the day has ended. Every mode "
        "books the same net per sale and the same Gumroad balance; a sale keeps the "
        "mode it was first booked in.",
    )
    summary_from = fields.Date(
        string="Daily summaries from",
        tracking=True,
        help="Sales sold on this day (UTC) or later book in daily summaries; earlier "
        "sales still book one by one, in the mode used before. Set when switching to "
        "daily summaries; booked days are never rewritten.",
    )
    summary_previous_mode = fields.Selection(
        [m for m in const.ACCOUNTING_MODES if m[0] in const.PER_SALE_MODES],
        string="Mode before the daily summaries",
        default="invoices",
        help="How sales sold before 'Daily summaries from' book.",
    )
    summary_error = fields.Text(
        string="Daily summaries problem",
        readonly=True,
        copy=False,
        help="Why the last booking of the daily summaries failed; its sales wait, "
        "nothing is lost, and the next run (or Book daily summaries now) tries again.",
    )
    summary_pending_count = fields.Integer(
        string="Sales awaiting their summary",
        compute="_compute_summary_pending_count",
    )
    balance_journal_id = fields.Many2one(
        "account.journal",
        string="Gumroad balance journal",
        domain="[('type', '=', 'bank'), ('company_id', '=', company_id)]",
        check_company=True,
        help="Bank-like journal of the money Gumroad holds for the seller (USD): "
        "sales in, refunds, fees and payouts out. Created on the first booking.",
    )
    fee_account_id = fields.Many2one(
        "account.account",
        string="Gumroad fee account",
        check_company=True,
        help="Expense account of Gumroad's fees, booked with each sale. Created on "
        "the first booking.",
    )
    affiliate_account_id = fields.Many2one(
        "account.account",
        string="Affiliate commission account",
        check_company=True,
        help="Expense account of the affiliates' commissions Gumroad takes from the "
        "seller's share of a sale. Created on the first booking.",
    )
    retained_fee_account_id = fields.Many2one(
        "account.account",
        string="Retained processor fee account",
        check_company=True,
        help="Expense account of the processor fee Gumroad keeps on refunds. Created "
        "on the first refund.",
    )
    processor_fee_account_id = fields.Many2one(
        "account.account",
        string="Processor fee account",
        check_company=True,
        help="Expense account of PayPal's and Stripe's own fees on sales paid into "
        "the seller's own account. Created on the first such sale.",
    )
    paypal_journal_id = fields.Many2one(
        "account.journal",
        string="PayPal clearing journal",
        domain="[('type', 'in', ('bank', 'cash', 'general')), "
        "('company_id', '=', company_id)]",
        check_company=True,
        help="Journal of the money of sales paid into the seller's own PayPal "
        "account (never the Gumroad balance). Created on the first such sale.",
    )
    stripe_connect_journal_id = fields.Many2one(
        "account.journal",
        string="Stripe Connect clearing journal",
        domain="[('type', 'in', ('bank', 'cash', 'general')), "
        "('company_id', '=', company_id)]",
        check_company=True,
        help="Journal of the money of sales paid into the seller's own Stripe "
        "account (never the Gumroad balance). Created on the first such sale.",
    )
    payout_journal_id = fields.Many2one(
        "account.journal",
        string="Payout bank journal",
        domain="[('type', '=', 'bank'), ('company_id', '=', company_id)]",
        check_company=True,
        help="The seller's bank journal receiving Gumroad's payouts: its statement "
        "lines are matched with payouts. Default: the company's first bank journal.",
    )
    gumroad_partner_id = fields.Many2one(
        "res.partner",
        string="Gumroad partner",
        help="The customer of self-billing invoices (Gumroad as customer).",
    )
    payout_ids = fields.One2many("gumroad.payout", "account_id")
    payout_count = fields.Integer(compute="_compute_payout_count")

    # Dashboard (USD, from what is booked).
    dashboard_month_gross = _dashboard_figure("Gross sales (this month)")
    dashboard_month_refunds = _dashboard_figure("Refunds (this month)")
    dashboard_month_fees = _dashboard_figure("Fees (this month)")
    dashboard_month_net = _dashboard_figure("Net (this month)")
    dashboard_month_paid_out = _dashboard_figure("Paid out (this month)")
    dashboard_gross = _dashboard_figure("Gross sales")
    dashboard_refunds = _dashboard_figure("Refunds")
    dashboard_fees = _dashboard_figure("Fees")
    dashboard_net = _dashboard_figure("Net")
    dashboard_paid_out = _dashboard_figure("Paid out")
    gumroad_balance = fields.Monetary(
        string="Gumroad balance",
        currency_field="usd_currency_id",
        compute="_compute_dashboard",
        help="What Gumroad owes the seller, from the Gumroad balance journal.",
    )
    # GET /payouts/upcoming, read at each payout sync.
    upcoming_payout_amount = fields.Monetary(
        string="Upcoming payout",
        currency_field="usd_currency_id",
        readonly=True,
        help="What Gumroad says it will pay out next (GET /payouts/upcoming).",
    )
    upcoming_payout_date = fields.Date(readonly=True)
    upcoming_payout_status = fields.Selection(
        [("payable", "Payable"), ("paused", "Paused")],
        readonly=True,
        help="Paused: Gumroad holds the seller's payouts.",
    )

    # Sync settings and state.
    sync_enabled = fields.Boolean(
        string="Scheduled sync",
        default=True,
        help="Import new sales automatically, and re-scan the refund look-back window "
        "daily.",
    )
    refund_lookback_days = fields.Integer(
        default=const.DEFAULT_REFUND_LOOKBACK_DAYS,
        help="Refunds and disputes change old sales: the daily sync re-reads this "
        "many days.",
    )
    sync_watermark = fields.Date(
        readonly=True,
        copy=False,
        help="Every UTC day before this date has been imported completely.",
    )
    track_booking_history = fields.Boolean(
        string="Track history of booked entries",
        help="Log each booked invoice's creation and posting in its chatter, with its "
        "followers. Off by default, as in Odoo's own import: a seller with many "
        "sales gets no chatter noise and a faster import; every entry stays linked "
        "to its Gumroad sale.",
    )
    last_rescan_date = fields.Date(readonly=True, copy=False)
    last_sync_at = fields.Datetime(readonly=True, copy=False)
    disable_license_on_refund = fields.Boolean(
        string="Disable the licence when a sale is fully refunded or a dispute is lost",
        tracking=True,
        help="When a booking finds a sale with a licence key fully refunded or "
        "charged back, disable the key in Gumroad, once: a licence enabled again "
        "by hand stays enabled. A membership's charges share one licence, so it is "
        "disabled only once the membership has ended. Needs a token with the "
        "edit_products (or account) scope.",
    )

    # Imports: each is a `gumroad.import` run with its own progress and chatter.
    import_ids = fields.One2many("gumroad.import", "account_id", string="Imports")
    import_count = fields.Integer(compute="_compute_last_import")
    last_import_id = fields.Many2one(
        "gumroad.import", string="Last import", compute="_compute_last_import"
    )
    last_import_state = fields.Char(
        string="Last import status", compute="_compute_last_import"
    )
    last_import_summary = fields.Text(compute="_compute_last_import")
    last_import_error = fields.Text(compute="_compute_last_import")

    sale_ids = fields.One2many("gumroad.sale", "account_id")
    sale_count = fields.Integer(compute="_compute_sale_count")
    error_sale_count = fields.Integer(compute="_compute_sale_count")
    product_count = fields.Integer(compute="_compute_product_count")

    # Webhooks.
    webhook_secret = fields.Char(
        copy=False,
        groups="gumroad_connector.gumroad_connector_group_manager",
        default=lambda self: secrets.token_urlsafe(32),
    )
    webhook_url = fields.Char(
        compute="_compute_webhook_url",
        groups="gumroad_connector.gumroad_connector_group_manager",
        help="The address Gumroad posts its pings to.",
    )
    webhook_registered_resources = fields.Char(readonly=True, copy=False)

    # === CONSTRAINTS === #

    _webhook_secret_uniq = models.Constraint(
        "UNIQUE(webhook_secret)", "Each connector needs its own webhook secret."
    )
    # Two connectors on one Gumroad account would book every sale twice (the sale rows
    # are unique per connector); action_verify_connection says which one holds it.
    _gumroad_user_id_uniq = models.UniqueIndex(
        "(gumroad_user_id) WHERE gumroad_user_id IS NOT NULL",
        "This Gumroad account is already connected by another connector.",
    )
    _refund_lookback_days_positive = models.Constraint(
        "CHECK(refund_lookback_days >= 0)",
        "The refund look-back window cannot be negative.",
    )

    # === COMPUTE METHODS === #

    def _compute_access_token(self):
        for account in self:
            account.access_token = (
                TOKEN_PLACEHOLDER if account.sudo().has_token else False
            )

    def _inverse_access_token(self):
        for account in self:
            token = (account.access_token or "").strip()
            if token == TOKEN_PLACEHOLDER:
                continue
            if not token:
                account.sudo().write({"access_token_cipher": False, "has_token": False})
                continue
            cipher = token_cipher.encrypt(token, self._token_key())
            account.sudo().write(
                {
                    "access_token_cipher": cipher,
                    "has_token": True,
                    "state": "not_connected",
                    "last_error": False,
                }
            )
        # The written value sits in the cache: drop it so no read returns it.
        self.invalidate_recordset(["access_token"])

    def _compute_usd_currency_id(self):
        usd = self.env.ref("base.USD")
        for account in self:
            account.usd_currency_id = usd

    def _compute_last_import(self):
        runs = self.env["gumroad.import"].search_fetch(
            [("account_id", "in", self.ids), ("parent_id", "=", False)],
            ["account_id"],
            order="id desc",
        )
        by_account = runs.grouped("account_id")
        for account in self:
            account_runs = by_account.get(account, runs.browse())
            last = account_runs[:1]
            account.import_count = len(account_runs)
            account.last_import_id = last
            states = dict(last._fields["state"]._description_selection(self.env))
            account.last_import_state = states.get(last.state, False)
            account.last_import_summary = last.summary or False
            account.last_import_error = last.error_message or False

    def _compute_sale_count(self):
        counts = dict(
            self.env["gumroad.sale"]._read_group(
                [("account_id", "in", self.ids)], ["account_id"], ["__count"]
            )
        )
        errors = dict(
            self.env["gumroad.sale"]._read_group(
                [("account_id", "in", self.ids), ("state", "=", "error")],
                ["account_id"],
                ["__count"],
            )
        )
        for account in self:
            account.sale_count = counts.get(account, 0)
            account.error_sale_count = errors.get(account, 0)

    def _compute_payout_count(self):
        counts = dict(
            self.env["gumroad.payout"]._read_group(
                [("account_id", "in", self.ids)], ["account_id"], ["__count"]
            )
        )
        for account in self:
            account.payout_count = counts.get(account, 0)

    def _compute_dashboard(self):
        month_start = fields.Date.context_today(self).replace(day=1)
        money = [
            "money_collected:sum",
            "money_returned:sum",
            "money_fee:sum",
            "money_earnings:sum",
        ]
        for account in self:
            # A connector being created (a form's NewId) has booked nothing yet.
            account_id = account._origin.id or 0
            figures = {}
            for period, since in (("month", month_start), ("all", date.min)):
                [(gross, refunds, fees, net)] = self.env["gumroad.sale"]._read_group(
                    # The Gumroad balance's sales: direct (PayPal / Stripe Connect)
                    # sales are in the seller's own accounts.
                    [
                        ("account_id", "=", account_id),
                        ("sale_date", ">=", since),
                        ("payment_processor", "=", False),
                    ],
                    [],
                    money,
                )
                [(paid_out,)] = self.env["gumroad.payout"]._read_group(
                    [("account_id", "=", account_id), ("payout_date", ">=", since)],
                    [],
                    ["amount:sum"],
                )
                figures[period] = (gross, refunds, fees, net, paid_out)
            for prefix, period in (
                ("dashboard_month_", "month"),
                ("dashboard_", "all"),
            ):
                gross, refunds, fees, net, paid_out = figures[period]
                account[f"{prefix}gross"] = gross
                account[f"{prefix}refunds"] = refunds
                account[f"{prefix}fees"] = fees
                account[f"{prefix}net"] = net
                account[f"{prefix}paid_out"] = paid_out
            account.gumroad_balance = (
                account._origin._balance_amount() if account_id else 0
            )

    def _compute_product_count(self):
        counts = dict(
            self.env["product.template"]
            .with_context(active_test=False)
            ._read_group(
                [("gumroad_account_id", "in", self.ids)],
                ["gumroad_account_id"],
                ["__count"],
            )
        )
        for account in self:
            account.product_count = counts.get(account, 0)

    def _compute_webhook_url(self):
        base_url = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        for account in self:
            account.webhook_url = (
                urljoin(base_url, f"/gumroad/webhook/{account.webhook_secret}")
                if account.webhook_secret
                else False
            )

    def _compute_summary_pending_count(self):
        counts = dict(
            self.env["gumroad.sale"]._read_group(
                [("account_id", "in", self.ids), ("summary_pending", "=", True)],
                ["account_id"],
                ["__count"],
            )
        )
        for account in self:
            account.summary_pending_count = counts.get(account._origin, 0)

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("accounting_mode") == "summary":
                vals.setdefault("summary_from", fields.Date.context_today(self))
        accounts = super().create(vals_list)
        self.env.registry.clear_cache()  # _webhook_targets
        for account in accounts:
            account.message_post(body=self.env._("Connector created."))
        return accounts

    def write(self, vals):
        if vals.get("accounting_mode") == "summary":
            # The switch applies from a day: sales sold before it keep booking as
            # they did.
            for account in self.filtered(lambda a: a.accounting_mode != "summary"):
                super(GumroadAccount, account).write(
                    {
                        "summary_previous_mode": account.accounting_mode,
                        "summary_from": vals.get("summary_from")
                        or fields.Date.context_today(self),
                    }
                )
        result = super().write(vals)
        if WEBHOOK_TARGET_FIELDS.intersection(vals):
            self.env.registry.clear_cache()  # _webhook_targets
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()  # _webhook_targets
        return result

    # === BUSINESS METHODS: credentials === #

    @api.model
    def _token_key(self):
        """Return the AES key from the server config or the environment.

        :raise UserError: when no key, or an invalid one, is configured
        """
        encoded = config.get(const.KEY_CONFIG_OPTION) or os.environ.get(
            const.KEY_ENV_VARIABLE
        )
        try:
            return token_cipher.load_key(encoded)
        except token_cipher.KeyMissingError as err:
            raise UserError(
                self.env._(
                    "No encryption key is configured for Gumroad tokens, so the token "
                    "cannot be stored safely. Set the Odoo server option '%(option)s' "
                    "(in odoo.conf) or the environment variable %(env)s to a "
                    "base64-encoded 32-byte key, e.g. the output of: "
                    'python3 -c "import base64, os; '
                    'print(base64.b64encode(os.urandom(32)).decode())", '
                    "then restart Odoo.",
                    option=const.KEY_CONFIG_OPTION,
                    env=const.KEY_ENV_VARIABLE,
                )
            ) from err
        except token_cipher.KeyInvalidError as err:
            raise UserError(
                self.env._(
                    "The Gumroad encryption key (option '%(option)s' or %(env)s) is "
                    "not a base64-encoded 32-byte key.",
                    option=const.KEY_CONFIG_OPTION,
                    env=const.KEY_ENV_VARIABLE,
                )
            ) from err

    def _decrypted_token(self):
        """Decrypt the stored token; only server-side code calls this, at request time.

        Note: self.ensure_one()
        :raise UserError: no token, or a token encrypted under another key
        """
        self.ensure_one()
        cipher = self.sudo().access_token_cipher
        if not cipher:
            raise UserError(
                self.env._(
                    "Connector %(name)s has no access token. Paste a Gumroad access "
                    "token on the connector first.",
                    name=self.name,
                )
            )
        try:
            return token_cipher.decrypt(cipher, self._token_key())
        except token_cipher.WrongKeyError as err:
            raise UserError(
                self.env._(
                    "The access token of connector %(name)s was encrypted with "
                    "another key than the one configured now (%(option)s / %(env)s). "
                    "Restore the previous key, or paste the token again.",
                    name=self.name,
                    option=const.KEY_CONFIG_OPTION,
                    env=const.KEY_ENV_VARIABLE,
                )
            ) from err

    def _gumroad_client(self):
        """Return a GumroadClient for this account: the one exit to Gumroad.

        Note: self.ensure_one()
        """
        self.ensure_one()
        return GumroadClient(
            self._decrypted_token(),
            base_url=self.api_base_url or DEFAULT_BASE_URL,
            user_agent=f"gumroad_connector/{client_version} (+Odoo)",
            # Imports read hundreds of pages: one that keeps failing is read again
            # (twice, after 15 s and 30 s) before the import stops.
            page_resumes=const.PAGE_RESUMES,
            # Looked up at each call, so a test can make the retry back-off free.
            sleep=lambda seconds: time.sleep(seconds),
        )

    # === BUSINESS METHODS === #

    def _set_error(self, message):
        self.ensure_one()
        self.sudo().write({"state": "error", "last_error": message})
        self.message_post(body=self.env._("Gumroad error: %(msg)s", msg=message))

    # === ACTION METHODS === #

    def action_verify_connection(self):
        """Call GET /user, probe the scopes, and fill the profile and the 30-day
        summary.

        :raise UserError: with Gumroad's reason when the connection fails
        """
        self.ensure_one()
        self._check_manager_access()
        client = self._gumroad_client()
        try:
            user = client.get_user()
        except GumroadError as err:
            # No exception here: it would roll back the error state the user must see.
            self._set_error(str(err))
            self._refresh_alerts()
            return self._notify(
                self.env._(
                    "Gumroad refused the connection: %(reason)s", reason=str(err)
                ),
                "danger",
            )
        holder = self._connector_holding(user.get("id"))
        if holder:
            message = self.env._(
                "This Gumroad account (%(gumroad)s) is already connected by the "
                "connector “%(name)s” (%(company)s%(archived)s). One Gumroad "
                "account has one connector per database: a second one would book "
                "every sale twice. Use that connector (reconnect it with this "
                "token), or delete it if it has booked nothing.",
                gumroad=user.get("email") or user.get("name") or user.get("id"),
                name=holder.name,
                company=holder.company_id.name,
                archived=self.env._(", archived") if not holder.active else "",
            )
            self._set_error(message)
            return self._notify(message, "danger")
        vals = {
            "gumroad_user_id": user.get("id"),
            "profile_name": user.get("display_name") or user.get("name"),
            "profile_email": user.get("email"),
            "profile_currency": (user.get("currency_type") or "").upper() or False,
            "last_verified": fields.Datetime.now(),
            "state": "connected",
            "last_error": False,
        }
        vals.update(self._probe_summary(client))
        was_connected = self.state == "connected"
        self.sudo().write(vals)
        if not was_connected:
            self.message_post(
                body=self.env._(
                    "Connected to Gumroad as %(name)s.", name=vals["profile_name"]
                )
            )
        self._refresh_alerts()
        return self._notify(
            self.env._("Connected to Gumroad as %(name)s.", name=vals["profile_name"]),
            "success",
        )

    def _connector_holding(self, gumroad_user_id):
        """Another connector of this database (any company, archived or not) already
        verified on that Gumroad account, or an empty recordset.
        """
        self.ensure_one()
        if not gumroad_user_id:
            return self.browse()
        return (
            self.sudo()
            .with_context(active_test=False)
            .search(
                [("gumroad_user_id", "=", gumroad_user_id), ("id", "!=", self.id)],
                limit=1,
            )
        )

    def _probe_summary(self, client):
        """Count products, read the 30-day sales summary; list features a missing
        scope blocks.
        """
        missing = []
        vals = {}
        try:
            published = unpublished = 0
            for product in client.iter_products():
                if product.get("deleted"):
                    continue
                if product.get("published"):
                    published += 1
                else:
                    unpublished += 1
            vals.update(
                products_published_count=published,
                products_unpublished_count=unpublished,
            )
        except MissingScopeError:
            missing.append(
                self.env._("Products: needs a token with view_sales or account.")
            )
        try:
            # Gumroad's default window: the 30 days ending the seller's today.
            totals = client.get_sales_summary().totals
            vals.update(sales_30d_count=totals.units, revenue_30d=float(totals.gross))
        except MissingScopeError:
            missing.append(
                self.env._(
                    "Sales import and webhooks: need the view_sales (or account) scope."
                )
            )
        try:
            next(iter(client.iter_payouts()), None)
        except MissingScopeError:
            missing.append(
                self.env._("Payouts: need the view_payouts (or account) scope.")
            )
        except GumroadError:
            _logger.info("Payout probe failed for connector %s", self.id, exc_info=True)
        vals["missing_scopes"] = "\n".join(missing) or False
        return vals

    def action_disconnect(self):
        """Forget the token (unregistering webhooks first when possible)."""
        self._check_manager_access()
        for account in self:
            if account.sudo().has_token and account.webhook_registered_resources:
                try:
                    account._unregister_webhooks()
                except (GumroadError, UserError) as err:
                    _logger.warning(
                        "Could not unregister webhooks of %s: %s", account.id, err
                    )
            account.sudo().write(
                {
                    "access_token_cipher": False,
                    "has_token": False,
                    "state": "not_connected",
                    "last_error": False,
                    "webhook_registered_resources": False,
                    "webhook_registered_at": False,
                }
            )
            account.message_post(
                body=self.env._("Disconnected from Gumroad; token removed.")
            )
        return True

    def action_regenerate_webhook_secret(self):
        self._check_manager_access()
        for account in self:
            account.sudo().webhook_secret = secrets.token_urlsafe(32)
            account.message_post(
                body=self.env._(
                    "Webhook secret regenerated: update the URL registered in "
                    "Gumroad (Enable real-time sync does it for you)."
                )
            )
        return True

    def action_import_products(self):
        """Create or update one product.template per Gumroad product (every page)."""
        self.ensure_one()
        self._check_manager_access()
        client = self._gumroad_client()
        try:
            products = list(client.iter_products())
            # Variants, SKUs and offer codes of each product (gumroad/catalog.py).
            catalogues = {
                p["id"]: read_catalogue(client, p) for p in products if p.get("id")
            }
        except (GumroadError, MalformedPayloadError) as err:
            self._set_error(str(err))
            raise UserError(
                self.env._(
                    "Gumroad refused the product import: %(reason)s", reason=str(err)
                )
            ) from err
        counts = self.env["product.template"]._gumroad_sync_products(
            self, products, catalogues
        )
        message = self.env._(
            "Products imported: %(created)s created, %(updated)s updated, "
            "%(unchanged)s unchanged, %(archived)s archived.",
            **counts,
        )
        self.message_post(body=message)
        return self._notify(message, "success")

    def action_import_sales(self, date_from=None, date_to=None):
        """Import the sales of [date_from, date_to] (UTC days, both inclusive) now, in
        the caller's transaction (a script or a server action commits it).

        Dates are `date` objects or 'YYYY-MM-DD'; without them the incremental window
        (since the watermark) is used. The import is recorded as a `gumroad.import`.

        :return: dict of counts: new, changed, unchanged, skipped, failed, read
        :raise UserError: when Gumroad stops the import (with Gumroad's reason)
        """
        self.ensure_one()
        self._check_manager_access()
        date_from, date_to = self._import_range(date_from, date_to)
        run = self.env["gumroad.import"]._new_run(self, date_from, date_to, "manual")
        counts = run._run_foreground()
        if run.state == "failed":
            raise UserError(run.error_message)
        return counts

    def action_book_summaries(self):
        """Book every sale awaiting its daily summary now, today's included (the
        sales of today that arrive later go into a further summary of the day)."""
        self.ensure_one()
        self._check_manager_access()
        moves = self._book_due_summaries(
            fields.Date.context_today(self), raise_error=True
        )
        self._refresh_alerts()
        if not moves:
            return self._notify(self.env._("No sale awaits its daily summary."), "info")
        message = self.env._("%(count)s daily summaries booked.", count=len(moves))
        self.message_post(body=message)
        return self._notify(message, "success")

    @api.model
    def _cron_book_summaries(self):
        """Book the daily summaries of the days that have ended, connector by
        connector (the sales of a ping or of the scheduled sync wait for their day's
        end)."""
        cron = self.env["ir.cron"]
        accounts = self.browse(
            {
                account.id
                for [account] in self.env["gumroad.sale"]._read_group(
                    [("summary_pending", "=", True)], ["account_id"]
                )
            }
        )
        for index, account in enumerate(accounts):
            try:
                with self.env.cr.savepoint():
                    account._book_due_summaries()
            except CONCURRENCY_ERRORS as err:
                # A booker of the same sales got there first: the next run books
                # what is left.
                _logger.info(
                    "Gumroad connector %s: daily summaries conflicted (%r)",
                    account.id,
                    err,
                )
            if cron._commit_progress(1, remaining=len(accounts) - index - 1) <= 0:
                break

    def _book_due_summaries(self, through=None, raise_error=False):
        """Book the daily summaries of the days up to `through` (default: up to
        yesterday) that have sales awaiting them.

        A summary that cannot be booked (an inactive currency, a missing account)
        leaves its sales waiting, says why on the connector (and in an alert), and is
        tried again by the next run; it never fails the import that called it.

        :return: the summary moves created
        """
        self.ensure_one()
        Sale = self.env["gumroad.sale"]
        through = through or Sale._summary_due_day()
        try:
            with self.env.cr.savepoint():
                moves = Sale._book_summaries(self, through)
        except CONCURRENCY_ERRORS:
            raise
        except (UserError, ValidationError, ValueError, psycopg2.Error) as err:
            reason = getattr(err, "args", [str(err)])[0] or str(err)
            message = self.env._(
                "Daily summaries through %(day)s could not be booked: %(reason)s",
                day=through,
                reason=reason,
            )
            _logger.warning("Gumroad connector %s: %s", self.id, message)
            if self.summary_error != message:
                self.sudo().summary_error = message
                self.message_post(body=message)
            if raise_error:
                raise UserError(message) from err
            return self.env["account.move"]
        if self.summary_error and (
            moves
            or not Sale.search_count(
                [("account_id", "=", self.id), ("summary_pending", "=", True)],
                limit=1,
            )
        ):
            self.sudo().summary_error = False
        return moves

    def action_sync_payouts(self):
        """Record and book Gumroad's completed payouts, then match bank statements."""
        self.ensure_one()
        self._check_manager_access()
        try:
            payouts = self.env["gumroad.payout"]._sync_payouts(self)
        except GumroadError as err:
            raise UserError(
                self.env._("Gumroad refused the payout sync: %(reason)s", reason=err)
            ) from err
        reconciled = (
            self.env["gumroad.payout"]
            .search([("account_id", "=", self.id), ("state", "=", "booked")])
            ._reconcile_with_statements()
        )
        message = self.env._(
            "Payouts: %(new)s new, %(reconciled)s matched with the bank statement.",
            new=len(payouts),
            reconciled=len(reconciled),
        )
        self.message_post(body=message)
        return self._notify(message, "success")

    def action_open_payouts(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "gumroad_connector.gumroad_payout_action"
        )
        action["domain"] = [("account_id", "=", self.id)]
        return action

    def action_open_imports(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "gumroad_connector.gumroad_import_action"
        )
        action["domain"] = [("account_id", "=", self.id), ("parent_id", "=", False)]
        return action

    def action_open_sales_by_month(self):
        action = self.action_open_sales()
        action.update(
            name=self.env._("Gumroad money by month"),
            view_mode="graph,pivot,list,form",
            views=[
                (False, "graph"),
                (False, "pivot"),
                (False, "list"),
                (False, "form"),
            ],
        )
        action["context"] = {
            **action["context"],
            "graph_groupbys": ["sale_date:month"],
            "pivot_row_groupby": ["sale_date:month"],
            "pivot_measures": [
                "money_collected",
                "money_returned",
                "money_fee",
                "money_earnings",
            ],
            "graph_measure": "money_earnings",
        }
        return action

    def action_open_balance_journal(self):
        self.ensure_one()
        journal = self._balance_journal()
        return {
            "type": "ir.actions.act_window",
            "name": journal.display_name,
            "res_model": "account.move.line",
            "view_mode": "list,pivot",
            "domain": [
                ("account_id", "=", journal.default_account_id.id),
                ("parent_state", "=", "posted"),
            ],
        }

    def action_open_sales(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "gumroad_connector.gumroad_sale_action"
        )
        action["domain"] = [("account_id", "=", self.id)]
        action["context"] = {"default_account_id": self.id}
        return action

    def action_open_error_sales(self):
        action = self.action_open_sales()
        action["domain"] = [("account_id", "=", self.id), ("state", "=", "error")]
        return action

    def action_open_products(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "gumroad_connector.gumroad_product_template_action"
        )
        action["domain"] = [("gumroad_account_id", "=", self.id)]
        action["context"] = {"active_test": False}
        return action

    def action_open_import_wizard(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Import Gumroad sales"),
            "res_model": "gumroad.sale.import",
            "view_mode": "form",
            "target": "new",
            "context": {"default_account_id": self.id},
        }

    def _notify(self, message, kind="info"):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "message": message,
                "type": kind,
                "sticky": False,
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def action_enable_realtime_sync(self):
        self.ensure_one()
        self._check_manager_access()
        registered = self.env["gumroad.webhook.event"]._subscribe_resources(self)
        message = self.env._(
            "Real-time sync enabled for: %(resources)s.",
            resources=", ".join(registered),
        )
        self.message_post(body=message)
        return self._notify(message, "success")

    def _check_manager_access(self):
        """Refuse before anything reaches Gumroad: only a manager may act on a
        connector (its actions change Gumroad and the books).
        """
        self.check_access("write")
