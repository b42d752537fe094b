"""Odoo-side constants of the Gumroad connector."""

from datetime import date

# Every move booked for a Gumroad sale carries this prefix followed by the sale id in
# `ref`.
MOVE_REF_PREFIX = "GR-"

# How many sales one booking batch handles; each batch is committed on its own.
SALE_BATCH_SIZE = 200

# How many webhook events one processing batch handles.
WEBHOOK_BATCH_SIZE = 50

# Webhook bodies above this size are refused with 413 before anything is stored.
WEBHOOK_MAX_BODY_BYTES = 64 * 1024

# Default look-back window re-scanned daily because refunds and disputes change old
# sales.
DEFAULT_REFUND_LOOKBACK_DAYS = 60

# A first sync without a watermark starts this many days back.
DEFAULT_INITIAL_SYNC_DAYS = 30

# Date ranges longer than this run in the background instead of inside the wizard's
# request.
FOREGROUND_IMPORT_MAX_DAYS = 31

# Sale states of `gumroad.sale` (the income record users browse).
SALE_STATES = [
    ("pending", "To book"),
    ("invoiced", "Invoiced"),
    ("adjusted", "Partially refunded"),
    ("reversed", "Reversed"),
    ("skipped", "Not invoiced ($0)"),
    ("authorized", "Pre-order authorized (not charged)"),
    ("error", "Error"),
]
# Recorded, never invoiced: a $0 sale, a pre-order not charged yet.
UNBOOKED_STATES = ("skipped", "authorized")

# Name of the configuration option / environment variable holding the token encryption
# key.
KEY_CONFIG_OPTION = "gumroad_connector_key"
KEY_ENV_VARIABLE = "GUMROAD_CONNECTOR_KEY"

# Gumroad opened in 2011: no sale can be older, so wider ranges are clamped to this day.
GUMROAD_FIRST_DAY = date(2011, 1, 1)

# Sales are fetched by this many concurrent workers, over date windows of at least this
# size.
FETCH_WORKERS = 4
SALES_WINDOW_MIN_DAYS = 7
# Times a list page that failed after all its retries is read again before an import
# stops (see GumroadClient.page_resumes).
PAGE_RESUMES = 2

# How a connector books its sales (see readme/USAGE.md, "Accounting modes").
ACCOUNTING_MODES = [
    ("invoices", "Per-buyer invoices"),
    ("gumroad_customer", "Gumroad as customer (self-billing per payout)"),
    ("entries", "Journal entries only"),
    ("summary", "Daily summaries (one invoice per day)"),
]
# The modes a sale is booked in one by one: the mode of a sale sold before a switch to
# daily summaries.
PER_SALE_MODES = ("invoices", "gumroad_customer", "entries")
# Reference of a daily summary move: GR-DAY-<day>[/refunds|/balance][-<n>].
SUMMARY_REF_PREFIX = "GR-DAY-"

# A bank statement line matches a payout when its date is this many days around the
# day the payout left Gumroad (banks take a few days).
PAYOUT_MATCH_DAYS_BEFORE = 3
PAYOUT_MATCH_DAYS_AFTER = 10

# A ping that fails for a passing reason (Gumroad unavailable or rate limiting, a
# concurrent booking) is tried this many times, with a growing back-off, before it is
# left in error.
PING_MAX_ATTEMPTS = 6
# A ping that conflicts with a concurrent booking of the same sale is tried again
# sooner (2 s, 4 s, ... at most 32 s), up to this many times.
PING_MAX_CONFLICTS = 20
