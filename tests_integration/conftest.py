"""Odoo as a library on the throwaway database of `make test`, for real concurrent
transactions.

Odoo's own test cases run in one uncommitted transaction, so they cannot show what
happens when two transactions race, or when a process is killed. These tests commit for
real, in the database the Odoo suite just installed the addon in (dropped at the end of
the run). The test runner passes GUMROAD_TEST_DB and GUMROAD_ODOO_ARGS; without them the
tests are skipped.
"""

import os
import shlex
import time

import pytest

DB = os.environ.get("GUMROAD_TEST_DB")


def pytest_collection_modifyitems(config, items):
    if DB:
        return
    skip = pytest.mark.skip(reason="needs GUMROAD_TEST_DB (run through `make test`)")
    for item in items:
        item.add_marker(skip)


@pytest.fixture(scope="session")
def registry():
    import odoo  # noqa: F401
    from odoo.modules.registry import Registry
    from odoo.tools import config

    config.parse_config(
        shlex.split(os.environ["GUMROAD_ODOO_ARGS"]), setup_logging=False
    )
    return Registry(DB)


@pytest.fixture
def env_factory(registry):
    """Open environments on new cursors (real transactions) and close them
    afterwards.
    """
    from odoo import SUPERUSER_ID, api

    cursors = []

    def make():
        cr = registry.cursor()
        cursors.append(cr)
        return api.Environment(cr, SUPERUSER_ID, {})

    yield make
    for cr in cursors:
        if not cr.closed:
            cr.rollback()
            cr.close()


@pytest.fixture
def make_connector(env_factory):
    """A committed connector on a sandbox, in the main company."""

    def make(sandbox, name):
        env = env_factory()
        env.ref("base.USD").active = True
        account = env["gumroad.account"].create(
            {
                "name": name,
                "api_base_url": sandbox.base_url,
                "access_token": sandbox.token,
            }
        )
        env.cr.commit()
        return account.id

    return make


class Books:
    """What the ledger holds for a connector, read with plain SQL on committed data."""

    def __init__(self, env_factory):
        self.env_factory = env_factory

    def invoice_counts(self, account_id):
        """{sale id: number of invoices referenced GR-<sale id>} for every sale row."""
        env = self.env_factory()
        env.cr.execute(
            """SELECT s.gumroad_id,
                      count(m.id) FILTER (WHERE m.move_type = 'out_invoice'
                                            AND m.ref = 'GR-' || s.gumroad_id)
                 FROM gumroad_sale s LEFT JOIN account_move m
                      ON m.gumroad_sale_id = s.id
                WHERE s.account_id = %s GROUP BY s.gumroad_id""",
            [account_id],
        )
        return dict(env.cr.fetchall())

    def net_cents(self, account_id):
        """{sale id: posted invoices minus credit notes, in cents}."""
        env = self.env_factory()
        env.cr.execute(
            """SELECT s.gumroad_id,
                      coalesce(round(sum(CASE WHEN m.move_type = 'out_refund'
                                              THEN -m.amount_total
                                              ELSE m.amount_total END) * 100), 0)
                 FROM gumroad_sale s LEFT JOIN account_move m
                      ON m.gumroad_sale_id = s.id AND m.state = 'posted'
                WHERE s.account_id = %s GROUP BY s.gumroad_id""",
            [account_id],
        )
        return {sale_id: int(net) for sale_id, net in env.cr.fetchall()}

    def check_booked_once(self, sandbox, account_id):
        """Assert every sandbox sale has one row, one invoice when paid, and the net
        Gumroad says; return the number of paid sales.
        """
        sale_ids = [s["id"] for s in sandbox.sales]
        counts = self.invoice_counts(account_id)
        assert set(counts) == set(sale_ids), "every sale recorded, none missing"
        duplicated = {sale_id: n for sale_id, n in counts.items() if n > 1}
        assert not duplicated, f"sales booked more than once: {duplicated}"
        paid = {s["id"] for s in sandbox.sales if s["price"] > 0}
        assert {sale_id for sale_id, n in counts.items() if n == 1} == paid
        nets = self.net_cents(account_id)
        wrong = {
            i: (nets[i], sandbox.sale_net_usd_cents(i))
            for i in sale_ids
            if nets[i] != sandbox.sale_net_usd_cents(i)
        }
        assert not wrong, f"net differs from Gumroad's (booked, gumroad): {wrong}"
        return len(paid)

    def run_import(self, account_id, date_from, date_to, origin="manual"):
        return run_import(self.env_factory, account_id, date_from, date_to, origin)

    def run_with_retry(self, work, attempts=8):
        """Run work(env) in its own transaction, retried on a serialization conflict
        as Odoo's request and cron runners do.
        """
        import psycopg2.errors

        from odoo.addons.gumroad_connector.models.gumroad_sale_booking import (
            CONCURRENCY_ERRORS,
        )

        retryable = (
            psycopg2.errors.SerializationFailure,
            psycopg2.errors.DeadlockDetected,
            psycopg2.errors.UniqueViolation,
            *CONCURRENCY_ERRORS,
        )
        for attempt in range(attempts):
            env = self.env_factory()
            try:
                result = work(env)
                env.cr.commit()
                return result
            except retryable:
                env.cr.rollback()
                time.sleep(0.05 * (attempt + 1))
            finally:
                env.cr.close()
        raise AssertionError("work kept conflicting")


@pytest.fixture
def books(env_factory):
    return Books(env_factory)


def run_import(env_factory, account_id, date_from, date_to, origin="manual"):
    """An import run processed the way the import cron processes it: committed batch
    by batch in its own transactions, conflicts retried. Return the run, read afresh.
    """
    env = env_factory()
    account = env["gumroad.account"].browse(account_id)
    run = env["gumroad.import"]._new_run(account, date_from, date_to, origin)
    env.cr.commit()
    run._run_in_cron()
    env.cr.commit()
    check = env_factory()
    return check["gumroad.import"].browse(run.id)
