import json
from urllib.parse import parse_qsl, unquote_plus, urlencode

from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..dev import reliability
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
        reliability.record(
            "multi_company",
            "a manager of company A searches and reads company B's connector, sale "
            "and ping",
            "none found; a direct read is refused",
        )

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
        reliability.record(
            "secret_ui",
            "verify with a good then a revoked token",
            f"neither token in the error, the error state or {len(texts) - 2} "
            "chatter messages, nor in a read of every field",
        )

    def test_a_manager_who_is_not_admin_cannot_read_the_ciphertext(self):
        manager = self.gumroad_user("gumroad_manager_only", "manager")
        account = self.account.with_user(manager)
        self.assertEqual(account.read(["access_token"])[0]["access_token"], "********")
        with self.assertRaises(AccessError):
            account.read(["access_token_cipher"])

    def test_secrets_are_absent_from_rpc_reads(self):
        """What the web client and external RPC receive: the token as a placeholder,
        and no webhook secret at all for "Gumroad / User".
        """
        token = self.sandbox.token
        secret = self.account.webhook_secret
        cipher = self.account.sudo().access_token_cipher
        self.account.action_verify_connection()
        params = {
            "model": "gumroad.account",
            "method": "search_read",
            "args": [[("id", "=", self.account.id)]],
            "kwargs": {},
        }
        self.gumroad_user("gumroad_rpc_manager", "manager", password="rpc_manager")
        self.authenticate("gumroad_rpc_manager", "rpc_manager")
        manager_read = self.make_jsonrpc_request("/web/dataset/call_kw", params)
        self.assertEqual(manager_read[0]["access_token"], "********")
        self.assertEqual(manager_read[0]["webhook_secret"], secret)
        self.assertNotIn(token, json.dumps(manager_read))

        self.gumroad_user("gumroad_rpc_user", "user", password="rpc_user")
        self.authenticate("gumroad_rpc_user", "rpc_user")
        user_read = self.make_jsonrpc_request("/web/dataset/call_kw", params)
        self.assertEqual(user_read[0]["name"], "Sandbox store")
        self.assertNotIn("webhook_secret", user_read[0])
        self.assertNotIn("access_token_cipher", user_read[0])
        text = json.dumps(user_read)
        for hidden in (token, secret, cipher):
            self.assertNotIn(hidden, text)
        reliability.record(
            "secret_rpc",
            "search_read of every field over JSON-RPC as Gumroad / Manager and as "
            "Gumroad / User",
            'the manager gets "********" for the token; the user gets no token, '
            "ciphertext or webhook secret",
        )

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
        self.process_events()
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
        reliability.record(
            "webhook_bad_bodies",
            "no body, a JSON body, SQL/HTML in the form keys' values, in the sale id",
            f"{len(bodies)} x 200, all {len(events)} kept as received and in error, "
            "nothing booked",
        )

    def test_a_one_mebibyte_body_is_refused_and_nothing_is_stored(self):
        response = self.url_open(
            self.url, data=b"x=" + b"a" * (1024 * 1024), headers=FORM
        )
        self.assertEqual(response.status_code, 413)
        self.assertFalse(self.events.search([]))
        reliability.record(
            "webhook_huge_body",
            "a 1 MiB form body with the right secret",
            "413 before Odoo parses it; nothing stored",
        )

    def test_replayed_old_pings_book_nothing_twice(self):
        """Gumroad retries and attackers replay: an old ping posted again, and an
        inbox event replayed by hand, re-read the sale and change nothing.
        """
        sale = self.sandbox_sale(
            lambda s: self.untouched(s) and not s["is_gift_sender_purchase"]
        )
        sale_ping = self.sandbox.ping_body("sale", sale_id=sale["id"])
        self.url_open(self.url, data=sale_ping, headers=FORM)
        self.sandbox.refund(sale["id"], amount_cents=sale["price"] // 2)
        refund_ping = self.sandbox.ping_body("refund", sale_id=sale["id"])
        self.url_open(self.url, data=refund_ping, headers=FORM)
        self.process_events()
        record = self.record(sale["id"])
        net = self.sandbox.sale_net_usd_cents(sale["id"]) / 100
        self.assertEqual(self.booked_net(record), net)
        moves_before = record.move_ids

        for body in (sale_ping, refund_ping, sale_ping, refund_ping):
            response = self.url_open(self.url, data=body, headers=FORM)
            self.assertEqual(response.status_code, 200)
        self.events.search([], limit=1, order="id").action_replay()
        self.process_events()
        events = self.events.search([])
        self.assertEqual(len(events), 6, "every delivery is kept")
        self.assertEqual(set(events.mapped("state")), {"done"})
        self.assertEqual(record.move_ids, moves_before, "no move added")
        self.assertEqual(self.booked_net(record), net)
        reliability.record(
            "webhook_replayed_ping",
            "a sale and a refund ping posted again twice, and the oldest event "
            "replayed from the inbox",
            f"{len(events)} events kept and done; still {len(moves_before)} moves, "
            "net unchanged to the cent",
        )

    @mute_logger("odoo.addons.gumroad_connector.gumroad.client")
    def test_sql_and_html_in_every_field_of_a_real_ping(self):
        """The ping only says which sale to re-read: hostile text in its fields
        reaches neither the ledger nor the database's structure.
        """
        sale = self.sandbox_sale(
            lambda s: self.untouched(s) and not s["is_gift_sender_purchase"]
        )
        real = parse_qsl(
            self.sandbox.ping_body("sale", sale_id=sale["id"]).decode(),
            keep_blank_values=True,
        )
        every_field = urlencode([(key, HOSTILE) for key, _value in real]).encode()
        all_but_id = urlencode(
            [(key, value if key == "sale_id" else HOSTILE) for key, value in real]
        ).encode()
        for body in (every_field, all_but_id):
            response = self.url_open(self.url, data=body, headers=FORM)
            self.assertEqual(response.status_code, 200)
        self.process_events()
        hostile_event, poisoned_event = self.events.search([], order="id")
        self.assertEqual(hostile_event.state, "error")
        self.assertIn(HOSTILE, unquote_plus(hostile_event.body))
        # "resource_name" is hostile too, so the ping is unknown: kept, not booked.
        self.assertEqual(poisoned_event.state, "error")
        self.assertFalse(self.record(sale["id"]))

        # The same poisoned fields with the real kind, id and time (a ping whose
        # timestamp is not a date is malformed): booked from Gumroad's own data.
        kept = ("resource_name", "sale_id", "sale_timestamp")
        fields_ = [(key, value if key in kept else HOSTILE) for key, value in real]
        self.url_open(self.url, data=urlencode(fields_).encode(), headers=FORM)
        self.process_events()
        record = self.record(sale["id"])
        self.assertEqual(record.state, "invoiced")
        invoice = record.invoice_id
        texts = [
            invoice.partner_id.name,
            invoice.partner_id.email or "",
            *invoice.invoice_line_ids.mapped("name"),
            record.product_name or "",
            record.buyer_email or "",
        ]
        for text in texts:
            self.assertNotIn("<script>", text)
        self.assertEqual(invoice.partner_id.email, sale["email"])
        self.assertTrue(self.env["gumroad.sale"].search_count([]), "table intact")
        reliability.record(
            "webhook_every_field_hostile",
            f"SQL and HTML in all {len(real)} fields of a real sale ping; then in all "
            "but its kind, id and time",
            "kept as received and in error; then booked from Gumroad's own data, no "
            "hostile text on the invoice",
        )
