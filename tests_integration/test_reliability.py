"""Gumroad misbehaving during real imports, and the token kept out of the database
dump and the logs.

Everything here commits for real, on the database `make test` installed the addon in.
"""

import io
import logging
import shutil
import subprocess
import threading
import time

import pytest

from dev import reliability
from gumroad_sandbox import DEFAULT_TOKENS, SandboxServer

# Every kind of fault at once, at prime intervals so they meet different requests.
# About a quarter of the requests fail; a request fails for good (after 3 retries) now
# and then, which stops the run with its reason, as it would for a user.
MIXED_FAULTS = {
    "rate_limit_every": 9,
    "rate_limit_burst": 2,
    "server_error_every": 11,
    "drop_every": 13,
    "truncate_every": 17,
    "slow_every": 19,
    "slow_seconds": 1.0,  # beyond the read timeout set below
    "latency_seconds": 0.005,
}
READ_TIMEOUT = 0.5


@pytest.fixture
def impatient_client(monkeypatch):
    """Clients of the addon with a short read timeout and a back-off 20 times shorter
    (the schedule itself is tested in the pure suite), so faults cost seconds.
    """
    from odoo.addons.gumroad_connector.gumroad import client as client_module

    original_init = client_module.GumroadClient.__init__
    real_sleep = time.sleep

    def init(self, *args, **kwargs):
        kwargs["timeout"] = (2.0, READ_TIMEOUT)
        kwargs["sleep"] = lambda seconds: real_sleep(seconds / 20)
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(client_module.GumroadClient, "__init__", init)


def import_until_done(books, account_id, max_runs=10):
    """Run the import as a user would: again after each failure, reading the reason
    the import shows. Return (counts of the run that finished, failure reasons).
    """
    reasons = []
    for _run in range(max_runs):
        run = books.run_import(account_id, "2000-01-01", "2100-01-01")
        if run.state == "done":
            return run._counts(), reasons
        assert run.state == "failed"
        assert run.error_message.startswith("Import stopped after "), run.error_message
        reasons.append(run.error_message)
    raise AssertionError(f"no import finished in {max_runs} runs: {reasons}")


def fault_text(injected):
    return ", ".join(
        f"{n} {kind}" for kind, n in injected.items() if n and kind != "latency"
    )


@pytest.mark.parametrize(
    ("sales", "case"),
    [
        (400, "faults_import"),
        pytest.param(1000, "faults_import_1000", marks=pytest.mark.slow),
    ],
)
def test_an_import_through_every_gumroad_fault_books_each_sale_once(
    sales, case, make_connector, env_factory, books, impatient_client
):
    with SandboxServer(sales=sales, seed=31) as sandbox:
        sandbox.faults.configure(**MIXED_FAULTS)
        account_id = make_connector(sandbox, f"faults {sales}")
        # Each run books what it read before a request failed for good, so runs
        # move forward; a longer import meets more such failures.
        _counts, reasons = import_until_done(
            books, account_id, max_runs=10 + sales // 40
        )
        injected = dict(sandbox.faults_injected)
        sandbox.faults.reset()
        for reason in reasons:
            # Which call failed, and why, in words a user can act on.
            assert reason.startswith("Import stopped after "), reason
            assert "Gumroad" in reason, reason
        paid = books.check_booked_once(sandbox, account_id)
        for kind in ("rate_limit", "server_error", "drop", "truncate", "slow"):
            assert injected[kind] > 0, f"no {kind} fault was injected"
        # A run over the same range afterwards changes nothing.
        again, _reasons = import_until_done(books, account_id)
        assert again["new"] == again["changed"] == 0
        reliability.record(
            case,
            f"{sales} sales through {sum(injected.values()) - injected['latency']} "
            "faults "
            f"({fault_text(injected)}); read timeout {READ_TIMEOUT} s",
            f"{paid} invoices for {paid} paid sales, each once, nets equal to the "
            f"cent; {len(reasons)} run(s) stopped with the reason shown, the next "
            "one finished",
        )


def test_gumroad_going_down_mid_import_is_reported_and_the_next_run_finishes(
    make_connector, env_factory, books, registry, impatient_client
):
    with SandboxServer(sales=500, seed=32) as sandbox:
        # Slow pages: the fetch stays only a few pages ahead of the booking.
        sandbox.faults.configure(latency_seconds=0.05)
        account_id = make_connector(sandbox, "down")
        stop_watching = threading.Event()
        committed = []

        def take_gumroad_down_after_the_first_batch():
            with registry.cursor() as cr:
                while not stop_watching.wait(0.05):
                    cr.execute(
                        "SELECT count(*) FROM gumroad_sale "
                        "WHERE account_id = %s AND state != 'pending'",
                        [account_id],
                    )
                    booked = cr.fetchone()[0]
                    cr.rollback()  # a fresh snapshot for the next look
                    if booked:
                        committed.append(booked)
                        sandbox.faults.update(server_error_every=1)
                        return

        watcher = threading.Thread(
            target=take_gumroad_down_after_the_first_batch, daemon=True
        )
        watcher.start()
        run = books.run_import(account_id, "2000-01-01", "2100-01-01")
        stop_watching.set()
        watcher.join()
        assert committed, "Gumroad went down only after a batch was committed"
        assert run.state == "failed"
        message = run.error_message
        assert message.startswith("Import stopped after ")
        assert "503" in message or "unavailable" in message.lower(), message
        assert "run the import again" in message
        assert any("Import stopped after" in m.body for m in run.message_ids)
        check = env_factory()
        account = check["gumroad.account"].browse(account_id)
        assert account.last_import_id == run
        assert "Import stopped after" in account.message_ids[0].body
        booked_when_down = sum(books.invoice_counts(account_id).values())
        assert 0 < booked_when_down < len(sandbox.sales)

        sandbox.faults.reset()
        counts, reasons = import_until_done(books, account_id)
        assert not reasons
        paid = books.check_booked_once(sandbox, account_id)
        assert counts["read"] == len(sandbox.sales)
        assert counts["failed"] == 0
        assert counts["unchanged"] >= committed[0], "what was committed is not redone"
        reliability.record(
            "gumroad_down",
            f"Gumroad answering only 503 once the first {committed[0]} of "
            f"{len(sandbox.sales)} sales were committed",
            f"the import stopped with \u201c{message[:60]}\u2026\u201d, kept "
            f"{booked_when_down} invoices; the next run booked the rest: {paid} "
            "invoices, each once",
        )


def test_the_token_is_absent_from_a_pg_dump_and_from_the_logs(
    make_connector, env_factory, books, registry, impatient_client
):
    from odoo.tools import config

    token = "gr-reliability-" + "7" * 24  # distinctive: any hit is the token
    with SandboxServer(
        sales=60, seed=33, tokens={token: DEFAULT_TOKENS["sandbox-token"]}
    ) as sandbox:
        log_text = io.StringIO()
        handler = logging.StreamHandler(log_text)
        handler.setLevel(logging.DEBUG)
        root = logging.getLogger()
        old_level = root.level
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        try:
            account_id = make_connector(sandbox, "secrets")
            env = env_factory()
            account = env["gumroad.account"].browse(account_id)
            account.action_verify_connection()
            env.cr.commit()
            sandbox.faults.configure(rate_limit_every=3, server_error_every=5)
            import_until_done(books, account_id)
            sandbox.faults.reset()
            sandbox.revoke_token(token)
            env = env_factory()
            account = env["gumroad.account"].browse(account_id)
            account.action_verify_connection()  # 401: the error path logs too
            env.cr.commit()
            assert account.state == "error"
        finally:
            root.removeHandler(handler)
            root.setLevel(old_level)
        logged = log_text.getvalue()
        assert "Gumroad API GET /user" in logged, "the client's calls were logged"
        assert "retry 1 of 3" in logged, "the retries were logged"
        assert token not in logged

        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            pytest.skip("pg_dump is not installed")
        dump = subprocess.run(
            [
                pg_dump,
                "--no-owner",
                "-h",
                config["db_host"] or "127.0.0.1",
                "-p",
                str(config["db_port"] or 5432),
                "-U",
                config["db_user"] or "postgres",
                registry.db_name,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        env = env_factory()
        env.cr.execute(
            "SELECT access_token_cipher FROM gumroad_account WHERE id = %s",
            [account_id],
        )
        cipher = env.cr.fetchone()[0]
        assert cipher and cipher in dump, "the dump holds the connector's row"
        assert token not in dump
        reliability.record(
            "secret_pg_dump",
            f"a pg_dump ({len(dump) // 1024} KiB) after verify, an import and a "
            "revoked-token verify",
            "the ciphertext is in it, the token nowhere",
        )
        reliability.record(
            "secret_logs",
            f"every logger at DEBUG ({len(logged.splitlines())} lines) through "
            "verify, an import with 429/503 retries and a 401",
            "the token in no line",
        )
