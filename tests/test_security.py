from urllib.parse import unquote_plus

from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import FORM, GumroadWebhookCommon

HOSTILE = "<script>alert(1)</script>'; DROP TABLE gumroad_sale; --"


@tagged("post_install", "-at_install")
class TestSecurity(GumroadWebhookCommon):
    def test_a_user_of_company_a_never_sees_company_b_data(self):
        company_b = self.setup_other_company(name="Company B")["company"]
        account_b = self.env["gumroad.account"].create(
            {
                "name": "Store B",
                "company_id": company_b.id,
                "api_base_url": self.sandbox.base_url,
                "access_token": self.sandbox.token,
            }
        )
        sale = self.sandbox.sales[0]
        self.env["gumroad.sale"]._sync_one(account_b, sale["id"])
        self.events._store_ping(account_b, b"resource_name=sale", "text/plain")
        user_a = self.gumroad_user(
            "gumroad_company_a", "manager", company_ids=[self.company.id]
        )
        env_a = self.env(user=user_a)
        self.assertFalse(env_a["gumroad.account"].search([("id", "=", account_b.id)]))
        self.assertFalse(
            env_a["gumroad.sale"].search([("account_id", "=", account_b.id)])
        )
        self.assertFalse(
            env_a["gumroad.webhook.event"].search([("account_id", "=", account_b.id)])
        )
        with self.assertRaises(AccessError):
            env_a["gumroad.account"].browse(account_b.id).read(["name"])

    def test_the_token_never_appears_in_chatter_fields_or_error_messages(self):
        token = self.sandbox.token
        self.account.action_verify_connection()
        self.account.access_token = "revoked-token"
        with mute_logger("odoo.addons.gumroad_connector.gumroad.client"):
            action = self.account.action_verify_connection()
        texts = [
            action["params"]["message"],
            self.account.last_error or "",
            *self.account.message_ids.mapped("body"),
            str(self.account.read()[0]),
        ]
        for text in texts:
            self.assertNotIn(token, str(text))
            self.assertNotIn("revoked-token", str(text))

    def test_a_manager_who_is_not_admin_cannot_read_the_ciphertext(self):
        manager = self.gumroad_user("gumroad_manager_only", "manager")
        account = self.account.with_user(manager)
        self.assertEqual(account.read(["access_token"])[0]["access_token"], "********")
        with self.assertRaises(AccessError):
            account.read(["access_token_cipher"])

    @mute_logger("odoo.addons.gumroad_connector.gumroad.client")
    def test_hostile_pings_are_kept_and_answered_without_a_server_error(self):
        bodies = [
            (b"", FORM),
            (b'{"resource_name": "sale"}', {"Content-Type": "application/json"}),
            (
                "&".join(
                    f"{key}={HOSTILE}"
                    for key in ("resource_name", "sale_id", "email", "product_name")
                ).encode(),
                FORM,
            ),
            (f"resource_name=sale&sale_id={HOSTILE}".encode(), FORM),
        ]
        for body, headers in bodies:
            response = self.url_open(
                self.url, data=body, headers=headers, method="POST"
            )
            self.assertEqual(response.status_code, 200, body[:40])
        with self.cron_progress():
            self.events._cron_process_events()
        events = self.events.search([])
        self.assertEqual(
            len(events), len(bodies), "nothing that came with the secret is lost"
        )
        self.assertEqual(set(events.mapped("state")), {"error"})
        self.assertFalse(
            self.env["gumroad.sale"].search([("account_id", "=", self.account.id)])
        )
        stored = unquote_plus(" ".join(events.mapped("body")))
        self.assertIn(HOSTILE, stored, "the hostile text is kept as received, as data")

    def test_a_one_mebibyte_body_is_refused_and_nothing_is_stored(self):
        response = self.url_open(
            self.url, data=b"x=" + b"a" * (1024 * 1024), headers=FORM
        )
        self.assertEqual(response.status_code, 413)
        self.assertFalse(self.events.search([]))
