import base64
import os
from contextlib import contextmanager
from unittest.mock import patch
from urllib.parse import urlsplit

from odoo.fields import Command
from odoo.tests import HttpCase, new_test_user
from odoo.tests.common import _super_send

from odoo.addons.account.tests.common import AccountTestInvoicingCommon

from ..gumroad_sandbox import SandboxServer

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class GumroadCommon(AccountTestInvoicingCommon):
    """A company with a chart of accounts, a running Gumroad sandbox and a connector on
    it.
    """

    sandbox_sales = 40
    sandbox_seed = 11
    sandbox_products = None  # the sandbox's default catalogue

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.group_ids = [
            Command.link(
                cls.env.ref("gumroad_connector.gumroad_connector_group_manager").id
            )
        ]
        # The test runner provides a key; keep the suite runnable on its own too.
        os.environ.setdefault(
            "GUMROAD_CONNECTOR_KEY", base64.b64encode(os.urandom(32)).decode()
        )
        cls.sandbox = SandboxServer(
            sales=cls.sandbox_sales,
            seed=cls.sandbox_seed,
            products=cls.sandbox_products,
            allow_loopback_post_urls=True,
        ).start()
        cls.addClassCleanup(cls.sandbox.stop)
        cls.usd = cls.env.ref("base.USD")
        cls.eur = cls.env.ref("base.EUR")
        cls.jpy = cls.env.ref("base.JPY")
        (cls.usd | cls.eur | cls.jpy).active = True
        cls.company = cls.company_data["company"]
        cls.account = cls.env["gumroad.account"].create(
            {
                "name": "Sandbox store",
                "company_id": cls.company.id,
                "api_base_url": cls.sandbox.base_url,
                "access_token": cls.sandbox.token,
            }
        )

    @classmethod
    def _request_handler(cls, session, request, /, **kwargs):
        # Odoo's handler compares `timeout < 10`, which fails on the client's
        # (connect, read) tuple; the sandbox is on loopback, which Odoo allows anyway.
        if urlsplit(request.url).hostname == "127.0.0.1":
            return _super_send(session, request, **kwargs)
        return super()._request_handler(session, request, **kwargs)

    def setUp(self):
        super().setUp()
        self.sandbox.faults.reset()

    # --- helpers ---

    def gumroad_user(self, login, group="manager", **kwargs):
        """An internal user of the test company with "Gumroad / User" or "/ Manager"."""
        return new_test_user(
            self.env,
            login=login,
            groups=f"base.group_user,gumroad_connector.gumroad_connector_group_{group}",
            company_id=self.company.id,
            **kwargs,
        )

    def plain_usd_product(self):
        """A published, paid USD product without tiers or variants (API-shaped dict)."""
        return next(
            p
            for p in self.sandbox.products
            if p["currency"] == "usd"
            and p["price"] > 0
            and p["published"]
            and not p["is_tiered_membership"]
            and not p.get("variants")
        )

    @staticmethod
    def untouched(sale):
        """A paid sale (API-shaped dict) with no refund and no dispute."""
        return (
            sale["price"] > 0
            and not sale.get("refunded")
            and not sale["partially_refunded"]
            and not sale["disputed"]
        )

    def sandbox_sale(self, predicate):
        """The first sandbox sale (API-shaped dict) matching predicate."""
        for sale in self.sandbox.sales:
            if predicate(sale):
                return sale
        self.fail("The sandbox demo data has no sale of the wanted kind")

    def record(self, sale_id, account=None):
        return self.env["gumroad.sale"].search(
            [
                ("account_id", "=", (account or self.account).id),
                ("gumroad_id", "=", sale_id),
            ]
        )

    def booked_net(self, record):
        """Invoices minus credit notes of a sale, in the booking currency, from the
        moves.
        """
        total = 0.0
        for move in record.move_ids.filtered(lambda m: m.state == "posted"):
            sign = -1 if move.move_type == "out_refund" else 1
            total += sign * move.amount_total
        return round(total, 2)

    def import_all(self, account=None):
        return (account or self.account).action_import_sales("2000-01-01", "2100-01-01")

    @contextmanager
    def no_sleep(self):
        """The client's retry back-off sleeps through time.sleep: make it free in
        tests.
        """
        with patch("time.sleep", lambda _s: None):
            yield

    @contextmanager
    def cron_progress(self):
        """Run a batched cron method in a test: report progress without committing."""
        cron_class = type(self.env["ir.cron"])
        with patch.object(
            cron_class, "_commit_progress", autospec=True, return_value=float("inf")
        ) as progress:
            yield progress


class GumroadWebhookCommon(GumroadCommon, HttpCase):
    """GumroadCommon with Odoo's HTTP server, the webhook URL and the ping inbox."""

    def setUp(self):
        super().setUp()
        self.url = f"/gumroad/webhook/{self.account.webhook_secret}"
        self.events = self.env["gumroad.webhook.event"]

    def process_events(self):
        """Run the ping-processing cron once, without committing."""
        with self.cron_progress():
            self.events._cron_process_events()
