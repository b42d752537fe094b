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
            ("failed", "Failed"),
            ("queued", "Queued"),
        ],
        default="draft",
    )
    import_id = fields.Many2one("gumroad.import", readonly=True)
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
        self.account_id._check_manager_access()
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
        account._check_manager_access()
        days = (self.date_to - self.date_from).days + 1
        if days > const.FOREGROUND_IMPORT_MAX_DAYS:
            run = account._queue_import(self.date_from, self.date_to)
            self.write(
                {
                    "state": "queued",
                    "import_id": run.id,
                    "summary": self.env._(
                        "The import of %(days)s days runs in the background; "
                        "Gumroad > Imports shows its progress.",
                        days=days,
                    ),
                }
            )
            return self._reopen()
        # Small enough for the request: booked in its transaction, committed with it
        # (a failure is shown here, and what was booked before it is kept).
        run = self.env["gumroad.import"]._new_run(
            account, self.date_from, self.date_to, "wizard"
        )
        run._run_foreground()
        self.write(
            {
                "state": "done" if run.state == "done" else "failed",
                "import_id": run.id,
                "summary": run.error_message or run.summary,
            }
        )
        return self._reopen()

    def action_open_import(self):
        self.ensure_one()
        return self.import_id._open()
