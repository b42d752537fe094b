import logging
import random
import time
from collections import Counter
from contextlib import closing
from datetime import timedelta
from typing import ClassVar

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from .. import const
from ..gumroad import GumroadError, profiling
from ..gumroad.importing import (
    chunk_days,
    clamp_range,
    import_windows,
    next_chunk,
    window_days,
)
from .gumroad_sale_booking import CONCURRENCY_ERRORS, COUNT_KEYS

_logger = logging.getLogger(__name__)

# A conflicting batch is retried this many times, each in a fresh transaction, then
# split in halves; a single sale is retried up to MAX_BATCH_ATTEMPTS times.
SPLIT_AFTER_ATTEMPTS = 3
MAX_BATCH_ATTEMPTS = 10
# First key of the PostgreSQL advisory locks that make one worker own a run.
ADVISORY_LOCK_NAMESPACE = 0x6752  # "gR"
# The tables an import fills. Odoo's numbering and reconciliation queries on them pick
# their plans from the planner's statistics: stale ones (autovacuum off or lagging
# behind a bulk import) make each posting scan the journal, so an import slows down
# as it grows.
ANALYZED_TABLES = (
    "account_move",
    "account_move_line",
    "account_partial_reconcile",
    "gumroad_sale",
)
# ANALYZE a table once this many rows changed since its statistics, plus this share of
# its rows: autovacuum's own default thresholds are lower (50 rows + 10 %), so where
# autovacuum runs, it is always first.
STALE_STATISTICS_ROWS = 1000
STALE_STATISTICS_SHARE = 0.2
STATISTICS_LOCK_NAMESPACE = 0x67525354  # "gRST": one worker analyzes at a time


class RunCancelled(Exception):
    """Someone cancelled the run while a worker was booking it."""


class GumroadImport(models.Model):
    """One import of a connector's sales over a date range, booked batch by batch.

    Every path that imports creates one: the wizard, the scheduled sync (with its
    refund re-scan), a gift ping, a retry, a script. Runs are processed by the
    "Gumroad: run imports" cron, or in the caller's own transaction for a small
    foreground import (see `_run_foreground`).

    Who commits, and why it is safe:
    - In a cron, each batch of sales is booked in its own transaction and committed
      by `ir.cron._commit_progress`, together with the run's counts. After each
      complete chunk of days the run records the first day still to import
      (`next_date`), so a run that is killed or runs out of the cron's time budget goes
      on from there on the next call; a batch that was committed is read again as
      "unchanged" and books nothing.
    - A worker owns a run through a session-level PostgreSQL advisory lock on the run's
      id, which survives the worker's own commits and dies with its connection: two
      cron workers never process one run at once, and a crashed worker's run is free.
    - A sale is never booked twice because the booking transaction itself claims the
      sale rows (INSERT ... ON CONFLICT DO NOTHING, then SELECT ... FOR UPDATE; see
      `gumroad.sale._book_payloads`): a racer that booked the same sale first makes this
      transaction wait, then fail with a serialization error, and the batch is retried
      in a fresh transaction that sees what the racer booked.
    - In the foreground (a request, a script) nothing is committed here: the caller's
      transaction holds the whole import and commits it, or rolls it back, as one.
    - A queued run over several calendar years is cut into a window per year, runs
      of their own (`window_ids`) that the import workers (one cron each) take up
      side by side; the run itself books nothing. The worker that ends its last
      window closes it, after its own commit, in a fresh transaction: whichever
      window ends last, its worker sees every other one ended.
    """

    _name = "gumroad.import"
    _description = "Gumroad Import"
    _inherit: ClassVar[list[str]] = ["mail.thread"]
    _order = "id desc"

    # === FIELDS === #

    name = fields.Char(compute="_compute_name")
    account_id = fields.Many2one(
        "gumroad.account",
        string="Connector",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    company_id = fields.Many2one(
        related="account_id.company_id", store=True, index=True
    )
    user_id = fields.Many2one(
        "res.users",
        string="Started by",
        default=lambda self: self.env.user,
        readonly=True,
    )
    origin = fields.Selection(
        [
            ("wizard", "Import wizard"),
            ("schedule", "Scheduled sync"),
            ("ping", "Gift ping"),
            ("retry", "Retry"),
            ("manual", "Script or server action"),
        ],
        required=True,
        default="manual",
        readonly=True,
    )
    date_from = fields.Date(required=True, readonly=True, help="First UTC day.")
    date_to = fields.Date(required=True, readonly=True, help="Last UTC day.")
    rescan = fields.Boolean(
        string="Refund re-scan",
        readonly=True,
        help="The daily refund re-scan of the scheduled sync: recorded on the "
        "connector when the run is done.",
    )
    next_date = fields.Date(
        string="Resumes at",
        readonly=True,
        help="Every day before this one is imported completely.",
    )
    state = fields.Selection(
        [
            ("queued", "Queued"),
            ("running", "Running"),
            ("done", "Done"),
            ("failed", "Failed"),
            ("cancelled", "Cancelled"),
        ],
        default="queued",
        required=True,
        readonly=True,
        index=True,
        tracking=True,
    )
    sales_read = fields.Integer(string="Sales read", readonly=True)
    sales_new = fields.Integer(string="New", readonly=True)
    sales_changed = fields.Integer(string="Changed", readonly=True)
    sales_unchanged = fields.Integer(string="Unchanged", readonly=True)
    sales_skipped = fields.Integer(string="Not invoiced ($0)", readonly=True)
    sales_failed = fields.Integer(string="Failed", readonly=True)
    progress = fields.Float(
        compute="_compute_progress", help="Share of the range's days imported."
    )
    summary = fields.Text(compute="_compute_summary")
    error_message = fields.Text(readonly=True)
    started_at = fields.Datetime(readonly=True)
    finished_at = fields.Datetime(readonly=True)
    attempts = fields.Integer(
        readonly=True, help="How many times a worker took this run up."
    )
    parent_id = fields.Many2one(
        "gumroad.import",
        string="Window of",
        readonly=True,
        index=True,
        ondelete="cascade",
        help="This run is a date window of a longer import, booked by whichever "
        "import worker is free.",
    )
    window_ids = fields.One2many(
        "gumroad.import", "parent_id", string="Windows", readonly=True
    )

    _date_range_ordered = models.Constraint(
        "CHECK(date_from <= date_to)",
        "An import's start date must not be after its end.",
    )

    # === COMPUTE METHODS === #

    @api.depends("account_id", "date_from", "date_to")
    def _compute_name(self):
        for run in self:
            run.name = self.env._(
                "%(connector)s: %(start)s to %(end)s",
                connector=run.account_id.name or "",
                start=run.date_from,
                end=run.date_to,
            )

    @api.depends(
        "date_from",
        "date_to",
        "next_date",
        "state",
        "window_ids.next_date",
        "window_ids.state",
    )
    def _compute_progress(self):
        last_day = fields.Date.context_today(self) + timedelta(days=1)
        for run in self:
            if run.window_ids and run.state != "done":
                days = {
                    window: (window.date_to - window.date_from).days + 1
                    for window in run.window_ids
                }
                run.progress = sum(
                    window.progress * count for window, count in days.items()
                ) / sum(days.values())
                continue
            span = (
                run.date_from
                and run.date_to
                and clamp_range(
                    run.date_from, run.date_to, const.GUMROAD_FIRST_DAY, last_day
                )
            )
            if run.state == "done" or (run.date_from and not span):
                run.progress = 100.0
                continue
            if not span or not run.next_date:
                run.progress = 0.0
                continue
            total = (span[1] - span[0]).days + 1
            done = min(max((run.next_date - span[0]).days, 0), total)
            run.progress = 100.0 * done / total

    @api.depends(*(f"sales_{key}" for key in COUNT_KEYS))
    def _compute_summary(self):
        for run in self:
            run.summary = run.account_id._format_counts(run._counts())

    # === ACTION METHODS === #

    def action_retry(self):
        """Queue a new run for what a failed or cancelled run did not import (from
        its first window not done, for a run cut into windows)."""
        self.check_access("write")
        runs = self.browse()
        for run in self.filtered(lambda r: r.state in ("failed", "cancelled")):
            unfinished = run.window_ids.filtered(lambda w: w.state != "done")
            start = min(
                (w.next_date or w.date_from for w in unfinished),
                default=run.next_date or run.date_from,
            )
            runs |= run._queue(run.account_id, start, run.date_to, "retry")
        return runs._open() if len(runs) == 1 else True

    def action_cancel(self):
        self.check_access("write")
        (self | self.window_ids).filtered(
            lambda r: r.state in ("queued", "running")
        ).write({"state": "cancelled", "finished_at": fields.Datetime.now()})
        return True

    def _open(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Gumroad import"),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
        }

    # === BUSINESS METHODS === #

    def _counts(self):
        self.ensure_one()
        return Counter({key: self[f"sales_{key}"] for key in COUNT_KEYS})

    @api.model
    def _queue(self, account, date_from, date_to, origin, rescan=False):
        """A queued run of [date_from, date_to] for the import workers (triggered
        now), cut into a window per calendar year when it spans several."""
        run = self._new_run(account, date_from, date_to, origin, rescan=rescan)
        span = clamp_range(
            date_from,
            date_to,
            const.GUMROAD_FIRST_DAY,
            fields.Datetime.now().date() + timedelta(days=1),
        )
        windows = span and import_windows(*span)
        if windows and len(windows) > 1:
            run.write({"state": "running", "started_at": fields.Datetime.now()})
            self.create(
                [
                    {
                        "account_id": account.id,
                        "date_from": start,
                        "date_to": end,
                        "next_date": start,
                        "origin": origin,
                        "user_id": self.env.uid,
                        "parent_id": run.id,
                    }
                    for start, end in windows
                ]
            )
        for cron in self._worker_crons():
            cron._trigger()
        return run

    @api.model
    def _worker_crons(self):
        """The import workers: one scheduled action each, as Odoo runs one job in
        one cron thread at a time."""
        return (
            self.env["ir.cron"]
            .sudo()
            .with_context(active_test=False)
            .search([("code", "=", "model._cron_process_imports()")])
            .filtered("active")
        )

    @api.model
    def _new_run(self, account, date_from, date_to, origin, rescan=False):
        # Created as the caller (a manager, or the cron's user): the run books as it.
        return self.create(
            {
                "account_id": account.id,
                "date_from": date_from,
                "date_to": date_to,
                "next_date": date_from,
                "origin": origin,
                "rescan": rescan,
                "user_id": self.env.uid,
            }
        )

    def _run_foreground(self):
        """Book the whole run in the caller's transaction, without committing.

        :return: the run's counts
        """
        self.ensure_one()
        lock = SQL(
            "SELECT pg_try_advisory_xact_lock(%s, %s)", ADVISORY_LOCK_NAMESPACE, self.id
        )
        self.env.cr.execute(lock)
        if not self.env.cr.fetchone()[0]:
            raise UserError(self.env._("This import is being run by another worker."))
        self._execute(checkpoint=self._flush_checkpoint, retry=False)
        return dict(self._counts())

    def _flush_checkpoint(self, processed=0):
        self.env.flush_all()
        return float("inf")

    def _cron_checkpoint(self, processed=0):
        return self.env["ir.cron"]._commit_progress(processed)

    @api.model
    def _cron_process_imports(self):
        """Process queued and interrupted runs, oldest first, within the cron's
        time budget (a run that outlasts it goes on at the cron's next call).
        """
        cron = self.env["ir.cron"]
        # A run cut into windows books nothing itself: its windows do.
        domain = [("state", "in", ("queued", "running")), ("window_ids", "=", False)]
        for run_id in self.search(domain, order="id").ids:
            # Odoo calls a job that reports work left at least ten times in a row,
            # whatever its time: a call that starts out of time books nothing, or
            # the job would book ten more batches and outlast a prefork cron
            # worker's limits (limit_time_real kills it after 120 s by default).
            if (
                cron._commit_progress() <= 0
                or self.browse(run_id)._run_in_cron() is False
            ):
                # Out of time with work left: Odoo runs the job again after the other
                # ready jobs; wake the cron workers so that they look again at once.
                cron._commit_progress(remaining=self.search_count(domain))
                for worker in self._worker_crons():
                    worker._trigger()
                return
        # A run whose last window's worker gave way to a conflict is closed here.
        for run in self.search(
            [("state", "in", ("queued", "running")), ("window_ids", "!=", False)]
        ):
            run._close_windows()
        cron._commit_progress(remaining=0)

    def _run_in_cron(self):
        """Process this run as its one owner, committing batch by batch.

        :return: True when the run ended (done or failed), False when the cron's time
            budget ran out (it goes on at the next call), None when another worker
            holds it.
        """
        self.ensure_one()
        if self.window_ids:
            # Its windows, one after the other, as one worker takes them (a script,
            # the scheduled sync); those another worker holds are left to it.
            for window in self.window_ids.sorted("id"):
                if window._run_in_cron() is False:
                    return False
            self._close_windows()
            return self.state not in ("queued", "running") or None
        cr = self.env.cr
        cr.execute(
            SQL("SELECT pg_try_advisory_lock(%s, %s)", ADVISORY_LOCK_NAMESPACE, self.id)
        )
        if not cr.fetchone()[0]:
            return None
        try:
            # A fresh snapshot: a worker that finished this run just before the lock
            # was taken has committed, and its result must be seen.
            self._cron_checkpoint(0)
            self.invalidate_recordset()
            if self.state not in ("queued", "running"):
                return True
            ended = self._execute(checkpoint=self._cron_checkpoint, retry=True)
            if ended and self.parent_id:
                self.parent_id._close_windows()
            return ended
        except Exception:
            # The cron rolls back anyway; the unlock below needs a usable transaction.
            cr.rollback()
            raise
        finally:
            # A session lock outlives the cursor (its connection goes back to the pool):
            # release it explicitly.
            cr.execute(
                SQL(
                    "SELECT pg_advisory_unlock(%s, %s)",
                    ADVISORY_LOCK_NAMESPACE,
                    self.id,
                )
            )

    def _execute(self, checkpoint, retry):
        """Walk the run's range chunk by chunk from `next_date`, booking batch by batch.

        :param checkpoint: called after each booked batch with the number of sales;
            returns the seconds left (commits in a cron, flushes in the foreground)
        :param retry: retry a batch that conflicts with a concurrent booker in a fresh
            transaction (only where this code owns the transaction)
        :return: True when the run ended, False when the time budget ran out
        """
        self.ensure_one()
        account = self.account_id
        self.write(
            {
                "state": "running",
                "started_at": self.started_at or fields.Datetime.now(),
                "attempts": self.attempts + 1,
                "error_message": False,
            }
        )
        checkpoint(0)
        span = clamp_range(
            self.next_date or self.date_from,
            self.date_to,
            const.GUMROAD_FIRST_DAY,
            fields.Datetime.now().date() + timedelta(days=1),
        )
        try:
            client = account._gumroad_client()
        except UserError as err:
            return self._fail(str(err), checkpoint)
        if span:
            days = chunk_days(*span)
            chunk = next_chunk(span[0], span[1], days)
            while chunk:
                try:
                    if self._book_chunk(client, chunk, checkpoint, retry):
                        return True  # failed
                except RunCancelled:
                    _logger.info("Gumroad import %s cancelled", self.id)
                    return True
                chunk = next_chunk(chunk[1] + timedelta(days=1), span[1], days)
                self.next_date = chunk[0] if chunk else self.date_to + timedelta(days=1)
                if checkpoint(0) <= 0 and chunk:
                    return False
        self._call_retrying(self._finish, retry)
        checkpoint(0)
        return True

    def _book_chunk(self, client, chunk, checkpoint, retry):
        """Fetch and book the sales of one chunk of days.

        :return: True when Gumroad failed (the run is then failed), None when the
            chunk is booked
        """
        date_from, date_to = chunk
        sale_model = self.env["gumroad.sale"]
        pages = client.iter_sales_windows(
            date_from,
            date_to,
            window_days=window_days(
                date_from, date_to, const.FETCH_WORKERS, const.SALES_WINDOW_MIN_DAYS
            ),
            max_workers=const.FETCH_WORKERS,
        )
        buffer = []
        try:
            with closing(pages):
                while True:
                    with profiling.phase("fetch"):
                        page = next(pages, None)
                    if page is None:
                        break
                    buffer.extend(page)
                    if len(buffer) < const.SALE_BATCH_SIZE:
                        continue
                    batch, buffer = buffer, []
                    # Committed, but the chunk goes on: stopping here would make the
                    # next call read the chunk's pages again from its first day.
                    self._book_batch(sale_model, batch, retry, checkpoint)
        except GumroadError as err:
            if buffer:
                # The pages read before the failure are whole: book them, so a run
                # that keeps failing still moves forward.
                self._book_batch(sale_model, buffer, retry, checkpoint)
            message = self.env._(
                "Import stopped after %(read)s sales: %(reason)s Booked sales are "
                "kept; run the import again to finish.",
                read=self.sales_read,
                reason=str(err),
            )
            self._fail(message, checkpoint)
            return True
        if buffer:
            self._book_batch(sale_model, buffer, retry, checkpoint)
        return None

    def _book_batch(self, sale_model, payloads, retry, checkpoint):
        """Book a batch of sale payloads, then `checkpoint` it (commit it, in a cron).

        In a cron, a batch that keeps conflicting with concurrent bookers (pings of
        the same sales, another import) is split in halves, each retried and committed
        on its own: a big REPEATABLE READ transaction that waits on small ones would
        otherwise fail every time one of them commits first.
        """
        parts = [payloads]
        while parts:
            part = parts.pop(0)
            single = len(part) == 1
            try:
                self._call_retrying(
                    lambda part=part: self._book_part(sale_model, part),
                    retry,
                    attempts=MAX_BATCH_ATTEMPTS if single else SPLIT_AFTER_ATTEMPTS,
                )
            except CONCURRENCY_ERRORS as err:
                if not retry or single:
                    raise
                _logger.info(
                    "Gumroad import %s: %s sales kept conflicting (%r); booking them "
                    "in two halves",
                    self.id,
                    len(part),
                    err,
                )
                self.env.cr.rollback()
                half = len(part) // 2
                parts[:0] = [part[:half], part[half:]]
                continue
            with profiling.phase("commit"):
                checkpoint(len(part))
        if retry:
            # Only where this code owns the transaction: ANALYZE holds its table
            # lock until the commit that follows at once.
            with profiling.phase("statistics"):
                if self._refresh_statistics():
                    checkpoint(0)
        progress = self.env.context.get("gumroad_progress")
        if callable(progress):  # the demo's terminal progress line
            progress(self.sales_read, self._counts())

    def _refresh_statistics(self):
        """ANALYZE the tables the import fills whose planner statistics are far
        staler than autovacuum lets them be, as PostgreSQL advises after a bulk load
        ("Populating a Database": run ANALYZE afterwards).

        :return: the tables analyzed
        """
        cr = self.env.cr
        cr.execute(
            SQL(
                "SELECT relname FROM pg_stat_user_tables WHERE relname IN %s "
                "AND n_mod_since_analyze > %s + %s * n_live_tup",
                ANALYZED_TABLES,
                STALE_STATISTICS_ROWS,
                STALE_STATISTICS_SHARE,
            )
        )
        stale = [name for (name,) in cr.fetchall()]
        if not stale:
            return []
        cr.execute(
            SQL("SELECT pg_try_advisory_xact_lock(%s, 0)", STATISTICS_LOCK_NAMESPACE)
        )
        if not cr.fetchone()[0]:
            return []  # another worker is analyzing them
        cr.execute(SQL("ANALYZE %s", SQL(", ").join(map(SQL.identifier, stale))))
        _logger.info("Gumroad import %s: statistics refreshed: %s", self.id, stale)
        return stale

    def _book_part(self, sale_model, payloads):
        if self.state == "cancelled":  # read afresh after each commit
            raise RunCancelled()
        counts = sale_model._book_payloads(self.account_id, payloads)
        counts["read"] = len(payloads)
        with profiling.phase("run counts"):
            self.write(
                {
                    f"sales_{key}": self[f"sales_{key}"] + counts.get(key, 0)
                    for key in COUNT_KEYS
                }
            )
        _logger.info(
            "Gumroad import %s (connector %s): %s sales read, %s",
            self.id,
            self.account_id.id,
            self.sales_read,
            dict(counts),
        )
        return counts

    def _call_retrying(self, function, retry, attempts=MAX_BATCH_ATTEMPTS):
        """Run `function`; where this code owns the transaction, run it again in a
        fresh one when a concurrent booker touched the same rows.
        """
        if not retry:
            return function()
        for attempt in range(1, attempts + 1):
            try:
                result = function()
                # Serialization failures surface when the writes reach the database.
                with profiling.phase("flush"):
                    self.env.flush_all()
                return result
            except CONCURRENCY_ERRORS as err:
                if attempt == attempts:
                    raise
                _logger.info("Gumroad batch conflicted (%r), retry %s", err, attempt)
                # A fresh snapshot sees what the concurrent booker committed.
                self.env.cr.rollback()
                # Jittered back-off, so racers that collided do not collide again in
                # step.
                time.sleep(random.uniform(0.05, 0.2) * attempt)
        return None

    def _close_windows(self):
        """End this run once every window of it ended: done when all are, failed
        (with the first reason) when one failed. Called by a window's worker after
        it committed its window's end, so its fresh snapshot shows every window that
        ended before; when the last two end at once and both see it, the second
        write conflicts and gives way.
        """
        self.ensure_one()
        self.env.invalidate_all()
        windows = self.window_ids
        if self.state not in ("queued", "running") or any(
            w.state in ("queued", "running") for w in windows
        ):
            return
        counts = Counter()
        for window in windows:
            counts.update(window._counts())
        failed = windows.filtered(lambda w: w.state != "done").sorted("date_from")
        try:
            with self.env.cr.savepoint():
                self.write(
                    {
                        **{f"sales_{key}": counts[key] for key in COUNT_KEYS},
                        "next_date": min(
                            (w.next_date or w.date_from for w in failed),
                            default=self.date_to + timedelta(days=1),
                        ),
                    }
                )
                if failed:
                    self._fail(
                        self.env._(
                            "%(failed)s of %(count)s date windows did not finish; "
                            "%(window)s: %(reason)s",
                            failed=len(failed),
                            count=len(windows),
                            window=failed[0].display_name,
                            reason=failed[0].error_message
                            or dict(
                                failed[0]
                                ._fields["state"]
                                ._description_selection(self.env)
                            )[failed[0].state],
                        ),
                        self._flush_checkpoint,
                    )
                else:
                    self._finish()
        except CONCURRENCY_ERRORS:
            # Another worker closed it, or wrote the connector meanwhile: the import
            # cron's next call looks again.
            _logger.info("Gumroad import %s: closing conflicted, tried again", self.id)
            self.env.ref("gumroad_connector.ir_cron_gumroad_import_sales")._trigger()
            return
        self._cron_checkpoint(0)

    def _finish(self):
        self.write({"state": "done", "finished_at": fields.Datetime.now()})
        if self.parent_id:
            return  # the run it is a window of reports once all its windows ended
        self.account_id._record_import_done(self)
        # The days the import completed that have ended get their summaries now.
        self.account_id._book_due_summaries()
        self.message_post(body=self.summary)
        self.account_id._refresh_alerts()
        self._notify_starter("success", self.summary)

    def _notify_starter(self, kind, message):
        """Tell the person who started a background import that it ended (the
        scheduled sync has nobody to tell: its problems raise alerts).
        """
        self.ensure_one()
        # The superuser who runs the crons is inactive: nobody to tell.
        if (
            self.origin not in ("wizard", "manual", "retry")
            or not self.create_uid.active
        ):
            return
        self.create_uid._bus_send(
            "simple_notification",
            {
                "type": kind,
                "title": self.env._("Gumroad import %(name)s", name=self.display_name),
                "message": message,
                "sticky": kind == "danger",
            },
        )

    def _fail(self, message, checkpoint):
        self.write(
            {
                "state": "failed",
                "error_message": message,
                "finished_at": fields.Datetime.now(),
            }
        )
        self.message_post(body=message)
        _logger.warning("Gumroad import %s failed: %s", self.id, message)
        if not self.parent_id:
            # A window's failure is reported by its run, once every window ended.
            self.account_id.message_post(
                body=self.env._("Import failed: %(reason)s", reason=message)
            )
            self.account_id._refresh_alerts()
            self._notify_starter("danger", message)
        checkpoint(0)
        return True
