import base64
from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .common import FORM, GumroadWebhookCommon


@tagged("post_install", "-at_install")
class TestRetention(GumroadWebhookCommon):
    """Raw Gumroad data is emptied after the retention period; the books stay."""

    def _age(self, records, days, column):
        old = fields.Datetime.now() - timedelta(days=days)
        self.env.cr.execute(
            f"UPDATE {records._table} SET {column} = %s WHERE id = ANY(%s)",
            [old, records.ids],
        )
        records.invalidate_recordset([column])

    def _post_ping(self, sale_id):
        response = self.url_open(
            self.url,
            data=self.sandbox.ping_body("sale", sale_id=sale_id),
            headers=FORM,
        )
        self.assertEqual(response.status_code, 200)
        return self.events.search(
            [("account_id", "=", self.account.id), ("sale_gumroad_id", "=", sale_id)],
            order="id desc",
            limit=1,
        )

    def _empty_old_raw_data(self):
        with self.cron_progress():
            self.env["gumroad.account"]._cron_empty_old_raw_data()

    def test_old_booked_data_is_emptied_and_recent_or_failed_data_kept(self):
        self.assertEqual(self.account.raw_retention_days, 90)
        self.import_all()
        sales = self.env["gumroad.sale"].search(
            [("account_id", "=", self.account.id), ("invoice_id", "!=", False)],
            order="id",
        )
        self.assertGreaterEqual(len(sales), 6)
        old, failed, recent = sales[:3], sales[3], sales[4:]
        failed.write({"state": "error", "error_message": "A test failure"})
        self._age(old | failed, 91, "sync_date")
        totals = {sale.id: sale.invoice_id.amount_total for sale in sales}
        moves_per_sale = {sale.id: len(sale.move_ids) for sale in sales}
        moves_before = self.env["account.move"].search_count([])

        event = self._post_ping(recent[0].gumroad_id)
        self.process_events()
        self.assertEqual(event.state, "done")
        self._age(event, 91, "create_date")
        fresh_event = self._post_ping(recent[1].gumroad_id)
        self.process_events()

        self._empty_old_raw_data()

        for sale in old:
            self.assertFalse(sale.raw_json)
            self.assertTrue(sale.raw_emptied_at)
            self.assertEqual(sale.invoice_id.state, "posted")
            self.assertEqual(sale.invoice_id.amount_total, totals[sale.id])
            self.assertTrue(sale.product_name and sale.buyer_email)
        self.assertEqual(failed.raw_json["id"], failed.gumroad_id)
        for sale in recent:
            self.assertEqual(sale.raw_json["id"], sale.gumroad_id)
            self.assertFalse(sale.raw_emptied_at)
        self.assertFalse(event.raw_body)
        self.assertEqual(event.body, "")
        self.assertTrue(event.raw_emptied_at)
        self.assertEqual(event.state, "done")
        self.assertIn(b"sale_id=", base64.b64decode(fresh_event.raw_body))

        # The next sync finds the emptied sales unchanged: nothing booked twice.
        failed.write({"state": "invoiced", "error_message": False})
        self.import_all()
        self.assertEqual(self.env["account.move"].search_count([]), moves_before)
        for sale in old:
            self.assertEqual(len(sale.move_ids), moves_per_sale[sale.id])

    def test_zero_days_keeps_everything(self):
        self.account.raw_retention_days = 0
        self.import_all()
        sales = self.env["gumroad.sale"].search([("account_id", "=", self.account.id)])
        self._age(sales, 4000, "sync_date")
        self._empty_old_raw_data()
        self.assertFalse(sales.filtered(lambda s: not s.raw_json))

    def test_minimal_buyer_data_drops_card_and_address_and_still_books(self):
        self.account.minimal_buyer_data = True
        self.import_all()
        sales = self.env["gumroad.sale"].search([("account_id", "=", self.account.id)])
        self.assertTrue(sales)
        for sale in sales:
            self.assertNotIn("card", sale.raw_json)
            self.assertNotIn("street_address", sale.raw_json)
            self.assertEqual(sale.raw_json["email"], sale.buyer_email)
        sale = self.sandbox.add_sale(product_id=self.plain_usd_product()["id"])
        event = self._post_ping(sale["id"])
        body = base64.b64decode(event.raw_body)
        self.assertNotIn(b"card", body)
        self.assertIn(b"email=", body)
        self.process_events()
        self.assertEqual(event.state, "done")
        self.assertEqual(self.record(event.sale_gumroad_id).state, "invoiced")
