from datetime import date, timedelta

from odoo import fields
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import GumroadCommon


@tagged("post_install", "-at_install")
class TestBackgroundImport(GumroadCommon):
    def test_a_large_range_runs_in_the_background_and_shows_progress(self):
        today = fields.Datetime.now().date()
        wizard = self.env["gumroad.sale.import"].create(
            {
                "account_id": self.account.id,
                "date_from": today - timedelta(days=400),
                "date_to": today,
            }
        )
        wizard.action_import()
        self.assertEqual(wizard.state, "queued")
        self.assertIn("background", wizard.summary)
        self.assertEqual(self.account.import_state, "queued")
        self.assertFalse(self.account.sale_ids, "nothing is booked inside the wizard")
        with self.cron_progress():
            self.env["gumroad.account"]._cron_import_queued()
        self.assertEqual(self.account.import_state, "done")
        self.assertEqual(self.account.import_sales_read, len(self.sandbox.sales))
        self.assertEqual(self.account.import_sales_failed, 0)
        self.assertIn(
            f"{len(self.sandbox.sales)} sales read", self.account.import_summary
        )
        self.assertEqual(len(self.account.sale_ids), len(self.sandbox.sales))

    @mute_logger(
        "odoo.addons.gumroad_connector.gumroad.client",
        "odoo.addons.gumroad_connector.models.gumroad_account",
    )
    def test_gumroad_down_during_a_scheduled_import_is_reported_not_raised(self):
        self.sandbox.faults.server_error_every = 1
        with self.no_sleep():
            result = self.account._import_range_safely(
                date(2000, 1, 1), date(2100, 1, 1)
            )
        self.assertIsNone(result)
        self.assertEqual(self.account.import_state, "failed")
        self.assertIn("unavailable", self.account.import_summary)
        self.assertIn("run the import again", self.account.import_summary)
        self.assertFalse(self.account.sync_watermark, "the watermark does not move")
