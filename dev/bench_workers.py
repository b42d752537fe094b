"""The bench's import workers: one long import booked by 1, then 2 cron workers.

Usage: python3 dev/bench_workers.py --sales 300 [--threads]   (also run by dev/bench.py)

For each worker count K, on a database of its own with the addon freshly installed
and the sandbox's N demo sales spread over the last two years: their import is
queued as the wizard queues it (cut into a window per calendar year, as Odoo numbers
invoices per year), then a real Odoo server is started
with `--max-cron-threads=K` and nothing else to do: a prefork server (`--workers=1`,
whose K cron workers are processes, as in a production deployment) or, with
`--threads`, a threaded server (whose K cron threads share one Python interpreter,
so only one of them runs Python at a time); the figure is the time from the
first window taken up to the run's end, as the database records them (the server's
start-up is not counted). Each sale must be booked once: the script checks the
booked counts against the sandbox's sales and fails otherwise.
Prints `workers1_s=`, `workers2_s=` and `workers2_speedup=` lines.
"""

import argparse
import datetime
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import odoo_env

SPAN_DAYS = 730  # the sales' span: three calendar years, so three windows

QUEUE_SCRIPT = """
import datetime
account = env["gumroad.account"].create(
    {"name": "bench workers", "api_base_url": "ROOT/v2",
     "access_token": "sandbox-token"}
)
today = datetime.date.today()
run = env["gumroad.import"]._queue(
    account, today - datetime.timedelta(days=DAYS), today, "manual"
)
env.cr.commit()
print(f"run_id={run.id} windows={len(run.window_ids)}", flush=True)
"""


def _psql(pg, dbname, sql):
    command = ["psql", "-h", pg["host"], "-p", str(pg["port"]), "-U", pg["user"]]
    result = subprocess.run(
        [*command, "-d", dbname, "-Atc", sql],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, PGPASSWORD=pg["password"] or ""),
    )
    return result.stdout.strip()


def server_command(odoo, prefork):
    """The argv prefix that starts the server.

    Odoo's prefork server starts its gevent worker by re-running `sys.argv[0]`, which
    under `python -m odoo` is odoo/__main__.py and fails at once (a relative import),
    so the server respawns it without end: start a prefork server from odoo-bin, as a
    deployment does, when the Odoo tree has one.
    """
    if prefork:
        for addons in odoo.addons_paths:
            for root in (addons.parent, addons.parent.parent):
                if (root / "odoo-bin").is_file():
                    return [odoo.python, str(root / "odoo-bin")]
    return odoo.command


def gevent_children(server_pid):
    """Pids of the server's child processes that run Odoo's gevent worker.

    Read off /proc, where there is one (empty elsewhere: the check is skipped).
    """
    pids = set()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            # Its own argument `gevent` (the server's workers are forks of it, and
            # their arguments only name --gevent-port).
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if ppid == server_pid and b"gevent" in argv:
                pids.add(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue  # the process ended while it was read
    return pids


def measure(odoo, pg, env, dbname, root, threads, sales, timeout, prefork=False):
    """Queue the import on dbname, book it with `threads` cron workers; seconds.

    prefork: the cron workers are processes of Odoo's prefork server (`--workers`),
    each with its own interpreter; otherwise threads of one threaded server.
    """
    base_args = odoo_env.odoo_base_args(odoo, pg, dbname)
    log_path = Path(tempfile.gettempdir()) / f"{dbname}.log"
    http_port = _free_port()
    server = subprocess.Popen(
        [
            *server_command(odoo, prefork),
            *base_args,
            f"--db-filter=^{dbname}$",
            f"--max-cron-threads={threads}",
            *(["--workers=1"] if prefork else []),
            f"--http-port={http_port}",
            # Its own port for the prefork server's gevent worker too: a server
            # already on Odoo's default (8072) would make it fail and respawn without
            # end, a core spent on restarts.
            f"--gevent-port={_free_port()}",
            "--http-interface=127.0.0.1",
            "--log-level=info",
            f"--logfile={log_path}",
        ],
        env=env,
        cwd=tempfile.gettempdir(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Queued once the server listens: the queueing's trigger wakes its cron
        # workers at once (a prefork cron worker otherwise first looks after 60 s).
        _wait_http(f"http://127.0.0.1:{http_port}/web/health", timeout=120)
        queued = subprocess.run(
            [*odoo.command, "shell", *base_args, "--no-http", "--log-level=warn"],
            input=QUEUE_SCRIPT.replace("ROOT", root).replace("DAYS", str(SPAN_DAYS)),
            env=env,
            cwd=tempfile.gettempdir(),
            capture_output=True,
            text=True,
            check=False,
        )
        marker = [ln for ln in queued.stdout.splitlines() if ln.startswith("run_id=")]
        if not marker:
            raise odoo_env.SetupError(f"queueing failed:\n{queued.stderr[-3000:]}")
        run_id = int(marker[-1].split()[0].split("=")[1])
        deadline = time.time() + timeout
        gevent_pids = set()
        while time.time() < deadline:
            gevent_pids |= gevent_children(server.pid)
            state = _psql(
                pg, dbname, f"SELECT state FROM gumroad_import WHERE id={run_id}"
            )
            if state not in ("queued", "running"):
                break
            time.sleep(0.5)
        else:
            raise odoo_env.SetupError(f"the import did not end within {timeout} s")
    finally:
        server.terminate()
        server.wait(timeout=60)
    if state != "done":
        raise odoo_env.SetupError(f"the import ended {state}")
    if len(gevent_pids) > 1:
        # A gevent worker that fails on start is respawned without end and spends a
        # core on restarts: the figure would measure that, not the cron workers.
        raise odoo_env.SetupError(
            f"the prefork server started its gevent worker {len(gevent_pids)} times: "
            f"it fails on start (see the server's log {log_path}, or run "
            "`odoo-bin gevent` with the same options); the figure would be wrong"
        )
    seconds = float(
        _psql(
            pg,
            dbname,
            "SELECT extract(epoch FROM max(finished_at) - min(started_at)) "
            f"FROM gumroad_import WHERE parent_id={run_id}",
        )
    )
    windows = _psql(
        pg,
        dbname,
        "SELECT string_agg(format('%s..%s %s sales %s-%s', date_from, date_to, "
        "sales_read, started_at::time, finished_at::time), '; ' ORDER BY date_from) "
        f"FROM gumroad_import WHERE parent_id={run_id}",
    )
    conflicts = sum("conflicted" in line for line in log_path.read_text().splitlines())
    print(
        f"{threads} workers: {seconds:.0f} s; windows: {windows}; "
        f"{conflicts} conflicted batches (log {log_path})",
        flush=True,
    )
    booked = _psql(
        pg,
        dbname,
        "SELECT count(*), count(DISTINCT gumroad_id), "
        "(SELECT count(*) FROM account_move WHERE gumroad_sale_id IS NOT NULL "
        "AND move_type='out_invoice'), "
        "(SELECT count(DISTINCT gumroad_sale_id) FROM account_move "
        "WHERE move_type='out_invoice') FROM gumroad_sale",
    ).split("|")
    rows, distinct, invoices, invoiced_sales = (int(v) for v in booked)
    if rows != distinct or invoices != invoiced_sales or rows < sales:
        raise odoo_env.SetupError(
            f"{threads} workers booked a sale twice or lost one: {booked}"
        )
    return seconds


def run_workers_bench(odoo, pg, env, sales, timeout=3600, prefork=False):
    """Seconds to book the queued import with 1 and with 2 cron workers, against a
    sandbox of its own (the sales spread over SPAN_DAYS)."""
    port = _free_port()
    sandbox = subprocess.Popen(
        odoo_env.sandbox_command(
            port,
            sales,
            3,
            "--start-date",
            (datetime.date.today() - datetime.timedelta(days=SPAN_DAYS)).isoformat(),
        ),
        cwd=odoo_env.ADDON_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    root = f"http://127.0.0.1:{port}"
    results = {}
    try:
        for threads in (1, 2):
            dbname = f"gumroad_bench_w{threads}_{int(time.time())}"
            args = odoo_env.odoo_base_args(odoo, pg, dbname)
            installed = odoo_env.install_addon(odoo, args, env)
            if installed.returncode:
                raise odoo_env.SetupError(
                    f"install failed:\n{installed.stderr[-3000:]}"
                )
            try:
                results[threads] = measure(
                    odoo, pg, env, dbname, root, threads, sales, timeout, prefork
                )
            finally:
                odoo_env.drop_database(pg, dbname)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--sales", type=int, default=300)
    parser.add_argument(
        "--threads",
        action="store_true",
        help="cron threads of a threaded server rather than prefork cron workers",
    )
    args = parser.parse_args()
    odoo = odoo_env.find_odoo()
    odoo_env.run_with_odoo_python(odoo)
    pg = odoo_env.ensure_postgres()
    env = dict(os.environ, **odoo.extra_env)
    env.setdefault("GUMROAD_CONNECTOR_KEY", odoo_env.generate_key())
    results = run_workers_bench(odoo, pg, env, args.sales, prefork=not args.threads)
    print(f"workers1_s={results[1]:.2f}")
    print(f"workers2_s={results[2]:.2f}")
    print(f"workers2_speedup={results[1] / results[2]:.2f}")


def _wait_http(url, timeout):
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError as err:
            if time.time() > deadline:
                raise odoo_env.SetupError(
                    f"{url} did not answer within {timeout} s"
                ) from err
            time.sleep(0.5)


def _free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    started = datetime.datetime.now()
    main()
    print(f"bench_workers took {(datetime.datetime.now() - started).seconds} s")
