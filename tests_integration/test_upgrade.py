"""Upgrade safety: a database booked by 19.0.1.1.0 upgrades to this version keeping
every booked move and link, and uninstalling the addon leaves every posted move.

The old version is taken from the repository's own history (`git archive`), installed
on a database of its own with the same Odoo, and books the sandbox's sales as a user
of that version did; then `odoo-bin -u` runs this version's code over it.
"""

import io
import os
import shlex
import subprocess
import tarfile
import tempfile
import uuid
from pathlib import Path

import psycopg2
import pytest

from gumroad_sandbox import SandboxServer

REPO = Path(__file__).resolve().parents[1]
OLD_VERSION = "19.0.1.1.0"
# The last commit of 19.0.1.1.0 (the next one, d306468, is 19.0.1.2.0).
OLD_COMMIT = "fed9f5b853fb2fa65342e64307721820843c9c1d"
ODOO_TIMEOUT = 600


def old_addon_dir(tmp_path):
    """A folder holding gumroad_connector as it was at OLD_VERSION."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", OLD_COMMIT],
        capture_output=True,
        check=False,
    )
    if archive.returncode:
        pytest.fail(
            f"The upgrade test installs {OLD_VERSION} from this repository's history "
            f"(commit {OLD_COMMIT}); git could not read it: "
            f"{archive.stderr.decode(errors='replace').strip()}. Run it in a full "
            "clone (not a shallow one)."
        )
    parent = tmp_path / "old_addons"
    target = parent / "gumroad_connector"
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    manifest = (target / "__manifest__.py").read_text()
    assert f'"version": "{OLD_VERSION}"' in manifest
    return parent


def odoo_args(database, addons_first=None):
    """The suite's Odoo options, on another database (and another addon folder)."""
    args = shlex.split(os.environ["GUMROAD_ODOO_ARGS"])
    out = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg == "-d":
            skip = True
            continue
        if arg.startswith("--addons-path=") and addons_first is not None:
            paths = arg.split("=", 1)[1].split(",")
            # The first folder is the one holding this checkout's addon.
            arg = "--addons-path=" + ",".join([str(addons_first), *paths[1:]])
        out.append(arg)
    return [*out, "-d", database]


def db_connect_kwargs():
    """psycopg2 connection options from the suite's --db_* options."""
    args = shlex.split(os.environ["GUMROAD_ODOO_ARGS"])
    names = {"--db_host": "host", "--db_port": "port", "--db_user": "user"}
    kwargs = {}
    for index, arg in enumerate(args):
        key, sep, value = arg.partition("=")
        if key in names:
            value = value if sep else (args[index + 1] if index + 1 < len(args) else "")
            if value:
                kwargs[names[key]] = value
    kwargs.setdefault("host", "127.0.0.1")
    return kwargs


def run_odoo(args, *extra, stdin=None, log=None):
    cmd = [*os.environ["GUMROAD_ODOO_CMD"].split("\x1f"), *extra, *args]
    proc = subprocess.run(
        cmd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=ODOO_TIMEOUT,
        cwd=tempfile.gettempdir(),
        check=False,
    )
    output = proc.stdout + proc.stderr
    if log is not None:
        log.write_text(output)
    assert proc.returncode == 0, f"{' '.join(extra)} failed:\n{output[-4000:]}"
    assert "Traceback" not in output, output[-4000:]
    return output


def shell(args, script, log):
    return run_odoo(
        [*args, "--no-http", "--log-level=warn"], "shell", stdin=script, log=log
    )


def fetch(database, sql):
    """The rows of one query on the upgraded database."""
    conn = psycopg2.connect(dbname=database, **db_connect_kwargs())
    try:
        with conn.cursor() as cr:
            cr.execute(sql)
            return cr.fetchall()
    finally:
        conn.close()


def books(database):
    """What the ledger holds: moves, the sale rows' links, payouts, reconciliations."""
    with psycopg2.connect(dbname=database, **db_connect_kwargs()) as conn:
        cr = conn.cursor()
        cr.execute(
            "SELECT id, name, move_type, state, amount_total::text, ref "
            "FROM account_move ORDER BY id"
        )
        moves = cr.fetchall()
        cr.execute(
            "SELECT to_regclass('gumroad_sale') IS NOT NULL, "
            "EXISTS (SELECT 1 FROM information_schema.columns "
            "WHERE table_name = 'account_move' AND column_name = 'gumroad_sale_id')"
        )
        has_sales, has_link = cr.fetchone()
        sales = links = payouts = None
        if has_sales:
            cr.execute(
                "SELECT gumroad_id, invoice_id, state FROM gumroad_sale ORDER BY id"
            )
            sales = cr.fetchall()
            cr.execute(
                "SELECT gumroad_id, move_id, statement_line_id FROM gumroad_payout "
                "ORDER BY id"
            )
            payouts = cr.fetchall()
        if has_link:
            cr.execute(
                "SELECT id, gumroad_sale_id FROM account_move "
                "WHERE gumroad_sale_id IS NOT NULL ORDER BY id"
            )
            links = cr.fetchall()
        cr.execute("SELECT count(*) FROM account_partial_reconcile")
        (reconciled,) = cr.fetchone()
    conn.close()
    return {
        "moves": moves,
        "sales": sales,
        "links": links,
        "payouts": payouts,
        "reconciled": reconciled,
    }


def drop_database(database):
    conn = psycopg2.connect(dbname="postgres", **db_connect_kwargs())
    conn.autocommit = True
    with conn.cursor() as cr:
        cr.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    conn.close()


def test_a_database_booked_by_19_0_1_1_0_upgrades_and_uninstalls_keeping_its_moves(
    tmp_path,
):
    database = f"gumroad_upgrade_{uuid.uuid4().hex[:10]}"
    old_args = odoo_args(database, old_addon_dir(tmp_path))
    new_args = odoo_args(database)
    try:
        run_odoo(
            [*old_args, "--no-http", "--log-level=warn"],
            "-i",
            "gumroad_connector",
            "--stop-after-init",
            log=tmp_path / "install-old.log",
        )
        with SandboxServer(sales=60, seed=19) as sandbox:
            output = shell(
                old_args,
                "env.ref('base.USD').active = True\n"
                "account = env['gumroad.account'].create({"
                f"'name': 'upgrade', 'api_base_url': {sandbox.base_url!r}, "
                f"'access_token': {sandbox.token!r}}})\n"
                "env.cr.commit()\n"
                # 19.0.1.1.0 booked through side cursors, which wait on the
                # caller's uncommitted writes: commit after each step, as its
                # wizard's requests did.
                "account.action_verify_connection()\n"
                "env.cr.commit()\n"
                "account.action_import_products()\n"
                "env.cr.commit()\n"
                "account.action_import_sales('2000-01-01', '2100-01-01')\n"
                "env.cr.commit()\n"
                "account.action_sync_payouts()\n"
                "env.cr.commit()\n"
                # Subscriptions as 19.0.1.1.0's pings left them.
                "for status in ('alive', 'cancelled', 'ended', 'restarted'):\n"
                "    env['gumroad.subscription'].create({'account_id': account.id, "
                "'gumroad_id': 'sub-' + status, 'status': status})\n"
                "env.cr.commit()\n"
                "print('OLD BOOKED', len(account.sale_ids), flush=True)\n",
                tmp_path / "book-old.log",
            )
            assert "OLD BOOKED" in output, output[-3000:]
        before = books(database)
        posted = [m for m in before["moves"] if m[3] == "posted"]
        assert len(posted) > 40, "the old version booked the sandbox's sales"
        assert any(invoice for _sale, invoice, _state in before["sales"])
        assert before["payouts"], "and its payouts"
        assert before["reconciled"] > 0

        output = run_odoo(
            [*new_args, "--no-http", "--log-level=info"],
            "-u",
            "gumroad_connector",
            "--stop-after-init",
            log=tmp_path / "upgrade.log",
        )
        assert "ERROR" not in output, output[-4000:]
        after = books(database)
        assert after["moves"] == before["moves"], "every move kept as it was"
        assert [(s, i) for s, i, _st in after["sales"]] == [
            (s, i) for s, i, _st in before["sales"]
        ], "every sale keeps its invoice"
        assert after["links"] == before["links"], "every move keeps its sale"
        assert after["payouts"] == before["payouts"]
        assert after["reconciled"] == before["reconciled"]
        statuses = fetch(
            database,
            "SELECT gumroad_id, status, is_active FROM gumroad_subscription "
            "WHERE gumroad_id LIKE 'sub-%' ORDER BY gumroad_id",
        )
        assert statuses == [
            ("sub-alive", "alive", True),
            ("sub-cancelled", "pending_cancellation", True),
            ("sub-ended", "cancelled", False),
            ("sub-restarted", "alive", True),
        ], "the old statuses read as Gumroad's"

        output = shell(
            new_args,
            "module = env['ir.module.module'].search("
            "[('name', '=', 'gumroad_connector')])\n"
            "module.button_immediate_uninstall()\n"
            "env.cr.commit()\n"
            "print('UNINSTALLED', module.state, flush=True)\n",
            tmp_path / "uninstall.log",
        )
        assert "UNINSTALLED uninstalled" in output, output[-3000:]
        gone = books(database)
        assert gone["sales"] is None, "the addon's tables are gone"
        kept = {m[0]: m for m in gone["moves"]}
        assert [kept.get(m[0]) for m in posted] == posted, (
            "uninstalling leaves every posted move as it was"
        )
    finally:
        drop_database(database)
