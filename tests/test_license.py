from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .common import GumroadCommon

SALE_LOGGER = "odoo.addons.gumroad_connector.models.gumroad_sale_license"


@tagged("post_install", "-at_install")
class TestLicense(GumroadCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.licensed_product_id = next(
            s["product_id"]
            for s in cls.sandbox.sales
            if s.get("license_key") and not s.get("subscription_id")
        )
        cls.membership_product_id = next(
            s["product_id"]
            for s in cls.sandbox.sales
            if s.get("license_key") and s.get("subscription_id")
        )

    # --- helpers ---

    def licensed_sale(self, product_id=None):
        """A new paid sale of a licensed product in the sandbox, booked in Odoo.

        Each test makes its own: the sandbox lives as long as the class.
        """
        sale = self.sandbox.add_sale(product_id=product_id or self.licensed_product_id)
        self.env["gumroad.sale"]._sync_one(self.account, sale["id"])
        return sale, self.record(sale["id"])

    def gumroad_disabled(self, sale_id):
        """Whether the sandbox holds the sale's licence as disabled."""
        return self.sandbox.sale(sale_id)["license_disabled"]

    def gumroad_uses(self, sale_id):
        return self.sandbox.sale(sale_id)["license_uses"]

    def disable_calls(self, key):
        return [
            r
            for r in self.sandbox.request_log
            if r.method == "PUT"
            and r.path.endswith("/licenses/disable")
            and r.params.get("license_key") == key
        ]

    def invoice_notes(self, record):
        return record.invoice_id.message_ids.mapped("body")

    # --- display ---

    def test_key_is_stored_on_import_and_shown_on_the_invoice(self):
        sale = self.sandbox.add_sale(product_id=self.licensed_product_id)
        self.import_all()
        record = self.record(sale["id"])
        self.assertEqual(record.license_key, sale["license_key"])
        self.assertEqual(record.license_status, "active")
        self.assertEqual(record.license_uses, sale["license_uses"])
        invoice = record.invoice_id
        self.assertEqual(invoice.gumroad_license_key, sale["license_key"])
        self.assertEqual(invoice.gumroad_license_status, "active")

        # A later payload without the licence block keeps what is known.
        payload = self.sandbox.sale(sale["id"])
        for key in ("license_key", "license_id", "license_disabled", "license_uses"):
            del payload[key]
        payload["full_name"] = "Renamed Buyer"  # a change, so the sale is re-booked
        self.env["gumroad.sale"]._book_payloads(self.account, [payload])
        self.assertEqual(record.buyer_name, "Renamed Buyer")
        self.assertEqual(record.license_key, sale["license_key"])
        self.assertEqual(record.license_status, "active")

    def test_sales_without_a_licence_show_none(self):
        sale = self.sandbox.add_sale(product_id=self.plain_usd_product()["id"])
        self.env["gumroad.sale"]._sync_one(self.account, sale["id"])
        record = self.record(sale["id"])
        self.assertFalse(record.license_key)
        self.assertFalse(record.license_status)
        self.assertFalse(record.invoice_id.gumroad_license_key)
        with self.assertRaisesRegex(UserError, "has no licence key"):
            record.action_verify_license()

    def test_invoice_form_shows_the_licence_to_gumroad_users_only(self):
        groups = "account.group_account_invoice"
        gumroad_user = new_test_user(
            self.env,
            login="licence_reader",
            groups=f"{groups},gumroad_connector.gumroad_connector_group_user",
            company_id=self.company.id,
        )
        accountant = new_test_user(
            self.env,
            login="plain_accountant",
            groups=groups,
            company_id=self.company.id,
        )
        for user, shown in ((gumroad_user, True), (accountant, False)):
            arch = (
                self.env["account.move"]
                .with_user(user)
                .get_views([(False, "form")])["views"]["form"]["arch"]
            )
            self.assertEqual('name="gumroad_license_key"' in arch, shown, user.login)

    # --- buttons ---

    def test_verify_fills_uses_and_status_without_consuming_a_use(self):
        sale, record = self.licensed_sale()
        client = self.account._gumroad_client()
        for _i in range(2):  # the buyer's software checks its key twice
            client.verify_license(
                sale["product_id"], sale["license_key"], increment_uses_count=True
            )
        uses = sale["license_uses"] + 2
        self.assertEqual(self.gumroad_uses(sale["id"]), uses)
        self.assertFalse(record.license_checked_at)

        action = record.action_verify_license()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn(f"used {uses} times", action["params"]["message"])
        self.assertEqual(record.license_status, "active")
        self.assertEqual(record.license_uses, uses)
        self.assertTrue(record.license_checked_at)
        record.action_verify_license()
        self.assertEqual(self.gumroad_uses(sale["id"]), uses, "verifying used the key")

    def test_verify_reports_a_disabled_key_as_a_status(self):
        sale, record = self.licensed_sale()
        self.account._gumroad_client().disable_license(
            sale["product_id"], sale["license_key"]
        )
        action = record.action_verify_license()
        self.assertEqual(action["params"]["type"], "warning")
        self.assertEqual(
            action["params"]["message"], "Gumroad: This license key has been disabled."
        )
        self.assertEqual(record.license_status, "disabled")

    def test_verify_reports_an_ended_membership_as_expired(self):
        sale, record = self.licensed_sale(self.membership_product_id)
        self.sandbox.cancel_subscription(sale["subscription_id"], immediately=True)
        action = record.action_verify_license()
        self.assertEqual(
            action["params"]["message"],
            "Gumroad: Access to the purchase associated with this license has expired.",
        )
        self.assertEqual(record.license_status, "expired")

    def test_disable_then_enable_round_trip(self):
        sale, record = self.licensed_sale()
        action = record.action_disable_license()
        self.assertEqual(action["params"]["message"], "Licence disabled in Gumroad.")
        self.assertTrue(self.gumroad_disabled(sale["id"]))
        self.assertEqual(record.license_status, "disabled")
        self.assertEqual(record.invoice_id.gumroad_license_status, "disabled")
        self.assertIn(
            f"{record.display_ref}: Licence disabled in Gumroad.",
            str(self.invoice_notes(record)),
        )

        action = record.action_enable_license()
        self.assertEqual(action["params"]["message"], "Licence enabled in Gumroad.")
        self.assertFalse(self.gumroad_disabled(sale["id"]))
        self.assertEqual(record.license_status, "active")
        self.assertIn(
            f"{record.display_ref}: Licence enabled in Gumroad.",
            str(self.invoice_notes(record)),
        )
        record.action_verify_license()
        self.assertEqual(record.license_status, "active")

    @mute_logger("odoo.addons.gumroad_connector.gumroad.client")
    def test_token_without_edit_products_gets_an_error_naming_the_scope(self):
        sale, record = self.licensed_sale()
        self.account.access_token = "sales-only"
        for action in (record.action_disable_license, record.action_enable_license):
            with self.assertRaises(UserError) as caught:
                action()
            self.assertIn("needs edit_products or account", str(caught.exception))
            self.assertIn(record.display_ref, str(caught.exception))
        self.assertFalse(self.gumroad_disabled(sale["id"]))
        # Verifying needs no scope at all.
        record.action_verify_license()
        self.assertEqual(record.license_status, "active")

    def test_a_gumroad_user_cannot_change_a_licence(self):
        sale, record = self.licensed_sale()
        reader = self.gumroad_user("licence_user", group="user")
        with self.assertRaises(AccessError):
            record.with_user(reader).action_disable_license()
        self.assertFalse(self.gumroad_disabled(sale["id"]))
        self.assertFalse(self.disable_calls(sale["license_key"]))

    # --- the connector's option ---

    def test_full_refund_disables_the_licence_once_when_the_option_is_on(self):
        self.account.disable_license_on_refund = True
        sale, record = self.licensed_sale()
        self.sandbox.refund(sale["id"])
        self.import_all()
        self.assertEqual(record.state, "reversed", "the credit note is booked")
        self.assertTrue(self.gumroad_disabled(sale["id"]))
        self.assertEqual(len(self.disable_calls(sale["license_key"])), 1)
        self.assertEqual(record.license_status, "disabled")
        self.assertTrue(record.license_refund_handled)
        self.assertFalse(record.license_error)
        self.assertIn(
            "Licence disabled in Gumroad because the sale was fully refunded.",
            str(self.invoice_notes(record)),
        )

        counts = self.import_all()
        self.assertEqual(counts["failed"], 0)
        self.assertEqual(len(self.disable_calls(sale["license_key"])), 1)

        # Enabled again by hand: the next imports leave it enabled.
        record.action_enable_license()
        self.import_all()
        self.env["gumroad.sale"]._sync_one(self.account, sale["id"])
        self.assertFalse(self.gumroad_disabled(sale["id"]))
        self.assertEqual(record.license_status, "active")
        self.assertEqual(len(self.disable_calls(sale["license_key"])), 1)

    def test_a_sale_already_refunded_at_its_first_import_is_disabled_too(self):
        self.account.disable_license_on_refund = True
        sale = self.sandbox.add_sale(product_id=self.licensed_product_id)
        self.sandbox.refund(sale["id"])
        self.env["gumroad.sale"]._sync_one(self.account, sale["id"])
        self.assertTrue(self.gumroad_disabled(sale["id"]))
        self.assertEqual(self.record(sale["id"]).license_status, "disabled")

    def test_lost_dispute_disables_the_licence_when_the_option_is_on(self):
        self.account.disable_license_on_refund = True
        sale, record = self.licensed_sale()
        self.sandbox.dispute(sale["id"])
        self.env["gumroad.sale"]._sync_one(self.account, sale["id"])
        self.assertEqual(record.dispute_state, "open")
        self.assertTrue(self.gumroad_disabled(sale["id"]))
        self.assertIn(
            "because the sale was disputed (chargeback)",
            str(self.invoice_notes(record)),
        )

    def test_option_off_leaves_the_licence_alone(self):
        self.assertFalse(self.account.disable_license_on_refund, "off by default")
        sale, record = self.licensed_sale()
        self.sandbox.refund(sale["id"])
        self.import_all()
        self.assertEqual(record.refund_state, "full")
        self.assertFalse(self.gumroad_disabled(sale["id"]))
        self.assertEqual(record.license_status, "active")
        self.assertFalse(self.disable_calls(sale["license_key"]))

    def test_partial_refund_leaves_the_licence_alone(self):
        self.account.disable_license_on_refund = True
        sale, record = self.licensed_sale()
        self.sandbox.refund(sale["id"], 100)
        self.env["gumroad.sale"]._sync_one(self.account, sale["id"])
        self.assertEqual(record.refund_state, "partial")
        self.assertFalse(self.gumroad_disabled(sale["id"]))

    def test_a_running_membership_keeps_its_licence_until_it_ends(self):
        self.account.disable_license_on_refund = True
        sale, record = self.licensed_sale(self.membership_product_id)
        self.sandbox.refund(sale["id"])
        self.env["gumroad.sale"]._sync_one(self.account, sale["id"])
        self.assertEqual(record.refund_state, "full")
        self.assertFalse(
            self.gumroad_disabled(sale["id"]), "the subscriber is locked out"
        )
        self.sandbox.cancel_subscription(sale["subscription_id"], immediately=True)
        self.env["gumroad.sale"]._sync_one(self.account, sale["id"])
        self.assertTrue(self.gumroad_disabled(sale["id"]))
        self.assertEqual(record.license_status, "disabled")

    @mute_logger(SALE_LOGGER, "odoo.addons.gumroad_connector.gumroad.client")
    def test_a_refused_disable_keeps_the_booking_and_can_be_retried(self):
        self.account.disable_license_on_refund = True
        sale, record = self.licensed_sale()
        self.sandbox.refund(sale["id"])
        self.account.access_token = "sales-only"  # can read sales, not edit licences
        counts = self.import_all()
        self.assertEqual(counts["failed"], 0)
        self.assertEqual(record.state, "reversed", "the credit note is booked")
        self.assertFalse(self.gumroad_disabled(sale["id"]))
        self.assertEqual(record.license_status, "active")
        self.assertFalse(record.license_refund_handled)
        self.assertIn(
            "The licence was not disabled although the sale was fully refunded; "
            "press Disable licence to try again.",
            record.license_error,
        )
        self.assertIn("needs edit_products or account", record.license_error)

        self.account.access_token = self.sandbox.token
        record.action_disable_license()
        self.assertTrue(self.gumroad_disabled(sale["id"]))
        self.assertEqual(record.license_status, "disabled")
        self.assertFalse(record.license_error)
        self.assertTrue(record.license_refund_handled)
