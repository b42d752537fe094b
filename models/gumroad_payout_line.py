from odoo import fields, models


class GumroadPayoutLine(models.Model):
    """One transaction of a Gumroad payout (or one sale's transactions in it),
    against what the books say (gumroad.payouts.match_payout_transactions)."""

    _name = "gumroad.payout.line"
    _description = "Gumroad payout transaction"
    _order = "payout_id, sequence, id"

    payout_id = fields.Many2one(
        "gumroad.payout", required=True, ondelete="cascade", index=True
    )
    sequence = fields.Integer()
    usd_currency_id = fields.Many2one(related="payout_id.usd_currency_id")
    kind = fields.Char(string="Type", readonly=True)
    label = fields.Char(readonly=True)
    gumroad_sale_id = fields.Char(string="Gumroad sale id", readonly=True)
    sale_id = fields.Many2one("gumroad.sale", readonly=True)
    gumroad_amount = fields.Monetary(
        string="Gumroad", currency_field="usd_currency_id", readonly=True
    )
    booked_amount = fields.Monetary(
        string="Booked", currency_field="usd_currency_id", readonly=True
    )
    booked_affiliate = fields.Monetary(
        string="Affiliate commission booked",
        currency_field="usd_currency_id",
        readonly=True,
        help="The sale's affiliate commission this payout covers, as booked; "
        "Gumroad lists commissions in the payout's Affiliate Credit row.",
    )
    affiliate_in_rows = fields.Monetary(
        string="Affiliate share in the sale's rows",
        currency_field="usd_currency_id",
        readonly=True,
        help="The affiliate share a won dispute's Credit row is net of.",
    )
    book_against = fields.Selection(
        [
            ("fee", "Gumroad fees"),
            ("retained", "Processor fee Gumroad retained"),
            ("affiliate", "Affiliate commissions"),
        ],
        readonly=True,
        help="The expense account of what is booked from this line.",
    )
    difference = fields.Monetary(currency_field="usd_currency_id", readonly=True)
    to_book = fields.Monetary(
        string="Booked from the payout",
        currency_field="usd_currency_id",
        readonly=True,
        help="What the connector booked on the Gumroad balance from this line: "
        "Gumroad's credits, fees and the processor fees it retained on refunds.",
    )
    state = fields.Selection(
        [
            ("matched", "Matched"),
            ("not_booked", "Sale never booked"),
            ("amount", "Amount differs"),
            ("adjustment", "Gumroad adjustment"),
            ("information", "Information"),
        ],
        readonly=True,
    )
