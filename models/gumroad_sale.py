from collections import Counter
from typing import ClassVar

from odoo import api, fields, models
from odoo.exceptions import UserError

from .. import const
from ..gumroad import GumroadError, NotFoundError

# The sale's amounts are Gumroad's exact cents (USD, or the booking currency, which
# Gumroad never gives more than two decimals): plain numbers to the cent, shown with
# their currency by the views' monetary widget. A Monetary field would round each
# value by its record's currency on every write and every flush, which was a third
# of the ORM time of booking a batch of sales (dev/bench.py).
MONEY_DIGITS = (16, 2)


class GumroadSale(models.Model):
    """A Gumroad sale as the books know it: its facts, its state and its moves.

    How it is booked is in `gumroad.sale.booking`, its licence key in
    `gumroad.sale.license`.
    """

    _name = "gumroad.sale"
    _inherit: ClassVar[list[str]] = [
        "gumroad.sale.booking",
        "gumroad.sale.summary",
        "gumroad.sale.license",
        "gumroad.sale.analytic",
    ]
    _description = "Gumroad Sale"
    _order = "sale_datetime desc, id desc"
    _rec_name = "display_ref"

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
    gumroad_id = fields.Char(string="Gumroad sale id", required=True, readonly=True)
    display_ref = fields.Char(compute="_compute_display_ref", string="Reference")
    order_id = fields.Integer(string="Order number", readonly=True, aggregator=None)
    sale_datetime = fields.Datetime(string="Sold at (UTC)", readonly=True)
    sale_date = fields.Date(string="Sale date (UTC)", readonly=True, index=True)
    gumroad_product_id = fields.Char(readonly=True)
    product_name = fields.Char(readonly=True)
    product_tmpl_id = fields.Many2one(
        "product.template", string="Product", readonly=True
    )
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    buyer_email = fields.Char(readonly=True)
    buyer_name = fields.Char(readonly=True)
    buyer_country = fields.Char(readonly=True)
    country_id = fields.Many2one("res.country", readonly=True)
    quantity = fields.Integer(readonly=True, default=1)
    usd_currency_id = fields.Many2one(
        "res.currency", default=lambda self: self.env.ref("base.USD"), readonly=True
    )
    price_usd = fields.Float(string="Price (USD)", digits=MONEY_DIGITS, readonly=True)
    gumroad_fee_usd = fields.Float(
        string="Gumroad fee (USD)", digits=MONEY_DIGITS, readonly=True
    )
    tax_usd = fields.Float(
        string="Tax collected (USD)", digits=MONEY_DIGITS, readonly=True
    )
    refunded_usd = fields.Float(
        string="Refunded (USD)", digits=MONEY_DIGITS, readonly=True
    )
    # Parts of the price and who collected the tax (gumroad/lines.py, sales.py).
    shipping_usd = fields.Float(
        string="Shipping (USD)", digits=MONEY_DIGITS, readonly=True
    )
    tip_usd = fields.Float(string="Tip (USD)", digits=MONEY_DIGITS, readonly=True)
    tax_label = fields.Char(readonly=True, help="Gumroad's name of the tax.")
    tax_collector = fields.Selection(
        [
            ("none", "No tax"),
            ("seller", "The seller (inside the price, booked as tax)"),
            ("gumroad", "Gumroad (outside the price, not booked)"),
            ("unknown", "Not stated (treated as Gumroad's, not booked)"),
        ],
        string="Tax collected by",
        readonly=True,
        help="Gumroad's sale says who collected the tax only for sales charged in "
        "the buyer's currency (buyer_presentment). Tax Gumroad collected is "
        "Gumroad's liability and is not the seller's revenue.",
    )
    seller_tax_usd = fields.Float(
        string="Seller-collected tax (USD)",
        digits=MONEY_DIGITS,
        readonly=True,
    )
    gumroad_tax_usd = fields.Float(
        string="Gumroad-collected tax (USD)",
        digits=MONEY_DIGITS,
        readonly=True,
        help="Paid by the buyer on top of the price, kept by Gumroad: booked nothing.",
    )
    listed_currency = fields.Char(readonly=True)
    listed_total = fields.Float(string="Listed amount", readonly=True, digits=(16, 2))
    listed_refunded = fields.Float(
        string="Listed amount refunded", readonly=True, digits=(16, 2)
    )
    refund_state = fields.Selection(
        [
            ("none", "Not refunded"),
            ("partial", "Partially refunded"),
            ("full", "Refunded"),
        ],
        default="none",
        readonly=True,
    )
    dispute_state = fields.Selection(
        [("none", "No dispute"), ("open", "Disputed"), ("won", "Dispute won")],
        default="none",
        readonly=True,
    )
    is_gift_sender = fields.Boolean(readonly=True)
    is_gift_receiver = fields.Boolean(readonly=True)
    giftee_email = fields.Char(readonly=True)
    gifter_email = fields.Char(readonly=True)
    subscription_gumroad_id = fields.Char(string="Subscription id", readonly=True)
    is_renewal = fields.Boolean(readonly=True)
    license_key = fields.Char(string="Licence key", readonly=True)
    license_status = fields.Selection(
        [
            ("unknown", "Not checked"),
            ("active", "Active"),
            ("disabled", "Disabled"),
            ("expired", "Access expired"),
        ],
        string="Licence status",
        readonly=True,
        help="As Gumroad last reported it: in the sale (import) or through Verify "
        "licence. Access expired: the membership behind the licence has ended.",
    )
    license_uses = fields.Integer(
        string="Licence uses",
        readonly=True,
        aggregator=None,
        help="How many times the buyer's software has verified the key with Gumroad. "
        "Verify licence does not count as a use.",
    )
    license_checked_at = fields.Datetime(string="Licence checked at", readonly=True)
    license_error = fields.Text(
        string="Licence error",
        readonly=True,
        copy=False,
        help="Why the connector could not disable the licence after a refund or a "
        "dispute; Disable licence tries again.",
    )
    license_refund_handled = fields.Boolean(
        string="Licence refund rule applied",
        readonly=True,
        copy=False,
        help="The connector's 'disable the licence' option has been applied to this "
        "refunded or disputed sale (or someone disabled or enabled the licence by "
        "hand since): it is never applied again, so a licence enabled again stays "
        "enabled.",
    )
    variants = fields.Char(readonly=True)
    offer_code = fields.Char(readonly=True)
    raw_json = fields.Json(string="Gumroad data", readonly=True)
    raw_emptied_at = fields.Datetime(
        string="Gumroad data emptied on",
        readonly=True,
        copy=False,
        help="The raw sale JSON was emptied after the connector's retention period; "
        "the booked entries and this sale's fields are kept.",
    )
    fingerprint = fields.Char(readonly=True, copy=False)
    sync_date = fields.Datetime(readonly=True)

    state = fields.Selection(
        const.SALE_STATES, default="pending", required=True, readonly=True, index=True
    )
    error_message = fields.Text(readonly=True)

    # Bookings: amounts are in the booking currency, which never changes once invoiced.
    booking_mode = fields.Selection(
        [("usd", "USD"), ("listed", "Listed currency")], readonly=True
    )
    booking_currency_id = fields.Many2one("res.currency", readonly=True)
    move_ids = fields.One2many(
        "account.move", "gumroad_sale_id", string="Entries", readonly=True
    )
    invoice_id = fields.Many2one("account.move", readonly=True, copy=False)
    credit_note_ids = fields.Many2many(
        "account.move", compute="_compute_credit_note_ids", string="Credit notes"
    )
    amount_invoiced = fields.Float(digits=MONEY_DIGITS, readonly=True)
    amount_credited = fields.Float(digits=MONEY_DIGITS, readonly=True)
    amount_reinvoiced = fields.Float(digits=MONEY_DIGITS, readonly=True)
    net_amount = fields.Float(
        string="Net",
        digits=MONEY_DIGITS,
        readonly=True,
        help="What the seller keeps for this sale according to Gumroad, as booked.",
    )

    # The Gumroad balance: what the sale moved on it, as booked (USD).
    accounting_mode = fields.Selection(
        const.ACCOUNTING_MODES,
        readonly=True,
        help="How the sale was booked; it never changes once booked.",
    )
    balance_move_ids = fields.One2many(
        "account.move",
        "gumroad_balance_sale_id",
        string="Balance entries",
        readonly=True,
    )
    money_collected = fields.Float(
        string="Collected by Gumroad (USD)",
        digits=MONEY_DIGITS,
        readonly=True,
    )
    money_returned = fields.Float(
        string="Returned to the buyer (USD)",
        digits=MONEY_DIGITS,
        readonly=True,
        help="Refunds, and the whole price while a chargeback is open.",
    )
    money_fee = fields.Float(
        string="Fee (USD)",
        digits=MONEY_DIGITS,
        readonly=True,
        help="Gumroad's fee as the sale still pays it: given back pro rata (rounded "
        "down) with each partial refund, in full with a full refund or a chargeback.",
    )
    money_affiliate = fields.Float(
        string="Affiliate commission (USD)",
        digits=MONEY_DIGITS,
        readonly=True,
        help="The affiliate's credit the sale still pays (Gumroad takes it from the "
        "seller's share), less what refunds and chargebacks gave back.",
    )
    money_retained = fields.Float(
        string="Processor fee retained (USD)",
        digits=MONEY_DIGITS,
        readonly=True,
        help="The payment processor's fee Gumroad keeps from the seller on refunds "
        "(2.9% of the refund plus its share of 30 cents, Gumroad's own formula).",
    )
    money_processor_fee = fields.Float(
        string="Processor fee (USD)",
        digits=MONEY_DIGITS,
        readonly=True,
        help="PayPal's or Stripe's own fee of a sale paid into the seller's own "
        "account.",
    )
    # What an open chargeback took back, so that a won dispute gives exactly that
    # back (gumroad/balance.py).
    money_dispute_returned = fields.Float(digits=MONEY_DIGITS, readonly=True)
    money_dispute_fee = fields.Float(digits=MONEY_DIGITS, readonly=True)
    money_dispute_affiliate = fields.Float(digits=MONEY_DIGITS, readonly=True)
    money_earnings = fields.Float(
        string="Earnings (USD)",
        digits=MONEY_DIGITS,
        compute="_compute_money_earnings",
        store=True,
        help="What the sale leaves the seller: collected, less returned, less the "
        "fee, the affiliate's commission and the processor fees. On the Gumroad "
        "balance, or in the seller's own PayPal / Stripe account for a direct sale.",
    )
    payment_processor = fields.Selection(
        [("paypal", "PayPal (seller's account)"), ("stripe_connect", "Stripe Connect")],
        readonly=True,
        help="Empty: paid through Gumroad's own account, into the Gumroad balance.",
    )
    affiliate_email = fields.Char(readonly=True)
    affiliate_usd = fields.Float(
        string="Affiliate credit (USD)", digits=MONEY_DIGITS, readonly=True
    )
    processor_fee_usd = fields.Float(
        string="Processor fee of the sale (USD)",
        digits=MONEY_DIGITS,
        readonly=True,
    )
    amount_settled = fields.Float(
        digits=MONEY_DIGITS,
        readonly=True,
        help="Revenue of the sale already moved to the Gumroad balance, in the "
        "booking currency.",
    )
    payout_id = fields.Many2one(
        "gumroad.payout", readonly=True, index="btree_not_null", copy=False
    )

    # Daily summaries (gumroad/daily.py): the sale's change, planned as the per-sale
    # mode would book it, waits in summary_parts until its day is booked.
    summary_pending = fields.Boolean(
        string="Awaiting its daily summary",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="Recorded and counted; its amounts go into the daily summary of their "
        "day once that day has ended (or Book daily summaries now).",
    )
    summary_parts = fields.Json(readonly=True, copy=False)
    summary_balance_booked = fields.Boolean(readonly=True, copy=False)
    summary_line_ids = fields.Many2many(
        "account.move.line",
        "gumroad_sale_summary_line_rel",
        "sale_id",
        "line_id",
        string="Summary lines",
        readonly=True,
        copy=False,
        help="The lines of the daily summaries that hold this sale's amounts.",
    )
    summary_move_ids = fields.Many2many(
        "account.move",
        string="Daily summaries",
        compute="_compute_summary_move_ids",
    )

    # === CONSTRAINTS === #

    _gumroad_id_account_uniq = models.Constraint(
        "UNIQUE(account_id, gumroad_id)",
        "A Gumroad sale is recorded once per connector.",
    )

    # === COMPUTE METHODS === #

    def _compute_display_ref(self):
        for sale in self:
            sale.display_ref = f"{const.MOVE_REF_PREFIX}{sale.gumroad_id}"

    @api.depends(
        "money_collected",
        "money_returned",
        "money_fee",
        "money_affiliate",
        "money_retained",
        "money_processor_fee",
    )
    def _compute_money_earnings(self):
        for sale in self:
            sale.money_earnings = (
                sale.money_collected
                - sale.money_returned
                - sale.money_fee
                - sale.money_affiliate
                - sale.money_retained
                - sale.money_processor_fee
            )

    @api.depends("summary_line_ids")
    def _compute_summary_move_ids(self):
        for sale in self:
            sale.summary_move_ids = sale.summary_line_ids.move_id

    @api.depends("move_ids.move_type")
    def _compute_credit_note_ids(self):
        for sale in self:
            sale.credit_note_ids = sale.move_ids.filtered(
                lambda m: m.move_type == "out_refund"
            )

    # === CRUD METHODS === #

    @api.ondelete(at_uninstall=False)
    def _unlink_except_booked(self):
        """The row is what makes imports idempotent: without it the sale would be booked
        again. Sales with entries stay (archive their connector instead)."""
        booked = self.filtered(
            lambda sale: (
                sale.move_ids
                or sale.balance_move_ids
                or sale.summary_line_ids
                or sale.summary_pending
            )
        )
        if booked:
            raise UserError(
                self.env._(
                    "Sale %(ref)s has accounting entries and cannot be deleted: "
                    "deleting it would make the next import book it again.",
                    ref=booked[0].display_ref,
                )
            )

    # === BUSINESS METHODS === #

    def _empty_raw_data(self):
        """Drop the raw sale JSON (the retention cron); the books and fields stay."""
        self.write({"raw_json": False, "raw_emptied_at": fields.Datetime.now()})

    # === ACTION METHODS === #

    def action_retry(self):
        """Re-read failed sales from Gumroad and book them again."""
        self.check_access("write")
        counts = Counter()
        for account, sales in (
            self.filtered(lambda s: s.state == "error").grouped("account_id").items()
        ):
            client = account._gumroad_client()
            payloads = []
            for sale in sales:
                try:
                    payloads.append(client.get_sale(sale.gumroad_id))
                except NotFoundError as err:
                    sale.write({"error_message": str(err)})
                    counts["failed"] += 1
                except GumroadError as err:
                    raise UserError(
                        self.env._(
                            "Gumroad refused the retry: %(reason)s", reason=str(err)
                        )
                    ) from err
            counts.update(self._book_payloads(account, payloads))
            account._refresh_alerts()
        return account._notify(account._format_counts(counts), "info") if self else True

    def action_open_moves(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Entries of %(ref)s", ref=self.display_ref),
            "res_model": "account.move",
            "view_mode": "list,form",
            "domain": [("gumroad_sale_id", "=", self.id)],
        }
