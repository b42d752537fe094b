import base64
import os
from datetime import datetime, timedelta
from unittest.mock import patch
from zoneinfo import ZoneInfo

import psycopg2

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..dev import reliability
from .common import GumroadCommon


@tagged("post_install", "-at_install")
class TestGumroadAccount(GumroadCommon):
    def test_token_round_trips_through_encryption(self):
        self.assertEqual(self.account._decrypted_token(), self.sandbox.token)

    def test_stored_column_holds_no_plaintext_and_a_fresh_nonce_each_time(self):
        self.env.cr.execute(
            "SELECT access_token_cipher FROM gumroad_account WHERE id = %s",
            [self.account.id],
        )
        first = self.env.cr.fetchone()[0]
        self.assertNotIn(self.sandbox.token, first)
        self.assertTrue(first.startswith("v1:"))
        self.account.access_token = self.sandbox.token
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT access_token_cipher FROM gumroad_account WHERE id = %s",
            [self.account.id],
        )
        self.assertNotEqual(first, self.env.cr.fetchone()[0])

    def test_admin_reading_the_token_gets_a_placeholder(self):
        values = self.account.read(["access_token"])[0]
        self.assertEqual(values["access_token"], "********")
        self.assertNotIn(
            self.sandbox.token, str(self.account.web_read({"access_token": {}}))
        )

    def test_user_without_manager_group_cannot_write_or_read_secrets(self):
        user = self.gumroad_user("gumroad_reader", "user")
        account = self.account.with_user(user)
        with self.assertRaises(AccessError):
            account.write({"access_token": "stolen"})
        self.assertEqual(account.name, "Sandbox store")
        with self.assertRaises(AccessError):
            account.read(["access_token_cipher"])
        with self.assertRaises(AccessError):
            account.read(["webhook_secret"])
        reliability.record(
            "secret_groups",
            "a Gumroad / User writes the token, reads the ciphertext and the webhook "
            "secret",
            "each refused with an access error; the record unchanged",
        )

    def test_missing_key_gives_a_message_saying_how_to_set_one(self):
        with (
            patch.dict(os.environ, {"GUMROAD_CONNECTOR_KEY": ""}),
            self.assertRaises(UserError) as caught,
        ):
            self.account.access_token = "another-token"
        self.assertIn("gumroad_connector_key", str(caught.exception))
        self.assertIn("GUMROAD_CONNECTOR_KEY", str(caught.exception))

    def test_token_under_another_key_is_reported_not_a_crash(self):
        other_key = base64.b64encode(os.urandom(32)).decode()
        with (
            patch.dict(os.environ, {"GUMROAD_CONNECTOR_KEY": other_key}),
            self.assertRaises(UserError) as caught,
        ):
            self.account._decrypted_token()
        self.assertIn("encrypted with another key", str(caught.exception))

    def test_verify_connection_fills_profile_and_summary(self):
        logged = len(self.sandbox.request_log)
        self.account.action_verify_connection()
        self.assertEqual(self.account.state, "connected")
        self.assertTrue(self.account.profile_name)
        self.assertEqual(self.account.profile_currency, "USD")
        products = [p for p in self.sandbox.products if not p.get("deleted")]
        self.assertEqual(
            self.account.products_published_count
            + self.account.products_unpublished_count,
            len(products),
        )
        self.assertEqual(
            self.account.products_unpublished_count,
            len([p for p in products if not p["published"]]),
        )
        self.assertFalse(self.account.missing_scopes)
        # The 30 days ending today in the seller's timezone (GET /sales/summary).
        zone = ZoneInfo("America/Los_Angeles")
        today = datetime.now(zone).date()
        recent = [
            sale
            for sale in self.sandbox.sales
            if datetime.fromisoformat(sale["created_at"]).astimezone(zone).date()
            >= today - timedelta(days=29)
        ]
        self.assertTrue(recent, "the demo data has sales in the last 30 days")
        self.assertEqual(self.account.sales_30d_count, len(recent))
        self.assertEqual(
            self.account.revenue_30d, sum(sale["price"] for sale in recent) / 100
        )
        requests = self.sandbox.request_log[logged:]
        self.assertEqual([r.path for r in requests].count("/v2/sales/summary"), 1)
        self.assertFalse([r for r in requests if r.path == "/v2/sales"])

    def test_a_second_connector_on_the_same_gumroad_account_is_refused(self):
        self.account.action_verify_connection()
        self.assertTrue(self.account.gumroad_user_id)
        second = self.env["gumroad.account"].create(
            {
                "name": "Second store",
                "company_id": self.company.id,
                "api_base_url": self.sandbox.base_url,
                "access_token": self.sandbox.token,
            }
        )
        action = second.action_verify_connection()
        self.assertEqual(action["params"]["type"], "danger")
        message = action["params"]["message"]
        self.assertIn("“Sandbox store”", message)
        self.assertIn("would book every sale twice", message)
        self.assertEqual(second.state, "error")
        self.assertEqual(second.last_error, message)
        self.assertFalse(second.gumroad_user_id)
        # Archiving the first one does not free the account: its sales are booked.
        self.account.active = False
        message = second.action_verify_connection()["params"]["message"]
        self.assertIn("archived", message)
        self.assertFalse(second.gumroad_user_id)
        # The database refuses it too, whatever the path.
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaises(psycopg2.IntegrityError),
            self.env.cr.savepoint(),
        ):
            second.sudo().write({"gumroad_user_id": self.account.gumroad_user_id})
            self.env.flush_all()

    @mute_logger("odoo.addons.gumroad_connector.gumroad.client")
    def test_verify_with_a_bad_token_sets_the_error_state_with_gumroads_reason(self):
        self.account.access_token = "revoked-token"
        action = self.account.action_verify_connection()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("invalid or has been revoked", action["params"]["message"])
        self.assertEqual(self.account.state, "error")
        self.assertIn("invalid or has been revoked", self.account.last_error)

    def test_missing_scope_lists_the_unavailable_features(self):
        profile_only = next(
            token
            for token, scopes in self.sandbox.tokens.items()
            if scopes == {"view_profile"}
        )
        self.account.access_token = profile_only
        self.account.action_verify_connection()
        self.assertEqual(self.account.state, "connected")
        self.assertIn("view_sales", self.account.missing_scopes)
        self.assertIn("view_payouts", self.account.missing_scopes)

    def test_disconnect_forgets_the_token(self):
        self.account.action_disconnect()
        self.assertFalse(self.account.has_token)
        self.assertEqual(self.account.state, "not_connected")
        with self.assertRaises(UserError):
            self.account._decrypted_token()
