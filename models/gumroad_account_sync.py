import hmac
from datetime import date, datetime, timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, ormcache

from .. import const


class GumroadAccountSync(models.AbstractModel):
    """When a connector imports: the range of an import, the scheduled sync and its
    refund re-scan, the watermark, and finding a connector by its webhook secret.
    Mixed into `gumroad.account`, whose fields it uses.
    """

    _name = "gumroad.account.sync"
    _description = "Gumroad Connector Sync"

    # === BUSINESS METHODS: import ranges and scheduling === #

    @api.model
    def _to_date(self, value):
        if not value:
            return None
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        return fields.Date.to_date(value)

    def _import_range(self, date_from=None, date_to=None):
        """Resolve the UTC days to import: explicit dates, else since the watermark."""
        self.ensure_one()
        today = fields.Datetime.now().date()
        date_to = self._to_date(date_to) or today
        date_from = self._to_date(date_from)
        if not date_from:
            if self.sync_watermark:
                # The watermark day may have been incomplete when it was read: read it
                # again.
                date_from = self.sync_watermark - timedelta(days=1)
            else:
                date_from = today - timedelta(days=const.DEFAULT_INITIAL_SYNC_DAYS)
        if date_from > date_to:
            raise UserError(
                self.env._(
                    "The import range is empty: %(start)s is after %(end)s.",
                    start=date_from,
                    end=date_to,
                )
            )
        return date_from, date_to

    def _queue_import(self, date_from, date_to):
        """Run a large import in the background (the import cron), shown as a run."""
        self.ensure_one()
        return self.env["gumroad.import"]._queue(self, date_from, date_to, "wizard")

    @api.model
    def _cron_import_queued(self):
        # Kept for databases whose scheduled action predates gumroad.import (its data
        # is noupdate): the runs are processed there.
        return self.env["gumroad.import"]._cron_process_imports()

    @api.model
    def _cron_sync_sales(self):
        """Incremental sync of every connected connector, plus the daily refund
        re-scan, each as an import run; then the payouts.
        """
        cron = self.env["ir.cron"]
        today = fields.Datetime.now().date()
        accounts = self.search(
            [("state", "=", "connected"), ("sync_enabled", "=", True)]
        )
        for index, account in enumerate(accounts):
            run = account._scheduled_run(today)
            if run._run_in_cron() is False:
                # Out of time: the import cron finishes the run.
                self.env.ref(
                    "gumroad_connector.ir_cron_gumroad_import_sales"
                )._trigger()
            account._cron_import_subscribers()
            self.env["gumroad.payout"]._cron_sync_payouts(account)
            account._refresh_alerts()
            if cron._commit_progress(1, remaining=len(accounts) - index - 1) <= 0:
                break

    def _scheduled_run(self, today):
        """The scheduled sync's run: the one still unfinished, or a new one since the
        watermark (with the refund look-back window once a day).
        """
        self.ensure_one()
        unfinished = self.env["gumroad.import"].search(
            [
                ("account_id", "=", self.id),
                ("origin", "=", "schedule"),
                ("state", "in", ("queued", "running")),
            ],
            limit=1,
        )
        if unfinished:
            return unfinished
        date_from, date_to = self._import_range()
        rescan = self.last_rescan_date != today
        if rescan:
            date_from = min(
                date_from, today - timedelta(days=self.refund_lookback_days)
            )
        return self.env["gumroad.import"]._new_run(
            self, date_from, date_to, "schedule", rescan=rescan
        )

    def _record_import_done(self, run):
        """Move the watermark and record the sync after a complete run."""
        self.ensure_one()
        today = fields.Datetime.now().date()
        vals = {"last_sync_at": fields.Datetime.now()}
        if run.rescan:
            vals["last_rescan_date"] = today
        if not self.sync_watermark or run.date_from <= self.sync_watermark:
            # Everything up to date_to is imported; today stays open (sales keep
            # arriving).
            vals["sync_watermark"] = max(
                self.sync_watermark or run.date_to, min(run.date_to, today)
            )
        self.sudo().write(vals)

    def _format_counts(self, counts):
        return self.env._(
            "%(read)s sales read: %(new)s new, %(changed)s changed, %(unchanged)s "
            "unchanged, %(skipped)s not invoiced, %(failed)s failed.",
            read=counts.get("read", 0),
            new=counts.get("new", 0),
            changed=counts.get("changed", 0),
            unchanged=counts.get("unchanged", 0),
            skipped=counts.get("skipped", 0),
            failed=counts.get("failed", 0),
        )

    # === BUSINESS METHODS: webhooks === #

    @api.model
    def _find_webhook_target(self, secret):
        """The active connector whose secret matches, compared in constant time, as
        what storing a ping needs of it: (id, company id, minimal buyer data), or
        None.
        """
        if not secret or len(secret) > 200:
            return None
        match = None
        for account_secret, target in self._webhook_targets():
            # Compare against every candidate so timing does not reveal which prefix
            # matched.
            if hmac.compare_digest(account_secret.encode(), secret.encode()):
                match = target
        return match

    @api.model
    @ormcache()
    def _webhook_targets(self):
        """((secret, (id, company id, minimal buyer data)), ...) of the active
        connectors with a secret.

        Cached: every ping looks it up, and a query per ping was a fifth of what
        the route adds to Odoo's own request handling. The connectors' create, write
        and unlink clear the cache, which Odoo signals to the other workers before
        their next request.
        """
        # Plain SQL: the ORM's search and then the read of the connectors' fields
        # cost more than the rest of the lookup.
        self.env.cr.execute(
            SQL(
                "SELECT id, webhook_secret, company_id, minimal_buyer_data"
                " FROM gumroad_account WHERE active AND webhook_secret IS NOT NULL"
            )
        )
        rows = self.env.cr.fetchall()
        return tuple(
            (account_secret, (account_id, company_id, bool(minimal)))
            for account_id, account_secret, company_id, minimal in rows
        )

    def _unregister_webhooks(self):
        self.ensure_one()
        return self.env["gumroad.webhook.event"]._unsubscribe_resources(self)
