from datetime import timedelta

from odoo import api, fields, models

from ..gumroad.retention import minimal_sale_payload

# Rows emptied per transaction by the retention cron.
RETENTION_BATCH = 1000
# Sales and pings whose raw data is still needed: to book, or to retry.
RAW_NEEDED_SALE_STATES = ("pending", "error")
RAW_NEEDED_PING_STATES = ("pending", "error")


class GumroadAccountRetention(models.AbstractModel):
    """How long a connector keeps Gumroad's raw data (ping bodies, sale JSON) and how
    much of the buyer it keeps in it. The books and the parsed fields of a sale never
    depend on the raw data once booked, so emptying it loses nothing the accountant
    reads. Mixed into `gumroad.account`.
    """

    _name = "gumroad.account.retention"
    _description = "Gumroad Connector Data Retention"

    # === FIELDS === #

    raw_retention_days = fields.Integer(
        string="Keep raw Gumroad data (days)",
        default=90,
        help="Ping bodies and sale JSON older than this are emptied by a daily "
        "scheduled action, once booked; the entries and the sale's fields stay. "
        "0 keeps them forever. Sales and pings in error keep theirs to be retried.",
    )
    minimal_buyer_data = fields.Boolean(
        string="Keep only the buyer data the books need",
        help="Store ping bodies and sale JSON without the buyer's postal address and "
        "card (the books use name, email and country only). Applies to data "
        "received from now on.",
    )

    # === BUSINESS METHODS === #

    def _sale_payload_to_store(self, payload):
        """The sale JSON as this connector stores it."""
        self.ensure_one()
        return minimal_sale_payload(payload) if self.minimal_buyer_data else payload

    @api.model
    def _cron_empty_old_raw_data(self):
        """Empty raw ping bodies and sale JSON older than each connector's retention.

        In batches committed one by one, so a large first run never holds one long
        transaction; what is left is done by the next run.
        """
        cron = self.env["ir.cron"]
        now = fields.Datetime.now()
        for account in self.search(
            [("raw_retention_days", ">", 0)], order="id"
        ).with_context(active_test=False):
            cutoff = now - timedelta(days=account.raw_retention_days)
            for model, domain in account._raw_data_domains(cutoff):
                while True:
                    records = self.env[model].search(domain, limit=RETENTION_BATCH)
                    if not records:
                        break
                    records._empty_raw_data()
                    remaining = self.env[model].search_count(domain)
                    if cron._commit_progress(len(records), remaining=remaining) <= 0:
                        return

    def _raw_data_domains(self, cutoff):
        """(model, domain) of the records whose raw data is due to be emptied."""
        self.ensure_one()
        return [
            (
                "gumroad.sale",
                [
                    ("account_id", "=", self.id),
                    ("raw_json", "!=", False),
                    ("sync_date", "<", cutoff),
                    ("state", "not in", RAW_NEEDED_SALE_STATES),
                ],
            ),
            (
                "gumroad.webhook.event",
                [
                    ("account_id", "=", self.id),
                    ("raw_body", "!=", False),
                    ("create_date", "<", cutoff),
                    ("state", "not in", RAW_NEEDED_PING_STATES),
                ],
            ),
        ]
