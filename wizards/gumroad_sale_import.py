from collections import Counter
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

from .. import const
from ..gumroad import GumroadError


class GumroadSaleImport(models.TransientModel):
    _name = "gumroad.sale.import"
    _description = "Import Gumroad sales"

    account_id = fields.Many2one(
        "gumroad.account",
        string="Connector",
        required=True,
        default=lambda self: self.env["gumroad.account"].search(
            [("state", "=", "connected")], limit=1
        ),
    )
    date_from = fields.Date(
        required=True,
        default=lambda self: fields.Datetime.now().date() - timedelta(days=30),
        help="First UTC day to import (inclusive).",
    )
    date_to = fields.Date(
        required=True,
        default=lambda self: fields.Datetime.now().date(),
        help="Last UTC day to import (inclusive).",
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("previewed", "Previewed"),
            ("done", "Done"),
            ("queued", "Queued"),
        ],
        default="draft",
    )
    preview_read = fields.Integer(string="Sales found", readonly=True)
    preview_new = fields.Integer(string="New", readonly=True)
    preview_changed = fields.Integer(string="Changed", readonly=True)
    preview_unchanged = fields.Integer(string="Unchanged", readonly=True)
    preview_skipped = fields.Integer(string="Not invoiced ($0)", readonly=True)
    preview_failed = fields.Integer(string="Unreadable", readonly=True)
    summary = fields.Text(readonly=True)

    @api.constrains("date_from", "date_to")
    def _check_dates(self):
        for wizard in self:
            if (
                wizard.date_from
                and wizard.date_to
                and wizard.date_from > wizard.date_to
            ):
                raise UserError(
                    self.env._("The start date must not be after the end date.")
                )

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            # Without a name the reopened dialog is titled "Odoo".
            "name": self.env._("Import Gumroad sales"),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }

    def action_preview(self):
        """Count new, changed, unchanged and skipped sales; books nothing."""
        self.ensure_one()
        client = self.account_id._gumroad_client()
        counts = Counter()
        try:
            for page in self.env["gumroad.sale"]._sales_pages(
                client, self.date_from, self.date_to
            ):
                counts.update(
                    self.env["gumroad.sale"]._preview_payloads(self.account_id, page)
                )
        except GumroadError as err:
            raise UserError(
                self.env._("Gumroad refused the preview: %(reason)s", reason=str(err))
            ) from err
        self.write(
            {
                "state": "previewed",
                "preview_read": counts["read"],
                "preview_new": counts["new"],
                "preview_changed": counts["changed"],
                "preview_unchanged": counts["unchanged"],
                "preview_skipped": counts["skipped"],
                "preview_failed": counts["failed"],
            }
        )
        return self._reopen()

    def action_import(self):
        """Import the range now, or in the background when it is large."""
        self.ensure_one()
        account = self.account_id
        days = (self.date_to - self.date_from).days + 1
        if days > const.FOREGROUND_IMPORT_MAX_DAYS and not self.env.context.get(
            "gumroad_foreground"
        ):
            account._queue_import(self.date_from, self.date_to)
            self.write(
                {
                    "state": "queued",
                    "summary": self.env._(
                        "The import of %(days)s days runs in the background; the "
                        "connector shows its progress.",
                        days=days,
                    ),
                }
            )
            return self._reopen()
        counts = account.action_import_sales(self.date_from, self.date_to)
        self.write({"state": "done", "summary": account._format_counts(counts)})
        return self._reopen()
