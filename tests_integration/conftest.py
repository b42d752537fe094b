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
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pytest
import requests

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


# --- A real Odoo server on the test database ------------------------------------------
#
# Odoo as a library runs the addon's code, but not as a user runs it: no HTTP worker
# thread, no cron thread woken by a trigger, no production commit path. These fixtures
# start `odoo-bin` itself on the test database, with the options a user gives it.

# Every connector the live-server tests create is named with this prefix, so teardown
# can retire them (archived, their unprocessed pings set aside) and a later server's
# crons never reach a sandbox that has stopped.
LIVE_PREFIX = "live: "


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so a fixture knows the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def odoo_command(*subcommand):
    """argv of `odoo-bin [subcommand]` on the test database, as `make test` found
    Odoo.
    """
    return [
        *os.environ["GUMROAD_ODOO_CMD"].split("\x1f"),
        *subcommand,
        *shlex.split(os.environ["GUMROAD_ODOO_ARGS"]),
        "-d",
        DB,
    ]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def file_tail(path, lines=80):
    try:
        with open(path, errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except OSError:
        return ""


class LiveServer:
    """`odoo-bin -d DB --workers=0 --max-cron-threads=N` serving the test database on
    loopback: HTTP requests in threads, the addon's crons in cron threads woken by
    their triggers' NOTIFY, exactly as a user starts Odoo.
    """

    def __init__(self, cron_threads, log_dir):
        self.db = DB
        self.cron_threads = cron_threads
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"odoo-{self.port}.log"
        self.output_path = log_dir / f"odoo-{self.port}.out"
        self.proc = None

    @property
    def app_name(self):
        """The application_name of the server's PostgreSQL connections."""
        return f"gumroad-live-{self.proc.pid}"

    def start(self, timeout=180):
        cmd = [
            *odoo_command(),
            f"--db-filter=^{DB}$",
            "--http-interface=127.0.0.1",
            f"--http-port={self.port}",
            "--workers=0",
            f"--max-cron-threads={self.cron_threads}",
            f"--logfile={self.log_path}",
            "--log-level=info",
            # Odoo puts its pid in it: the tests can tell this server's connections.
            "--db_app_name=gumroad-live-{pid}",
        ]
        with open(self.output_path, "w") as output:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=tempfile.gettempdir(),
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"Odoo exited ({self.proc.returncode}) before /web/health "
                    f"answered:\n{self.log_tail()}"
                )
            try:
                if requests.get(self.url + "/web/health", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise AssertionError(
            f"Odoo's /web/health did not answer within {timeout} s:\n{self.log_tail()}"
        )

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)

    def log_tail(self, lines=80):
        return (
            f"--- {self.log_path} (last {lines} lines)\n"
            f"{file_tail(self.log_path, lines)}"
            f"--- {self.output_path}\n{file_tail(self.output_path, 20)}"
        )


def retire_live_connectors(registry):
    """Archive the live-server tests' connectors and set their unprocessed pings and
    imports aside: the next Odoo started on this database must not work for them.
    """
    with registry.cursor() as cr:
        cr.execute(
            "SELECT id FROM gumroad_account WHERE name LIKE %s",
            [LIVE_PREFIX + "%"],
        )
        ids = tuple(row[0] for row in cr.fetchall())
        if not ids:
            return
        cr.execute(
            "UPDATE gumroad_webhook_event SET state = 'ignored', "
            "result = 'Left pending when its test ended.' "
            "WHERE account_id IN %s AND state = 'pending'",
            [ids],
        )
        cr.execute(
            "UPDATE gumroad_import SET state = 'cancelled' "
            "WHERE account_id IN %s AND state IN ('queued', 'running')",
            [ids],
        )
        cr.execute(
            "UPDATE gumroad_account SET active = false, sync_enabled = false "
            "WHERE id IN %s",
            [ids],
        )


@pytest.fixture
def live_name(registry):
    """Names for the connectors of a live-server test (`live_name("flow")`), retired
    at teardown.
    """
    try:
        yield lambda label: f"{LIVE_PREFIX}{label} {uuid.uuid4().hex[:8]}"
    finally:
        retire_live_connectors(registry)


@pytest.fixture
def live_server(request, live_name, tmp_path):
    """Start real Odoo servers on the test database: `live_server(cron_threads=1)`.

    Each is stopped at teardown (SIGTERM, then SIGKILL), before its connectors are
    retired; when the test failed, the tail of its log is printed.
    """
    servers = []

    def start(cron_threads=1):
        server = LiveServer(cron_threads, tmp_path)
        servers.append(server)
        return server.start()

    try:
        yield start
    finally:
        report = getattr(request.node, "report_call", None)
        for server in servers:
            server.stop()
            if report is not None and report.failed:
                print(f"\nOdoo server of {request.node.name}:\n{server.log_tail()}")
