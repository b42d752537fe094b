import itertools
from datetime import date, timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import GumroadCommon


@tagged("post_install", "-at_install")
class TestBackgroundImport(GumroadCommon):
    def import_runs(self):
        """Run the import cron once, reporting progress without committing."""
        with self.cron_progress() as progress:
            self.env["gumroad.import"]._cron_process_imports()
        return progress

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
        run = wizard.import_id
        # Cut into a window per calendar year, booked side by side by the workers.
        self.assertEqual((run.state, run.origin), ("running", "wizard"))
        years = today.year - (today - timedelta(days=400)).year + 1
        self.assertEqual(len(run.window_ids), years)
        self.assertEqual(set(run.window_ids.mapped("state")), {"queued"})
        self.assertEqual(run.progress, 0.0)
        self.assertFalse(self.account.sale_ids, "nothing is booked inside the wizard")
        progress = self.import_runs()
        self.assertTrue(progress.called, "the cron reports its progress")
        self.assertEqual(run.state, "done")
        self.assertEqual(run.progress, 100.0)
        self.assertEqual(run.sales_read, len(self.sandbox.sales))
        self.assertEqual(run.sales_failed, 0)
        self.assertIn(f"{len(self.sandbox.sales)} sales read", run.summary)
        self.assertEqual(len(self.account.sale_ids), len(self.sandbox.sales))
        self.assertIn(
            f"{len(self.sandbox.sales)} sales read", run.message_ids[:1].body or ""
        )

    def test_a_run_out_of_time_resumes_where_it_stopped(self):
        """The cron's time budget ends after the first chunk: the run keeps its
        position, and the next call finishes it without reading that chunk again.
        """
        today = fields.Datetime.now().date()
        # One run without windows, as the scheduled sync makes (a window resumes
        # the same way).
        run = self.env["gumroad.import"]._new_run(
            self.account, today - timedelta(days=400), today, "manual"
        )
        cron_class = type(self.env["ir.cron"])
        # Time left when the call starts, none after the first chunk.
        time_left = itertools.chain([10.0], itertools.repeat(0.0))
        with patch.object(
            cron_class, "_commit_progress", autospec=True, side_effect=time_left
        ):
            self.env["gumroad.import"]._cron_process_imports()
        self.assertEqual(run.state, "running")
        self.assertGreater(run.next_date, run.date_from)
        self.assertLess(run.next_date, today)
        self.assertTrue(0 < run.progress < 100)
        first_chunk = [
            s
            for s in self.sandbox.sales
            if date.fromisoformat(s["created_at"][:10]) < run.next_date
        ]
        self.assertEqual(run.sales_read, len(first_chunk))
        self.import_runs()
        self.assertEqual(run.state, "done")
        self.assertEqual(
            run.sales_read, len(self.sandbox.sales), "no day was read twice"
        )
        self.assertEqual(len(self.account.sale_ids), len(self.sandbox.sales))
        self.assertEqual(run.attempts, 2)

    def test_a_call_that_starts_out_of_time_books_nothing_and_is_called_again(self):
        """Odoo calls a job with work left ten times over, whatever its time: a call
        that starts with no time left books nothing (each would book a batch, and a
        prefork cron worker would outlast its time limit) and wakes the workers.
        """
        today = fields.Datetime.now().date()
        run = self.env["gumroad.import"]._new_run(
            self.account, today - timedelta(days=400), today, "manual"
        )
        crons = self.env["gumroad.import"]._worker_crons()
        triggers = self.env["ir.cron.trigger"].search_count(
            [("cron_id", "in", crons.ids)]
        )
        cron_class = type(self.env["ir.cron"])
        with patch.object(
            cron_class, "_commit_progress", autospec=True, return_value=0.0
        ) as commit_progress:
            self.env["gumroad.import"]._cron_process_imports()
        self.assertEqual(
            (run.state, run.sales_read, run.next_date), ("queued", 0, run.date_from)
        )
        self.assertFalse(self.account.sale_ids)
        self.assertEqual(commit_progress.call_args.kwargs, {"remaining": 1})
        self.assertEqual(
            self.env["ir.cron.trigger"].search_count([("cron_id", "in", crons.ids)]),
            triggers + len(crons),
            "each import worker is woken to take the run up at once",
        )
        self.import_runs()
        self.assertEqual(run.state, "done")
        self.assertEqual(len(self.account.sale_ids), len(self.sandbox.sales))

    @mute_logger(
        "odoo.addons.gumroad_connector.gumroad.client",
        "odoo.addons.gumroad_connector.models.gumroad_import",
    )
    def test_gumroad_down_during_a_scheduled_import_is_reported_not_raised(self):
        self.account.state = "connected"
        self.sandbox.faults.server_error_every = 1
        with self.no_sleep():
            self.import_runs_sync()
        run = self.account.last_import_id
        self.assertEqual((run.state, run.origin), ("failed", "schedule"))
        self.assertIn("unavailable", run.error_message)
        self.assertIn("run the import again", run.error_message)
        self.assertIn(
            "Import failed", " ".join(self.account.message_ids.mapped("body"))
        )
        self.assertFalse(self.account.sync_watermark, "the watermark does not move")
        # Retry queues a run of what is left, which books once Gumroad is back.
        self.sandbox.faults.reset()
        retry = self.env["gumroad.import"].browse(run.action_retry()["res_id"])
        self.assertEqual((retry.origin, retry.date_from), ("retry", run.date_from))
        self.import_runs()
        self.assertEqual(retry.state, "done")
        self.assertTrue(self.account.sale_ids)

    def import_runs_sync(self):
        with self.cron_progress():
            self.env["gumroad.account"]._cron_sync_sales()


@tagged("post_install", "-at_install")
class TestImportWindows(GumroadCommon):
    """An import over several years is cut into a window per year that the import
    workers (one cron each) take up side by side; the run adds them up once the last
    one ends.
    """

    sandbox_sales = 60

    def queue_all(self):
        today = fields.Datetime.now().date()
        return self.env["gumroad.import"]._queue(
            self.account, today - timedelta(days=400), today, "wizard"
        )

    def run_worker(self):
        with self.cron_progress():
            self.env["gumroad.import"]._cron_process_imports()

    def booked_refs(self):
        return self.env["account.move"].search(
            [("gumroad_sale_id.account_id", "=", self.account.id)]
        )

    def test_windows_cover_the_range_and_the_run_adds_them_up_each_sale_once(self):
        run = self.queue_all()
        windows = run.window_ids.sorted("date_from")
        self.assertEqual(
            [window.date_from.year for window in windows],
            list(range(run.date_from.year, run.date_to.year + 1)),
        )
        self.assertEqual(windows[0].date_from, run.date_from)
        self.assertEqual(windows[-1].date_to, run.date_to)
        for before, after in itertools.pairwise(windows):
            self.assertEqual(after.date_from, before.date_to + timedelta(days=1))
        self.assertEqual(self.account.import_count, 1, "the windows are not imports")
        self.assertEqual(self.account.last_import_id, run)
        self.run_worker()
        self.assertEqual(set(windows.mapped("state")), {"done"})
        self.assertEqual(run.state, "done")
        self.assertEqual(run.progress, 100.0)
        self.assertEqual(run.sales_read, len(self.sandbox.sales))
        self.assertEqual(sum(windows.mapped("sales_read")), len(self.sandbox.sales))
        self.assertEqual(len(self.account.sale_ids), len(self.sandbox.sales))
        self.assertIn(f"{len(self.sandbox.sales)} sales read", run.message_ids[:1].body)
        self.assertEqual(self.account.sync_watermark, fields.Datetime.now().date())
        # Booked once: a second import books nothing new.
        moves = self.booked_refs()
        again = self.queue_all()
        self.run_worker()
        self.assertEqual(again.sales_unchanged, len(self.sandbox.sales))
        self.assertEqual(self.booked_refs(), moves)

    @mute_logger(
        "odoo.addons.gumroad_connector.gumroad.client",
        "odoo.addons.gumroad_connector.models.gumroad_import",
    )
    def test_failed_windows_fail_the_run_and_its_retry_books_the_rest(self):
        run = self.queue_all()
        self.sandbox.faults.configure(server_error_every=1)
        with self.no_sleep():
            self.run_worker()
        self.assertEqual(run.state, "failed")
        count = len(run.window_ids)
        self.assertIn(
            f"{count} of {count} date windows did not finish", run.error_message
        )
        self.assertIn("unavailable", run.error_message)
        self.assertFalse(self.account.sale_ids)
        self.sandbox.faults.reset()
        retry = run.action_retry()
        retry_run = self.env["gumroad.import"].browse(retry["res_id"])
        self.assertEqual(retry_run.date_from, run.date_from)
        self.run_worker()
        self.assertEqual(retry_run.state, "done")
        self.assertEqual(len(self.account.sale_ids), len(self.sandbox.sales))

    def test_cancelling_the_run_cancels_its_windows(self):
        run = self.queue_all()
        run.action_cancel()
        self.assertEqual(set((run | run.window_ids).mapped("state")), {"cancelled"})
        self.run_worker()
        self.assertFalse(self.account.sale_ids)
