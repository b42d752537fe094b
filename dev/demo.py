"""The README's first command: from a fresh clone to a running Odoo with Gumroad sales
in it.

PostgreSQL up, the Gumroad sandbox on 127.0.0.1:8765 with demo sales, a database
`gumroad_demo` with the addon (and demo data, a chart of accounts), a connector pointed
at the sandbox and verified, a first import with progress, then Odoo on
http://localhost:8069. Running it again reuses the database, the key and the sandbox.

Options: --no-serve (stop after the import), --db NAME, --sales N, --port N.
"""

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import odoo_env

STATE_DIR = odoo_env.ADDON_DIR / ".demo"
SANDBOX_PORT = 8765

SHELL_SCRIPT = r"""
import json
import sys
import urllib.request

def BALANCE_CENTS():
    url = "http://127.0.0.1:%d/_sandbox/balance" % SANDBOX_PORT
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)["balance_cents"]

from datetime import date, timedelta
account_model = env["gumroad.account"]
account = account_model.search([("name", "=", "Gumroad sandbox")], limit=1)
if not account:
    account = account_model.create({"name": "Gumroad sandbox", "api_base_url": BASE_URL,
                                    "access_token": TOKEN})
else:
    account.write({"api_base_url": BASE_URL, "access_token": TOKEN})
env["ir.config_parameter"].set_param("web.base.url", "http://localhost:%d" % HTTP_PORT)
account.action_verify_connection()
print("Connector verified: %s <%s>, %d products, %d sales in the last 30 days" % (
    account.profile_name, account.profile_email,
    account.products_published_count + account.products_unpublished_count,
    account.sales_30d_count), flush=True)
print(account.action_import_products()["params"]["message"], flush=True)
env.cr.commit()

def progress(read, counts):
    booked = counts.get("new", 0) + counts.get("changed", 0)
    sys.stdout.write("\r  import: %5d sales read, %5d booked, %3d failed" % (
        read, booked, counts.get("failed", 0)))
    sys.stdout.flush()

today = date.today()
# Recorded as an import run and committed batch by batch, as the import cron does.
run = env["gumroad.import"].with_context(gumroad_progress=progress)._new_run(
    account, today - timedelta(days=400), today, "manual")
env.cr.commit()
run._run_in_cron()
env.cr.commit()
print()
print(run.error_message or run.summary, flush=True)
payouts = env["gumroad.payout"]._sync_payouts(account)
env.cr.commit()
print("Payouts: %d booked; Gumroad balance %.2f USD (the sandbox says %.2f)" % (
    len(payouts), account._balance_amount(), BALANCE_CENTS() / 100), flush=True)
# What the seller's bank feed would bring: a statement line per payout received, two
# days after Gumroad sent it; the connector matches each to its payout.
bank = account._payout_bank_journal()
to_match = env["gumroad.payout"].search(
    [("account_id", "=", account.id), ("state", "=", "booked"), ("amount", ">", 0)])
if bank and to_match:
    usd = env.ref("base.USD")
    foreign = bank.currency_id or bank.company_id.currency_id
    env["account.bank.statement.line"].create([{
        "journal_id": bank.id,
        "date": payout.payout_date + timedelta(days=2),
        "payment_ref": "GUMROAD PAYOUT %s" % payout.gumroad_id,
        "amount": payout.amount if foreign == usd else usd._convert(
            payout.amount, foreign, bank.company_id, payout.payout_date),
        **({} if foreign == usd else {
            "foreign_currency_id": usd.id, "amount_currency": payout.amount}),
    } for payout in to_match])
    matched = to_match._reconcile_with_statements()
    account._refresh_alerts()
    env.cr.commit()
    print("Bank feed: %d payouts received in %s, %d matched to their payout" % (
        len(to_match), bank.name, len(matched)), flush=True)
"""


def sandbox_running(port):
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/_sandbox/state", timeout=2
        ):
            return True
    except OSError:
        return False


def start_sandbox(port, sales):
    if sandbox_running(port):
        print(f"Sandbox already running on 127.0.0.1:{port}")
        return
    log = open(STATE_DIR / "sandbox.log", "a")  # noqa: SIM115 - lives as long as the sandbox
    subprocess.Popen(
        odoo_env.sandbox_command(
            port, sales, 1, "--state-file", str(STATE_DIR / "sandbox.json")
        ),
        cwd=odoo_env.ADDON_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    for _ in range(50):
        if sandbox_running(port):
            print(
                f"Sandbox started on 127.0.0.1:{port} ({sales} demo sales), "
                f"log in {log.name}"
            )
            return
        time.sleep(0.2)
    raise odoo_env.SetupError(f"The sandbox did not start; see {log.name}")


def write_config(odoo, pg, http_port):
    key_file = STATE_DIR / "gumroad.key"
    if not key_file.exists():
        key_file.write_text(odoo_env.generate_key() + "\n")
        key_file.chmod(0o600)
    addons = ",".join(str(p) for p in [odoo_env.addon_parent_dir(), *odoo.addons_paths])
    conf = STATE_DIR / "odoo.conf"
    lines = [
        "[options]",
        f"addons_path = {addons}",
        f"db_host = {pg['host']}",
        f"db_port = {pg['port']}",
        f"db_user = {pg['user']}",
        f"http_port = {http_port}",
        "http_interface = 127.0.0.1",
        "max_cron_threads = 1",
        "",
    ]
    conf.write_text("\n".join(lines))
    conf.chmod(0o600)
    return conf


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--db", default="gumroad_demo")
    parser.add_argument("--sales", type=int, default=300)
    parser.add_argument("--port", type=int, default=8069)
    parser.add_argument("--no-serve", action="store_true")
    args = parser.parse_args()
    try:
        odoo = odoo_env.find_odoo()
        odoo_env.run_with_odoo_python(odoo)  # the venv of `make odoo`, if that
        pg = odoo_env.ensure_postgres()
        odoo_env.ensure_python_packages(
            {"requests": "requests", "cryptography": "cryptography"}
        )
        STATE_DIR.mkdir(exist_ok=True)
        start_sandbox(SANDBOX_PORT, args.sales)
    except odoo_env.SetupError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 2
    conf = write_config(odoo, pg, args.port)
    env = dict(os.environ, **odoo.extra_env)
    if pg["password"]:
        env["PGPASSWORD"] = pg["password"]
    # The token key lives outside the database, in .demo/gumroad.key, and reaches Odoo
    # through the environment (Odoo 19 warns about addon options in odoo.conf).
    env["GUMROAD_CONNECTOR_KEY"] = (STATE_DIR / "gumroad.key").read_text().strip()
    odoo_args = ["-c", str(conf), "-d", args.db]
    if not odoo_env.database_exists(pg, args.db):
        print(
            f"Creating database {args.db} with the addon and demo data "
            "(about a minute) ...",
            flush=True,
        )
        proc = odoo_env.install_addon(odoo, odoo_args, env, with_demo=True)
        problems = [
            ln
            for ln in proc.stdout.splitlines() + proc.stderr.splitlines()
            if "gumroad" in ln.lower() and (" WARNING " in ln or " ERROR " in ln)
        ]
        if proc.returncode != 0 or problems:
            print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
            print("ERROR: installing the addon failed (see above).", file=sys.stderr)
            return 1
    else:
        print(
            f"Database {args.db} exists: reusing it (dropdb {args.db} to start over)."
        )
    print("Connecting to the sandbox and importing ...", flush=True)
    script = (
        f"BASE_URL = 'http://127.0.0.1:{SANDBOX_PORT}/v2'\nTOKEN = 'sandbox-token'\n"
        f"HTTP_PORT = {args.port}\nSANDBOX_PORT = {SANDBOX_PORT}\n" + SHELL_SCRIPT
    )
    proc = subprocess.run(
        # Odoo's command line wants the subcommand first.
        [*odoo.command, "shell", *odoo_args, "--no-http", "--log-level=warn"],
        input=script,
        text=True,
        env=env,
        cwd="/tmp",
        check=False,
    )
    if proc.returncode != 0:
        print("ERROR: the first import failed (see above).", file=sys.stderr)
        return 1
    print(
        f"\nReady. Open http://localhost:{args.port} and log in as admin / admin.\n"
        "Then: Invoicing > Gumroad > Sales (list, pivot, graph), the invoices under\n"
        "Invoicing > Customers > Invoices (filter 'From Gumroad'), "
        "and the connector under\n"
        "Invoicing > Configuration > Gumroad Accounts "
        "(Dashboard, Import sales, Sync payouts, Enable real-time sync).\n"
        f"Sandbox: http://127.0.0.1:{SANDBOX_PORT}/v2 (token sandbox-token)."
    )
    if args.no_serve:
        return 0
    print(
        f"Starting Odoo on http://localhost:{args.port} (Ctrl-C to stop) ...",
        flush=True,
    )
    return subprocess.call([*odoo.command, *odoo_args], env=env, cwd="/tmp")


if __name__ == "__main__":
    sys.exit(main())
