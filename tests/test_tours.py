import re
from collections import Counter
from datetime import datetime, timedelta
from urllib.parse import urlencode

from odoo import fields
from odoo.fields import Command
from odoo.tests import HttpCase, tagged

from .common import FORM, GumroadCommon

# The tours put these numbers and names in :text()/:contains() selectors: keep to
# names that need no quoting there.
PLAIN_NAME = re.compile(r"^[\w ]+$")


@tagged("post_install", "-at_install")
class TestGumroadTours(GumroadCommon, HttpCase):
    """What an accountant sees in the browser (headless Chromium), logged in as admin.

    The tours (static/tests/tours/) click through the screens; the numbers they must
    see come from the sandbox, through the start URL's query string, and the books are
    checked here after each tour.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The admin works in the test company, where the connector and its books are.
        cls.env.ref("base.user_admin").write(
            {
                "company_ids": [Command.link(cls.company.id)],
                "company_id": cls.company.id,
                "group_ids": [
                    Command.link(
                        cls.env.ref(
                            "gumroad_connector.gumroad_connector_group_manager"
                        ).id
                    )
                ],
            }
        )

    def tour_url(self, debug=False, **params):
        query = {"debug": 1} if debug else {}
        query.update({f"gumroad_{name}": value for name, value in params.items()})
        return f"/odoo?{urlencode(query)}"

    @staticmethod
    def sale_day(sale):
        return datetime.strptime(sale["created_at"], "%Y-%m-%dT%H:%M:%SZ").date()

    def invoices_of(self, account):
        return self.env["account.move"].search(
            [
                ("gumroad_sale_id.account_id", "=", account.id),
                ("move_type", "=", "out_invoice"),
            ]
        )

    def test_set_up_a_connector_then_preview_and_import_from_the_browser(self):
        # A first-time setup: the connector list starts empty.
        self.account.active = False
        # The wizard proposes the last 30 days, as UTC days.
        today = fields.Datetime.now().date()
        in_range = [
            sale
            for sale in self.sandbox.sales
            if today - timedelta(days=30) <= self.sale_day(sale) <= today
        ]
        paid = [sale for sale in in_range if sale["price"] > 0]
        self.assertTrue(paid, "the sandbox has paid sales in the last 30 days")
        published = sum(
            1 for p in self.sandbox.products if p["published"] and not p.get("deleted")
        )

        self.start_tour(
            self.tour_url(
                debug=True,  # the API URL field is a technical (debug-mode) field
                api_url=self.sandbox.base_url,
                token=self.sandbox.token,
                published=published,
                sales_in_range=len(in_range),
                new_sales=len(paid),
                sales_after_import=len(in_range),
            ),
            "gumroad_connector_setup_tour",
            login="admin",
            timeout=300,
        )

        account = self.env["gumroad.account"].search([("name", "=", "Tour store")])
        self.assertEqual(len(account), 1, "the tour created one connector")
        self.assertEqual(account.state, "connected")
        self.assertEqual(account.api_base_url, self.sandbox.base_url)
        self.assertTrue(account.has_token)
        self.assertEqual(account.company_id, self.company)
        self.assertEqual(account.products_published_count, published)
        wizard = self.env["gumroad.sale.import"].search(
            [("account_id", "=", account.id)], order="id desc", limit=1
        )
        self.assertEqual(wizard.state, "done")
        self.assertEqual(
            (wizard.date_from, wizard.date_to),
            (today - timedelta(days=30), today),
            "the wizard proposed the range the expected numbers were counted on",
        )
        self.assertEqual(wizard.preview_read, len(in_range))
        invoices = self.invoices_of(account)
        self.assertEqual(
            len(invoices), len(paid), "one invoice per paid sandbox sale, no more"
        )
        self.assertEqual(set(invoices.mapped("state")), {"posted"})
        self.assertEqual(
            sorted(invoices.mapped("ref")), sorted(f"GR-{s['id']}" for s in paid)
        )

    def test_sales_dashboard_and_ping_inbox_in_the_browser(self):
        self.import_all()
        records = self.env["gumroad.sale"].search(
            [("account_id", "=", self.account.id)]
        )
        self.assertEqual(len(records), len(self.sandbox.sales))
        by_product = Counter(
            r.product_tmpl_id.name
            for r in records
            if r.product_tmpl_id and PLAIN_NAME.match(r.product_tmpl_id.name)
        )
        self.assertTrue(by_product, "the sandbox sells a product with a plain name")
        product_name = by_product.most_common(1)[0][0]

        # Three pings reach the webhook route as Gumroad sends them: a sale already
        # booked, a refund made since, and the Settings page's test ping.
        sale = self.sandbox_sale(
            lambda s: self.untouched(s) and not s["is_gift_sender_purchase"]
        )
        self.sandbox.refund(sale["id"])
        url = f"/gumroad/webhook/{self.account.webhook_secret}"
        for body in (
            self.sandbox.ping_body("sale", sale_id=sale["id"]),
            self.sandbox.ping_body("refund", sale_id=sale["id"]),
            self.sandbox.ping_body("test", sale_id=sale["id"]),
        ):
            self.assertEqual(
                self.url_open(url, data=body, headers=FORM).status_code, 200
            )
        events = self.env["gumroad.webhook.event"].search(
            [("account_id", "=", self.account.id)]
        )
        with self.cron_progress():
            events._cron_process_events()
        self.assertEqual(sorted(events.mapped("state")), ["done", "done", "ignored"])
        self.assertEqual(self.record(sale["id"]).state, "reversed")

        self.start_tour(
            self.tour_url(sales=len(records), product=product_name, pings=len(events)),
            "gumroad_connector_dashboard_tour",
            login="admin",
            timeout=300,
        )

    def test_an_accountants_monday_activity_sale_in_error_retry_alert_closes(self):
        admin = self.env.ref("base.user_admin")
        self.account.responsible_user_id = admin
        sale = self.sandbox_sale(
            lambda s: self.untouched(s) and not s["is_gift_sender_purchase"]
        )
        broken = dict(sale, price="twelve dollars")
        self.env["gumroad.sale"]._book_payloads(self.account, [broken])
        record = self.record(sale["id"])
        self.assertEqual(record.state, "error")
        self.account._refresh_alerts()
        alert = self.account.alert_ids
        self.assertEqual(alert.kind, "sales_error")
        self.assertEqual(alert.activity_id.user_id, admin)
        self.assertTrue(PLAIN_NAME.match(self.account.name))

        self.start_tour(
            self.tour_url(connector=self.account.name),
            "gumroad_connector_monday_tour",
            login="admin",
            timeout=300,
        )
        self.assertEqual(record.state, "invoiced")
        self.assertEqual(alert.state, "closed")
        self.assertFalse(alert.activity_id.exists().active, "the activity is done")
