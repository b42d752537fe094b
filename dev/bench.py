"""Benchmark: the sales import and the webhook endpoint against the framework's own
floor.

Usage: python3 dev/bench.py --sales 2000   (README: make bench SALES=2000)

On a fresh database with the addon installed, against the sandbox running in its own
process:
1. floor: the same number of customer invoices created and posted with one batched ORM
   call each (tracking off), rolled back;
2. import of that many sales through the addon: wall time, sales/s, API requests, peak
   RSS, and its seconds per phase (gumroad/profiling.py);
3. the same import again (re-sync): time and rows written (expected 0);
   then the same sales imported on a connector in daily summaries, every day
   booked (`summary_s`, `summary_ratio` = summaries / per-sale), with the nets per
   day and currency and the Gumroad balance of both compared to the cent;
   then the best floor (dev/bench_floor.py): the moves the import booked (invoices,
   credit notes and balance entries, with their own lines), booked again with batched
   ORM calls and reconciled, in batches of 50, 100, 200 and 500 sales, the fastest size
   kept (`best_floor_s`, `best_ratio` = import / best floor);
4. with 100 ms sandbox latency, the fetch time against its floor
   (pages x latency / concurrent fetch workers);
5. N pings posted by 20 concurrent clients to a running Odoo HTTP server:
   acknowledgements per second, p50/p99 latency, lost pings (expected 0); and as many
   requests to Odoo's own empty /web/health route, the HTTP server's floor, in rounds
   of 200 alternating with the pings' (`webhook_p99_ratio` = webhook p99 / health p99),
   after a round of each that is not counted (the server's first requests warm it up);
6. a burst: pings sent at a steady rate (100/s for 30 s by default) whatever the
   answers, while imports run in an Odoo process of their own: the slowest answer
   (`burst_max_ms`; Gumroad gives up on a ping after 5 s), answers over 5 s, lost pings;
7. the same number of sales spread over two years, imported by a real prefork server
   with 1, then 2 cron worker processes (dev/bench_workers.py): `workers1_s`,
   `workers2_s`, `workers2_speedup` (`--no-workers` skips it, `--workers-threads`
   measures 1 and 2 cron threads of a threaded server instead).
Prints a table, then one `bench: ...` line.
"""

import argparse
import collections
import datetime
import json
import math
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import odoo_env
from bench_floor import export_moves, run_best_floor
from bench_workers import run_workers_bench

WRITE_TABLES = (
    "gumroad_sale",
    "account_move",
    "account_move_line",
    "res_partner",
    "product_template",
)


FLOOR_SCRIPT = """
import time
from odoo.fields import Command
env = env(context=dict(env.context, tracking_disable=True))
usd = env.ref("base.USD")
usd.active = True
partners = env["res.partner"].create(
    [{"name": f"Floor buyer {i}", "email": f"floor{i}@example.com"}
     for i in range(SALES)]
)
product = env["product.product"].create({"name": "Floor product", "type": "service"})
env.cr.flush()
started = time.perf_counter()
moves = env["account.move"].create([
    {"move_type": "out_invoice", "partner_id": partner.id, "invoice_date": "2026-01-01",
     "ref": f"FLOOR-{i}", "currency_id": usd.id,
     "invoice_line_ids": [Command.create({
         "product_id": product.id, "quantity": 1, "price_unit": 10.0,
         "tax_ids": [Command.clear()]})]}
    for i, partner in enumerate(partners)
])
moves.action_post()
env.cr.flush()
print(f"floor_s={time.perf_counter() - started:.3f}", flush=True)
env.cr.rollback()
"""


# Imports of the sandbox's sales, one new connector after another, until the burst
# ends: a real import's writes (invoices, payments) beside the pings.
IMPORT_LOAD_SCRIPT = """
import datetime, time
date_to = datetime.date.today()
date_from = date_to - datetime.timedelta(days=100)
deadline = time.time() + SECONDS
runs = 0
print("import load started", flush=True)
while time.time() < deadline:
    account = env["gumroad.account"].create({
        "name": f"bench load {runs}", "api_base_url": "ROOT/v2",
        "access_token": "sandbox-token"})
    env.cr.commit()
    run = env["gumroad.import"]._new_run(account, date_from, date_to, "manual")
    env.cr.commit()
    run._run_in_cron()
    env.cr.commit()
    runs += 1
print(f"import_runs={runs}", flush=True)
"""
# Pings, then as many requests to /web/health, per round of the webhook step.
PING_ROUND = 200
# Gumroad drops a ping it has no answer to within this time.
GUMROAD_PING_TIMEOUT_S = 5.0


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def control(root, path, data=None):
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(
        f"{root}/_sandbox/{path}",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def import_as_cron(env, account, date_from, date_to):
    """An import run processed as the import cron does (committed batch by batch)."""
    run = env["gumroad.import"]._new_run(account, date_from, date_to, "manual")
    env.cr.commit()
    run._run_in_cron()
    env.cr.commit()
    return dict(run._counts())


def compare_summaries(env, per_sale, summaries):
    """The per-sale connector's and the summary connector's nets per day and currency
    (invoices less credit notes) and Gumroad balances, to the cent."""

    def nets(domain):
        totals = collections.defaultdict(int)
        for move in env["account.move"].search_fetch(
            [
                *domain,
                ("state", "=", "posted"),
                ("move_type", "in", ("out_invoice", "out_refund")),
            ],
            ["invoice_date", "currency_id", "move_type", "amount_total"],
        ):
            sign = -1 if move.move_type == "out_refund" else 1
            key = (move.invoice_date.isoformat(), move.currency_id.name)
            totals[key] += sign * round(move.amount_total * 100)
        return {key: cents for key, cents in totals.items() if cents}

    per_sale_nets = nets([("gumroad_sale_id.account_id", "=", per_sale.id)])
    summary_nets = nets([("gumroad_summary_account_id", "=", summaries.id)])
    keys = set(per_sale_nets) | set(summary_nets)
    return {
        "days": len({day for day, _currency in keys}),
        "days_differing": len(
            {k[0] for k in keys if per_sale_nets.get(k) != summary_nets.get(k)}
        ),
        "balance_diff_cents": round(per_sale._balance_amount() * 100)
        - round(summaries._balance_amount() * 100),
        "summary_moves": env["account.move"].search_count(
            [("gumroad_summary_account_id", "=", summaries.id)]
        ),
    }


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_mark(cr):
    """Where the re-sync starts: the next transaction id and each table's row count.

    Counting from table statistics is not exact (a backend reports them at most
    once a second, another backend's late report lands in the window), so the
    re-sync's writes are read off the rows themselves (see `rows_written`).
    """
    cr.execute("SELECT txid_current()")
    mark = cr.fetchone()[0]
    counts = {}
    for table in WRITE_TABLES:
        cr.execute(f"SELECT count(*) FROM {table}")
        counts[table] = cr.fetchone()[0]
    return mark, counts


def rows_written(cr, mark):
    """Rows of WRITE_TABLES inserted, updated or deleted since `mark`, per table.

    An inserted or updated row carries the id of the transaction that wrote it
    (xmin); rows written after the mark are younger than it. A table with no such
    row lost exactly the rows its count lost.
    """
    txid, counts_before = mark
    written = {}
    for table in WRITE_TABLES:
        cr.execute(
            f"SELECT count(*) FILTER (WHERE xmin::text::bigint > %s), count(*) "
            f"FROM {table}",
            [txid % 2**32],
        )
        newer, count = cr.fetchone()
        deleted = max(0, counts_before[table] - count) if not newer else 0
        if newer or deleted:
            written[table] = newer + deleted
    return written


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--sales", type=int, default=2000)
    parser.add_argument(
        "--pings", type=int, default=0, help="default: as many as sales"
    )
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--no-floor",
        action="store_true",
        help="skip the floors (the one-call floor and the best floor)",
    )
    parser.add_argument(
        "--http-workers",
        type=int,
        default=0,
        help="Odoo --workers for the webhook step (0: threaded server, the default)",
    )
    parser.add_argument(
        "--burst-seconds",
        type=float,
        default=30,
        help="how long the burst of pings lasts while imports run (0: no burst)",
    )
    parser.add_argument(
        "--burst-rate", type=float, default=100, help="pings per second in the burst"
    )
    parser.add_argument(
        "--http-log", help="write the HTTP server's log (warnings) to this file"
    )
    parser.add_argument(
        "--no-workers",
        action="store_true",
        help="skip the import by 1 and by 2 cron workers (dev/bench_workers.py)",
    )
    parser.add_argument(
        "--workers-threads",
        action="store_true",
        help="book the two-year import with cron threads of a threaded server "
        "rather than cron processes of a prefork server",
    )
    args = parser.parse_args()
    pings = args.pings or args.sales

    odoo = odoo_env.find_odoo()
    odoo_env.run_with_odoo_python(odoo)  # the venv of `make odoo`, if that
    pg = odoo_env.ensure_postgres()
    dbname = f"gumroad_bench_{int(time.time())}"
    addons = [odoo_env.addon_parent_dir(), *odoo.addons_paths]
    base_args = [
        f"--addons-path={','.join(str(p) for p in addons)}",
        *odoo_env.odoo_db_args(pg),
        "-d",
        dbname,
    ]
    env = dict(os.environ, **odoo.extra_env)
    env.setdefault("GUMROAD_CONNECTOR_KEY", odoo_env.generate_key())
    os.environ.update(env)
    sys.path[:0] = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]

    sandbox_port = free_port()
    sandbox = subprocess.Popen(
        odoo_env.sandbox_command(
            sandbox_port, args.sales, 3, "--allow-loopback-post-urls"
        ),
        cwd=odoo_env.ADDON_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    root = f"http://127.0.0.1:{sandbox_port}"
    http_proc = None
    results = {}
    try:
        print(f"Installing the addon in {dbname} ...", flush=True)
        installed = odoo_env.install_addon(odoo, base_args, env)
        if installed.returncode:
            raise odoo_env.SetupError(
                f"installing the addon failed:\n{installed.stderr[-3000:]}"
            )
        wait_http(f"{root}/_sandbox/state")

        import odoo as odoo_pkg  # noqa: F401 - found by odoo_env above
        from odoo import SUPERUSER_ID, api
        from odoo.modules.registry import Registry
        from odoo.tools import config

        config.parse_config(base_args, setup_logging=False)
        registry = Registry(dbname)
        # The sandbox's demo sales span the 90 days before today: import that quarter.
        date_to = datetime.date.today()
        date_from = date_to - datetime.timedelta(days=100)

        # 1. Framework floor, in an Odoo process of its own (its memory is not ours):
        # N invoices, one batched create and one batched post, no tracking, rolled back.
        results["floor_s"] = None
        if not args.no_floor:
            floor = subprocess.run(
                [*odoo.command, "shell", *base_args, "--no-http", "--log-level=warn"],
                input=FLOOR_SCRIPT.replace("SALES", str(args.sales)),
                env=env,
                cwd=tempfile.gettempdir(),
                capture_output=True,
                text=True,
                check=False,
            )
            marker = [
                ln for ln in floor.stdout.splitlines() if ln.startswith("floor_s=")
            ]
            if not marker:
                raise odoo_env.SetupError(f"floor failed:\n{floor.stderr[-3000:]}")
            results["floor_s"] = float(marker[-1].split("=", 1)[1])

        # 2. Import through the addon.
        with registry.cursor() as cr:
            env_ = api.Environment(cr, SUPERUSER_ID, {})
            account = env_["gumroad.account"].create(
                {
                    "name": "bench",
                    "api_base_url": f"{root}/v2",
                    "access_token": "sandbox-token",
                }
            )
            cr.commit()
            state = control(root, "state")
            requests_before = state.get("request_count", 0)
            from odoo.addons.gumroad_connector.gumroad import profiling

            started = time.perf_counter()
            with profiling.collect() as profile:
                counts = import_as_cron(env_, account, date_from, date_to)
            results["import_s"] = time.perf_counter() - started
            results["profile"] = profile
            results["counts"] = counts
            results["requests"] = (
                control(root, "state").get("request_count", 0) - requests_before
            )
            results["peak_rss_mb"] = peak_rss_mb()
            # The moves it booked, for the best floor to book again (step 3c).
            exported = export_moves(env_, account)

            # 3. Re-sync with nothing changed.
            mark = write_mark(cr)
            cr.commit()
            started = time.perf_counter()
            recounts = import_as_cron(env_, account, date_from, date_to)
            results["resync_s"] = time.perf_counter() - started
            results["resync_counts"] = recounts
            results["resync_writes_by_table"] = rows_written(cr, mark)
            results["resync_writes"] = sum(results["resync_writes_by_table"].values())
            cr.commit()

            # 3b. The same sales in daily summaries, on a connector of their own,
            # every day booked (today's included), against the per-sale import.
            summary_account = env_["gumroad.account"].create(
                {
                    "name": "bench summaries",
                    "api_base_url": f"{root}/v2",
                    "access_token": "sandbox-token",
                    "accounting_mode": "summary",
                    "summary_from": datetime.date(2000, 1, 1),
                }
            )
            cr.commit()
            started = time.perf_counter()
            with profiling.collect() as summary_profile:
                import_as_cron(env_, summary_account, date_from, date_to)
                with profiling.phase("summaries of today"):
                    summary_account._book_due_summaries(datetime.date.today())
                    cr.commit()
            results["summary_s"] = time.perf_counter() - started
            results["summary_profile"] = summary_profile
            results["summary_check"] = compare_summaries(env_, account, summary_account)
            cr.commit()

            # 3c. The framework's best for the import's own moves: batched, at the
            # best batch size, in an Odoo process of its own.
            if not args.no_floor:
                results["best_floor"] = run_best_floor(
                    odoo.command, base_args, env, exported
                )
            del exported

            # 4. Fetch with 100 ms latency per request, against its floor.
            control(root, "faults", {"latency_seconds": 0.1})
            client = account._gumroad_client()
            started = time.perf_counter()
            pages = 0
            for _page in env_["gumroad.sale"]._sales_pages(client, date_from, date_to):
                pages += 1
            results["fetch_s"] = time.perf_counter() - started
            from odoo.addons.gumroad_connector import const

            requests_needed = max(pages, math.ceil(args.sales / 10))
            results["fetch_floor_s"] = requests_needed * 0.1 / const.FETCH_WORKERS
            control(root, "faults/reset", {})
            secret = account.sudo().webhook_secret
            sale_ids = [s for s in _sale_ids(cr, account.id)]
            cr.commit()

        # 5. Pings to a running Odoo HTTP server, 20 concurrent clients.
        http_log = (
            open(args.http_log, "w")  # noqa: SIM115 - open while the server runs
            if args.http_log
            else subprocess.DEVNULL
        )
        http_port = free_port()
        http_proc = subprocess.Popen(
            [
                *odoo.command,
                *base_args,
                f"--http-port={http_port}",
                "--http-interface=127.0.0.1",
                "--max-cron-threads=0",
                f"--workers={args.http_workers}",
                "--log-level=warn",
            ],
            env=env,
            cwd=tempfile.gettempdir(),
            stdout=subprocess.DEVNULL,
            stderr=http_log,
        )
        url = f"http://127.0.0.1:{http_port}/gumroad/webhook/{secret}"
        wait_http(f"http://127.0.0.1:{http_port}/web/login")
        bodies = []
        for index in range(pings):
            sale_id = sale_ids[index % len(sale_ids)]
            with urllib.request.urlopen(
                f"{root}/_sandbox/ping_body?resource=sale&sale_id="
                + urllib.request.quote(sale_id),
                timeout=30,
            ) as response:
                bodies.append(response.read())
        # The framework's own floor: as many requests, as concurrent, to Odoo's
        # empty health route (no ORM, nothing stored) on the same server, in rounds
        # alternating with the pings': both meet the same moments of a shared machine.
        # A round of each first, not counted: a fresh server builds its routing map
        # and warms its caches on its first requests, which would otherwise all land
        # in the pings' first round and set their p99.
        post_concurrently(url, bodies[:PING_ROUND])
        post_concurrently(
            f"http://127.0.0.1:{http_port}/web/health", [None] * PING_ROUND
        )
        with registry.cursor() as cr:
            cr.execute("SELECT count(*) FROM gumroad_webhook_event")
            stored_before = cr.fetchone()[0]
        pinged, health = Sample(), Sample()
        for start in range(0, len(bodies), PING_ROUND):
            chunk = bodies[start : start + PING_ROUND]
            pinged.add(*post_concurrently(url, chunk))
            health.add(
                *post_concurrently(
                    f"http://127.0.0.1:{http_port}/web/health", [None] * len(chunk)
                )
            )
        with registry.cursor() as cr:
            cr.execute("SELECT count(*) FROM gumroad_webhook_event")
            stored = cr.fetchone()[0] - stored_before
        results["webhook_rps"] = len(bodies) / pinged.seconds
        results["webhook_p50_ms"], results["webhook_p99_ms"] = pinged.p50_p99_ms()
        results["lost"] = len(bodies) - stored
        results["webhook_failures"] = len(pinged.failures)
        results["health_rps"] = len(bodies) / health.seconds
        results["health_p50_ms"], results["health_p99_ms"] = health.p50_p99_ms()

        # 6. A burst at a steady rate while imports run beside it.
        results["burst"] = None
        if args.burst_seconds > 0:
            results["burst"] = run_burst(
                odoo.command,
                base_args,
                env,
                registry,
                root,
                url,
                bodies,
                args.burst_seconds,
                args.burst_rate,
            )
    finally:
        if http_proc:
            http_proc.terminate()
            http_proc.wait(timeout=30)
        sandbox.terminate()
        sandbox.wait(timeout=30)
        if not args.keep_db:
            odoo_env.drop_database(pg, dbname)

    # 7. One import over two years booked by 1, then by 2 cron workers of a real
    # server, each on a fresh database (dev/bench_workers.py).
    workers = (
        {}
        if args.no_workers
        else run_workers_bench(
            odoo, pg, env, args.sales, prefork=not args.workers_threads
        )
    )

    n = args.sales
    floor_s = results["floor_s"]
    ratio = results["import_s"] / floor_s if floor_s else float("nan")
    fetch_ratio = results["fetch_s"] / results["fetch_floor_s"]
    best_floor = results.get("best_floor") or {}
    best_batch = min(best_floor, key=best_floor.get) if best_floor else None
    best_floor_s = best_floor[best_batch] if best_floor else None
    best_ratio = results["import_s"] / best_floor_s if best_floor_s else float("nan")
    summary_ratio = results["summary_s"] / results["import_s"]
    check = results["summary_check"]
    webhook_p99_ratio = results["webhook_p99_ms"] / results["health_p99_ms"]
    burst = results["burst"] or {}
    speedup = workers[1] / workers[2] if workers else float("nan")
    rows = [
        ("sales", n),
        (
            "floor: create+post N invoices (s)",
            f"{floor_s:.2f}" if floor_s else "skipped",
        ),
        *(
            (f"best floor: its moves, batches of {size} (s)", f"{secs:.2f}")
            for size, secs in sorted(best_floor.items())
        ),
        (
            "best floor (s)",
            f"{best_floor_s:.2f} (batches of {best_batch})"
            if best_floor
            else "skipped",
        ),
        ("import (s)", f"{results['import_s']:.2f}"),
        ("import sales/s", f"{n / results['import_s']:.0f}"),
        ("import counts", json.dumps(results["counts"], sort_keys=True)),
        ("API requests", results["requests"]),
        ("ratio import/floor", f"{ratio:.2f}"),
        ("ratio import/best floor", f"{best_ratio:.2f}"),
        ("daily summaries: same import (s)", f"{results['summary_s']:.2f}"),
        ("ratio summaries/per-sale", f"{summary_ratio:.3f}"),
        (
            "summaries: moves, days, days differing, balance diff (cents)",
            (
                f"{check['summary_moves']}, {check['days']}, "
                f"{check['days_differing']}, {check['balance_diff_cents']}"
            ),
        ),
        ("re-sync (s)", f"{results['resync_s']:.2f}"),
        (
            "re-sync rows written",
            "{} {}".format(
                results["resync_writes"],
                json.dumps(results["resync_writes_by_table"], sort_keys=True),
            ),
        ),
        ("re-sync counts", json.dumps(results["resync_counts"], sort_keys=True)),
        ("fetch at 100 ms latency (s)", f"{results['fetch_s']:.2f}"),
        ("fetch floor (s)", f"{results['fetch_floor_s']:.2f}"),
        ("peak RSS (MB)", f"{results['peak_rss_mb']:.0f}"),
        ("webhook acks/s", f"{results['webhook_rps']:.0f}"),
        (
            "webhook p50 / p99 (ms)",
            f"{results['webhook_p50_ms']:.1f} / {results['webhook_p99_ms']:.1f}",
        ),
        ("webhook non-200 answers", results["webhook_failures"]),
        ("floor: /web/health req/s", f"{results['health_rps']:.0f}"),
        (
            "floor: /web/health p50 / p99 (ms)",
            f"{results['health_p50_ms']:.1f} / {results['health_p99_ms']:.1f}",
        ),
        ("lost pings", results["lost"]),
        ("webhook p99 / health p99", f"{webhook_p99_ratio:.2f}"),
        *burst_rows(burst, args),
        *(
            (
                (
                    f"import over two years, {count} cron "
                    f"{'thread' if args.workers_threads else 'worker'}(s) (s)"
                ),
                f"{secs:.2f}",
            )
            for count, secs in sorted(workers.items())
        ),
        ("2 workers speed-up", f"{speedup:.2f}" if workers else "skipped"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print_profile(results["profile"], results["import_s"])
    print("daily summaries:")
    print_profile(results["summary_profile"], results["summary_s"])
    print(
        f"bench: sales={n} import_s={results['import_s']:.2f} "
        f"floor_s={floor_s or float('nan'):.2f} "
        f"ratio={ratio:.2f} resync_s={results['resync_s']:.2f} "
        f"resync_writes={results['resync_writes']} fetch_ratio={fetch_ratio:.2f} "
        f"peak_rss_mb={results['peak_rss_mb']:.0f} "
        f"webhook_rps={results['webhook_rps']:.0f} "
        f"webhook_p99_ms={results['webhook_p99_ms']:.1f} lost={results['lost']} "
        f"best_floor_s={best_floor_s or float('nan'):.2f} best_ratio={best_ratio:.2f} "
        f"summary_s={results['summary_s']:.2f} summary_ratio={summary_ratio:.3f} "
        f"summary_days_differing={check['days_differing']} "
        f"summary_balance_diff_cents={check['balance_diff_cents']} "
        f"health_p99_ms={results['health_p99_ms']:.1f} "
        f"webhook_p99_ratio={webhook_p99_ratio:.2f} "
        f"burst_max_ms={burst.get('max_ms', float('nan')):.1f} "
        f"burst_lost={burst.get('lost', 'nan')} "
        f"workers1_s={workers.get(1, float('nan')):.2f} "
        f"workers2_s={workers.get(2, float('nan')):.2f} "
        f"workers2_speedup={speedup:.2f}"
    )
    return 0


def run_burst(command, base_args, env, registry, root, url, bodies, seconds, rate):
    """Pings at `rate` per second for `seconds`, each sent on time whatever the answers
    to the others, while an Odoo process of its own imports; the latency of each runs
    from its due time, as Gumroad's timeout does.
    """
    load = subprocess.Popen(
        [*command, "shell", *base_args, "--no-http", "--log-level=warn"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=tempfile.gettempdir(),
        text=True,
    )
    load.stdin.write(
        IMPORT_LOAD_SCRIPT.replace("SECONDS", str(seconds)).replace("ROOT", root)
    )
    load.stdin.close()
    for line in load.stdout:
        if line.startswith("import load started"):
            break
    else:
        raise odoo_env.SetupError("the import beside the burst did not start")
    with registry.cursor() as cr:
        cr.execute("SELECT count(*) FROM gumroad_webhook_event")
        stored_before = cr.fetchone()[0]
    count = int(seconds * rate)
    schedule = [i / rate for i in range(count)]
    latencies, failures = post_on_schedule(
        url, [bodies[i % len(bodies)] for i in range(count)], schedule
    )
    runs = [ln for ln in load.stdout if ln.startswith("import_runs=")]
    load.wait()
    with registry.cursor() as cr:
        cr.execute("SELECT count(*) FROM gumroad_webhook_event")
        stored = cr.fetchone()[0] - stored_before
    late = sum(1 for latency in latencies if latency > GUMROAD_PING_TIMEOUT_S)
    return {
        "count": count,
        "max_ms": max(latencies) * 1000,
        "p50_ms": p50_p99_ms(latencies)[0],
        "p99_ms": p50_p99_ms(latencies)[1],
        "late": late,
        "failures": len(failures),
        "failure_kinds": collections.Counter(map(str, failures)).most_common(3),
        # Lost: not stored, or answered after Gumroad gave up on it.
        "lost": count - stored + late,
        "import_runs": int(runs[-1].split("=", 1)[1]) if runs else None,
    }


def burst_rows(burst, args):
    if not burst:
        return [("burst", "skipped")]
    return [
        (
            "burst: pings, rate (/s), imports run beside",
            f"{burst['count']}, {args.burst_rate:.0f}, {burst['import_runs']}",
        ),
        (
            "burst: p50 / p99 / max (ms)",
            f"{burst['p50_ms']:.1f} / {burst['p99_ms']:.1f} / {burst['max_ms']:.1f}",
        ),
        (
            f"burst: answers over {GUMROAD_PING_TIMEOUT_S:.0f} s, non-200",
            f"{burst['late']}, {burst['failures']}",
        ),
        ("burst: lost pings", burst["lost"]),
        *(
            (f"burst: non-200 answer ({count}x)", kind[:60])
            for kind, count in burst["failure_kinds"]
        ),
    ]


def print_profile(profile, import_s):
    """The import's phases: seconds, share of the import, calls."""
    rows = [*profile.rows(), ("outside the phases", import_s - profile.total(), 0)]
    width = max(len(name) for name, _s, _c in rows)
    print(f"{'import phase':<{width}}  {'s':>7}  {'%':>5}  calls")
    for name, seconds, calls in rows:
        share = 100 * seconds / import_s if import_s else 0
        print(f"{name:<{width}}  {seconds:7.2f}  {share:5.1f}  {calls or ''}")


def post_concurrently(url, bodies, clients=20):
    """Send one request per body (POST of a form, or GET for None) from `clients`
    threads; return (wall seconds, sorted latencies in s, non-200 answers)."""
    latencies, failures = [], []
    lock = threading.Lock()

    def send(body):
        request = urllib.request.Request(
            url,
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"}
            if body is not None
            else {},
            method="GET" if body is None else "POST",
        )
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status = response.status
        except OSError as err:
            status = str(err)
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            if status != 200:
                failures.append(status)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, bodies))
    return time.perf_counter() - started, sorted(latencies), failures


def post_on_schedule(url, bodies, schedule):
    """POST each body at its time in `schedule` (seconds from now), not waiting for
    the answers to the others; return (sorted latencies from each due time in s,
    non-200 answers)."""
    latencies, failures = [], []
    lock = threading.Lock()
    started = time.perf_counter()

    def send(body, due):
        delay = started + due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        request = urllib.request.Request(
            url,
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status = response.status
        except OSError as err:
            status = str(err)
        elapsed = time.perf_counter() - started - due
        with lock:
            latencies.append(elapsed)
            if status != 200:
                failures.append(status)

    # Enough threads that a slow answer never holds back the next ping's sending.
    with ThreadPoolExecutor(200) as pool:
        list(pool.map(send, bodies, schedule))
    return sorted(latencies), failures


class Sample:
    """Rounds of post_concurrently: their seconds, latencies and failures."""

    def __init__(self):
        self.seconds, self.latencies, self.failures = 0.0, [], []

    def add(self, seconds, latencies, failures):
        self.seconds += seconds
        self.latencies.extend(latencies)
        self.failures.extend(failures)

    def p50_p99_ms(self):
        return p50_p99_ms(sorted(self.latencies))


def p50_p99_ms(latencies):
    p99 = latencies[max(0, math.ceil(len(latencies) * 0.99) - 1)]
    return statistics.median(latencies) * 1000, p99 * 1000


def _sale_ids(cr, account_id):
    cr.execute(
        "SELECT gumroad_id FROM gumroad_sale WHERE account_id = %s ORDER BY id",
        [account_id],
    )
    return [row[0] for row in cr.fetchall()]


if __name__ == "__main__":
    sys.exit(main())
