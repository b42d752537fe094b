from odoo import api, fields, models


class AccountMove(models.Model):
    _inherit = "account.move"

    gumroad_sale_id = fields.Many2one(
        "gumroad.sale",
        string="Gumroad sale",
        index="btree_not_null",
        copy=False,
        readonly=True,
    )
    gumroad_balance_sale_id = fields.Many2one(
        "gumroad.sale",
        string="Gumroad sale (balance)",
        index="btree_not_null",
        copy=False,
        readonly=True,
        help="The sale whose money this entry moves on the Gumroad balance.",
    )
    gumroad_summary_account_id = fields.Many2one(
        "gumroad.account",
        string="Gumroad daily summary of",
        index="btree_not_null",
        copy=False,
        readonly=True,
        help="The connector whose sales of one day this summary books.",
    )
    gumroad_summary_date = fields.Date(
        string="Gumroad summary day", copy=False, readonly=True
    )
    gumroad_payout_id = fields.Many2one(
        "gumroad.payout",
        string="Gumroad payout",
        index="btree_not_null",
        copy=False,
        readonly=True,
    )
    # Restricted like the sale itself: a licence key unlocks the product it was sold
    # with.
    gumroad_license_key = fields.Char(
        related="gumroad_sale_id.license_key",
        string="Licence key",
        groups="gumroad_connector.gumroad_connector_group_user",
    )
    gumroad_license_status = fields.Selection(
        related="gumroad_sale_id.license_status",
        string="Licence status",
        groups="gumroad_connector.gumroad_connector_group_user",
    )
    is_gumroad = fields.Boolean(
        string="From Gumroad",
        compute="_compute_is_gumroad",
        search="_search_is_gumroad",
    )

    @api.depends("gumroad_sale_id", "gumroad_summary_account_id")
    def _compute_payment_state(self):
        """A Gumroad credit note settled by the refund leaving the Gumroad balance
        reads as paid: the buyer got the money back.

        Odoo calls a credit note reconciled only with journal entries "Reversed", as
        if it had cancelled its invoice; here the settling entries are the balance
        movements of the refund (see gumroad.sale.booking._book_money), the
        equivalent of a payment to the buyer.
        """
        res = super()._compute_payment_state()
        for move in self.filtered(
            lambda m: (
                m.payment_state == "reversed"
                and (m.gumroad_sale_id or m.gumroad_summary_account_id)
            )
        ):
            settling = move._gumroad_settling_moves()
            if settling and all(
                m.gumroad_balance_sale_id or m.gumroad_summary_account_id
                for m in settling
            ):
                move.payment_state = "paid"
        return res

    def _gumroad_settling_moves(self):
        """The moves whose lines are reconciled with this move's receivable lines."""
        receivables = self.line_ids.filtered(
            lambda line: line.account_id.account_type == "asset_receivable"
        )
        return (
            receivables.matched_debit_ids.debit_move_id.move_id
            | receivables.matched_credit_ids.credit_move_id.move_id
        ) - self

    def _compute_is_gumroad(self):
        for move in self:
            move.is_gumroad = bool(
                move.gumroad_sale_id or move.gumroad_summary_account_id
            )

    def _search_is_gumroad(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            return NotImplemented
        if (operator == "=") == value:
            return [
                "|",
                ("gumroad_sale_id", "!=", False),
                ("gumroad_summary_account_id", "!=", False),
            ]
        return [
            ("gumroad_sale_id", "=", False),
            ("gumroad_summary_account_id", "=", False),
        ]

    def action_open_gumroad_summary_sales(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Gumroad sales of %(move)s", move=self.display_name),
            "res_model": "gumroad.sale",
            "view_mode": "list,form",
            "domain": [("summary_line_ids.move_id", "=", self.id)],
        }

    def action_open_gumroad_sale(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "gumroad.sale",
            "res_id": self.gumroad_sale_id.id,
            "view_mode": "form",
        }
