"""An import keeps the planner statistics of the tables it fills fresh, whether
autovacuum runs or not (off on some servers, lagging behind a bulk import on others):
with stale statistics, Odoo's numbering queries scan the journal on every posting.
"""

import datetime
import time

import pytest

from gumroad_sandbox import SandboxServer

STALE = (
    "SELECT n_mod_since_analyze > 1000 + 0.2 * n_live_tup FROM pg_stat_user_tables "
    "WHERE relname = 'gumroad_sale'"
)


@pytest.fixture
def sandbox():
    with SandboxServer(sales=12, seed=37) as server:
        yield server


def is_stale(env_factory, expected, timeout=20.0):
    """Whether gumroad_sale's statistics are stale, waiting up to `timeout` for them
    to become `expected`: a backend reports its counters to the shared view once it
    has been idle a while (PG 15: up to 10 s), and ANALYZE its reset the same way."""
    deadline = time.monotonic() + timeout
    env = env_factory()
    while True:
        env.cr.execute("SELECT pg_stat_clear_snapshot()")
        env.cr.execute(STALE)
        stale = env.cr.fetchone()[0]
        env.cr.rollback()
        if stale == expected or time.monotonic() > deadline:
            return stale
        time.sleep(0.5)


def test_an_import_refreshes_the_statistics_of_the_tables_it_made_stale(
    env_factory, make_connector, books, sandbox
):
    account_id = make_connector(sandbox, "statistics")
    env = env_factory()
    account = env["gumroad.account"].browse(account_id)
    # What a long import leaves behind: more new sale rows since the last ANALYZE
    # than the threshold allows, however many rows the suite's other tests left.
    env.cr.execute(
        "SELECT greatest((SELECT count(*) FROM gumroad_sale), coalesce(("
        "SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = 'gumroad_sale'"
        "), 0))"
    )
    rows = int((1000 + 0.2 * env.cr.fetchone()[0]) / 0.8) + 2000
    env.cr.execute(
        "INSERT INTO gumroad_sale (account_id, company_id, gumroad_id, state, "
        "quantity, refund_state, dispute_state, create_date, write_date) "
        "SELECT %s, %s, 'stale-' || g, 'skipped', 1, 'none', 'none', now(), now() "
        "FROM generate_series(1, %s) g",
        [account.id, account.company_id.id, rows],
    )
    env.cr.commit()
    try:
        assert is_stale(env_factory, True)
        today = datetime.date.today()
        run = books.run_import(account_id, today - datetime.timedelta(days=400), today)
        assert run.state == "done"
        assert not is_stale(env_factory, False)
    finally:
        env.cr.execute("DELETE FROM gumroad_sale WHERE gumroad_id LIKE 'stale-%%'")
        env.cr.commit()
