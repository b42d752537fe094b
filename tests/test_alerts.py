import json
from datetime import timedelta

from odoo import fields
from odoo.tests import new_test_user, tagged

from .common import GumroadCommon


@tagged("post_install", "-at_install")
class TestAlerts(GumroadCommon):
    sandbox_sales = 80  # enough for a JPY sale
    """A problem raises one alert for a person, and the alert closes itself."""

    def setUp(self):
        super().setUp()
        self.responsible = self.gumroad_user("alert_responsible")
        self.account.responsible_user_id = self.responsible
        self.follower = new_test_user(
            self.env,
            login="alert_follower",
            groups="base.group_user",
            notification_type="email",
            email="follower@example.com",
        )
        self.account.message_subscribe(partner_ids=self.follower.partner_id.ids)

    def run_import(self, origin, user=None):
        """An import run of every day, processed by the import cron."""
        model = self.env["gumroad.import"]
        run = (model.with_user(user) if user else model)._queue(
            self.account,
            fields.Date.to_date("2000-01-01"),
            fields.Date.today(),
            origin,
        )
        with self.cron_progress():
            model._cron_process_imports()
        return run

    def open_alerts(self, kind):
        return self.env["gumroad.alert"].search(
            [
                ("account_id", "=", self.account.id),
                ("kind", "=", kind),
                ("state", "=", "open"),
            ]
        )

    def alert_activities(self):
        return self.env["mail.activity"].search(
            [
                ("res_model", "=", "gumroad.account"),
                ("res_id", "=", self.account.id),
                (
                    "activity_type_id",
                    "=",
                    self.env.ref(
                        "gumroad_connector.mail_activity_type_gumroad_alert"
                    ).id,
                ),
            ]
        )

    def emails_to_follower(self):
        return self.env["mail.notification"].search(
            [
                ("res_partner_id", "=", self.follower.partner_id.id),
                ("notification_type", "=", "email"),
                ("mail_message_id.model", "=", "gumroad.account"),
                ("mail_message_id.res_id", "=", self.account.id),
            ]
        )

    def test_sales_in_error_raise_one_alert_which_closes_after_the_retry(self):
        self.account.currency_mode = "listed"
        self.jpy.active = False
        counts = self.import_all()
        self.assertGreater(counts["failed"], 0, "the demo data needs a JPY sale")

        alert = self.open_alerts("sales_error")
        self.assertEqual(len(alert), 1)
        self.assertEqual(alert.record_count, counts["failed"])
        activity = self.alert_activities()
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.responsible)
        self.assertEqual(activity.summary, "Sales in error")
        self.assertIn(f"/odoo/gumroad.alert/{alert.id}", str(activity.note))
        email = self.emails_to_follower()
        self.assertEqual(len(email), 1)
        self.assertIn("Sales in error", email.mail_message_id.body)
        action = alert.action_open_records()
        self.assertEqual(action["res_model"], "gumroad.sale")
        self.assertEqual(
            self.env["gumroad.sale"].search_count(action["domain"]), counts["failed"]
        )

        # The next runs find the same problem: no second alert, activity or email.
        self.import_all()
        self.account._refresh_alerts()
        self.assertEqual(self.open_alerts("sales_error"), alert)
        self.assertEqual(len(self.alert_activities()), 1)
        self.assertEqual(len(self.emails_to_follower()), 1)

        self.jpy.active = True
        self.env["gumroad.sale"].search(
            [("account_id", "=", self.account.id), ("state", "=", "error")]
        ).action_retry()
        self.assertEqual(alert.state, "closed")
        self.assertTrue(alert.closed_at)
        self.assertFalse(self.alert_activities())
        self.assertIn("Solved: Sales in error", self.account.message_ids[0].body)

    def test_a_refused_token_raises_an_alert_closed_by_a_good_connection(self):
        self.sandbox.store.revoked_tokens.add(self.sandbox.token)
        self.addCleanup(self.sandbox.store.revoked_tokens.discard, self.sandbox.token)
        self.account.action_verify_connection()
        self.assertEqual(self.account.state, "error")
        self.assertEqual(len(self.open_alerts("token")), 1)
        self.account.action_verify_connection()
        self.assertEqual(len(self.open_alerts("token")), 1)
        self.assertEqual(len(self.alert_activities()), 1)
        self.assertEqual(len(self.emails_to_follower()), 1)

        self.sandbox.store.revoked_tokens.discard(self.sandbox.token)
        self.account.action_verify_connection()
        self.assertEqual(self.account.state, "connected")
        self.assertFalse(self.open_alerts("token"))

    def test_no_sync_for_a_day_is_an_alert_until_the_next_good_sync(self):
        self.account.write(
            {
                "state": "connected",
                "last_sync_at": fields.Datetime.now() - timedelta(days=2),
            }
        )
        self.account._refresh_alerts()
        alert = self.open_alerts("unreachable")
        self.assertEqual(len(alert), 1)
        self.account._refresh_alerts()
        self.assertEqual(len(self.alert_activities()), 1)
        self.assertEqual(len(self.emails_to_follower()), 1)
        self.account.last_sync_at = fields.Datetime.now()
        self.account._refresh_alerts()
        self.assertEqual(alert.state, "closed")

    def test_a_background_import_tells_who_started_it(self):
        user = self.gumroad_user("alert_starter")
        run = self.run_import("wizard", user)
        self.assertEqual(run.state, "done")
        self.env.cr.precommit.run()
        payloads = [
            json.loads(n.message).get("payload", {})
            for n in self.env["bus.bus"]
            .sudo()
            .search([("message", "like", "simple_notification")])
        ]
        mine = [
            p
            for p in payloads
            if p.get("title") == f"Gumroad import {run.display_name}"
        ]
        self.assertEqual(len(mine), 1, "the starter gets one notification")
        self.assertEqual(mine[0]["message"], run.summary)
        self.assertEqual(mine[0]["type"], "success")

    def test_a_ping_in_error_raises_an_alert_closed_once_none_is_left(self):
        events = self.env["gumroad.webhook.event"]
        event = events._store_ping(self.account, b"not a gumroad ping", "text/plain")
        self.assertEqual(event.state, "error")
        self.account._refresh_alerts()
        alert = self.open_alerts("pings_error")
        self.assertEqual(len(alert), 1)
        self.assertEqual(alert.record_count, 1)
        self.assertEqual(len(self.emails_to_follower()), 1)
        self.account._refresh_alerts()
        self.assertEqual(len(self.emails_to_follower()), 1, "no second email")
        event.unlink()
        self.account._refresh_alerts()
        self.assertEqual(alert.state, "closed")

    def test_a_failed_import_raises_an_alert_closed_by_the_next_complete_run(self):
        self.sandbox.faults.configure(server_error_every=1)
        with self.no_sleep():
            failed = self.run_import("manual")
        self.assertEqual(failed.state, "failed")
        alert = self.open_alerts("import_failed")
        self.assertEqual(len(alert), 1)
        self.assertIn(failed.error_message, alert.message)
        self.assertEqual(len(self.alert_activities()), 1)
        self.assertEqual(len(self.emails_to_follower()), 1)

        self.sandbox.faults.reset()
        done = self.run_import("manual")
        self.assertEqual(done.state, "done")
        self.assertEqual(alert.state, "closed")
        self.assertFalse(self.alert_activities())

    def test_a_payout_no_bank_line_paid_is_an_alert_unless_it_paid_nothing(self):
        def booked_payout(gumroad_id, amount):
            payout = self.env["gumroad.payout"].create(
                {
                    "account_id": self.account.id,
                    "gumroad_id": gumroad_id,
                    "amount": amount,
                    "payout_date": "2026-01-02",
                }
            )
            payout._book()
            return payout

        nothing = booked_payout("payout-nothing", 0.0)
        unpaid = booked_payout("payout-unpaid", 25.0)
        # The bank statements go well past the days a payout takes to arrive.
        self.env["account.bank.statement.line"].create(
            {
                "journal_id": self.account._payout_bank_journal().id,
                "date": "2026-02-02",
                "payment_ref": "Office rent",
                "amount": -850.0,
            }
        )
        self.assertFalse((nothing | unpaid)._reconcile_with_statements())
        self.account._refresh_alerts()
        alert = self.open_alerts("payout_mismatch")
        self.assertEqual(alert.record_count, 1)
        action = alert.action_open_records()
        self.assertEqual(self.env["gumroad.payout"].search(action["domain"]), unpaid)

    def test_a_payout_line_that_differs_raises_an_alert_until_it_matches(self):
        payout = self.env["gumroad.payout"].create(
            {"account_id": self.account.id, "gumroad_id": "payout-1", "amount": 10.0}
        )
        line = self.env["gumroad.payout.line"].create(
            {"payout_id": payout.id, "kind": "Sale", "state": "amount"}
        )
        self.account._refresh_alerts()
        alert = self.open_alerts("payout_mismatch")
        self.assertEqual(alert.record_count, 1)
        self.account._refresh_alerts()
        self.assertEqual(len(self.alert_activities()), 1)
        self.assertEqual(len(self.emails_to_follower()), 1)
        action = alert.action_open_records()
        self.assertEqual(self.env["gumroad.payout"].search(action["domain"]), payout)
        line.state = "matched"
        self.account._refresh_alerts()
        self.assertEqual(alert.state, "closed")
