"""The addon as a user runs it: a real `odoo-bin` server, pings over HTTP, its own cron
threads, `odoo-bin shell` scripts and JSON-RPC calls.

Odoo's own suite and the library tests call the addon's methods directly, in one
process; a test mode, a patched commit or a manual cron call can hide what a server
does with the same code (issue #16: every ping answered 200 and left pending, a
scripted import hanging on its own transaction). Here nothing is called by hand: the
webhook's trigger wakes the server's cron thread, imports run in the server or in a
shell, and the tests only read committed data, with bounded waits that fail with what
was left undone.
"""

import os
import shlex
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from datetime import date

import requests

from dev import reliability
from gumroad_sandbox import SandboxServer
from gumroad_sandbox.pings import FORM_CONTENT_TYPE, PING_TIMEOUT_SECONDS

# A ping must leave `pending` within this long after the last one was answered...
INBOX_TIMEOUT = 240
# ...and the inbox must move at least this often: longer than the 60 s a cron thread
# sleeps between two looks at its jobs when nothing notifies it.
INBOX_STALL = 90
# A connection waiting this long on a lock held by its own process is a
# self-deadlock: an import of a few dozen sales never waits that long on itself.
SELF_LOCK_SECONDS = 20
# The web client's login of the default administrator, set by the tests.
ADMIN_PASSWORD = "admin"
USER_PASSWORD = "gumroad-live-user-pw-1"
PING_HEADERS = {"Content-Type": FORM_CONTENT_TYPE, "User-Agent": "Ruby"}
ACCESS_ERROR = "odoo.exceptions.AccessError"


def record_case(case, tried, held):
    """reliability.record for this file's cases, once dev/reliability.py
    lists them (it refuses unknown cases; the test suite does not edit that package).
    """
    if case in reliability.CASE_TITLES:
        reliability.record(case, tried, held)


# --- reading committed data -----------------------------------------------------------


def query(registry, sql, params=()):
    """Rows of one query in a transaction of its own: what is committed now."""
    with registry.cursor() as cr:
        cr.execute(sql, params)
        return cr.fetchall()


def inbox(registry, account_id):
    """The connector's pings: [(id, state, resource, sale id, last error)]."""
    return query(
        registry,
        "SELECT id, state, resource_name, sale_gumroad_id, last_error "
        "FROM gumroad_webhook_event WHERE account_id = %s ORDER BY id",
        [account_id],
    )


def wait_for_inbox(registry, account_id, expected):
    """Wait until the server itself has processed every ping of the connector, and
    the imports the pings queued (a gift's day) have run.

    Fails when a ping is still pending after INBOX_TIMEOUT, or when none left
    `pending` for INBOX_STALL seconds.
    """
    start = last_move = time.monotonic()
    last_pending = None
    while True:
        events = inbox(registry, account_id)
        pending = sum(1 for event in events if event[1] == "pending")
        [(open_imports,)] = query(
            registry,
            "SELECT count(*) FROM gumroad_import WHERE account_id = %s "
            "AND state IN ('queued', 'running')",
            [account_id],
        )
        if len(events) >= expected and not pending and not open_imports:
            return events
        now = time.monotonic()
        if (pending, open_imports) != last_pending:
            last_pending, last_move = (pending, open_imports), now
        stalled = now - last_move > INBOX_STALL
        if stalled or now - start > INBOX_TIMEOUT:
            how = (
                f"none processed in {INBOX_STALL} s"
                if stalled
                else f"{now - start:.0f} s after the pings were answered"
            )
            raise AssertionError(
                f"{pending} of {len(events)} pings (of {expected} sent) still pending "
                f"and {open_imports} import(s) unfinished, "
                f"{how}: the server's own cron did not process them"
            )
        time.sleep(1)


def assert_all_done(events):
    not_done = [event for event in events if event[1] != "done"]
    assert not not_done, (
        "pings not done (id, state, resource, sale, error): "
        + "; ".join(repr(event) for event in not_done)
    )


def check_sales_booked_once(registry, books, sandbox, account_id, sale_ids):
    """Every sale in `sale_ids` recorded; every recorded sale of the connector (those
    a gift's day import brought too) booked once, with the net Gumroad says to the cent.

    :return: the number of invoices
    """
    counts = books.invoice_counts(account_id)
    nets = books.net_cents(account_id)
    states = dict(
        query(
            registry,
            "SELECT gumroad_id, state FROM gumroad_sale WHERE account_id = %s",
            [account_id],
        )
    )
    missing = sorted(set(sale_ids) - set(counts))
    assert not missing, f"{len(missing)} sales never recorded: {missing}"
    wrong = {}
    for sale_id, invoices in counts.items():
        sale = sandbox.sale(sale_id)
        if sale is None:
            wrong[sale_id] = "not a sale of the Gumroad account"
            continue
        wanted = 1 if sale["price"] > 0 else 0
        if invoices != wanted:
            wrong[sale_id] = (
                f"{invoices} invoices GR-{sale_id}, expected {wanted} "
                f"(sale state {states[sale_id]})"
            )
        elif nets[sale_id] != sandbox.sale_net_usd_cents(sale_id):
            wrong[sale_id] = (
                f"net {nets[sale_id]} cents booked, Gumroad says "
                f"{sandbox.sale_net_usd_cents(sale_id)}"
            )
    shown = "; ".join(f"{i}: {why}" for i, why in sorted(wrong.items())[:8])
    assert not wrong, f"{len(wrong)} of {len(counts)} sales booked wrong: {shown}"
    return sum(counts.values())


# --- setting things up from the test --------------------------------------------------


def new_connector(make_connector, env_factory, sandbox, name):
    """A committed connector on the sandbox: (id, its webhook path)."""
    account_id = make_connector(sandbox, name)
    account = env_factory()["gumroad.account"].browse(account_id)
    return account_id, f"/gumroad/webhook/{account.webhook_secret}"


def set_admin_password(env_factory):
    env = env_factory()
    env.ref("base.user_admin").password = ADMIN_PASSWORD
    env.cr.commit()


def untouched_usd_sales(sandbox):
    """Paid USD sales with no refund, dispute, gift or subscription."""
    return [
        sale
        for sale in sandbox.sales
        if sale["price"] > 0
        and sale["currency"] == "usd"
        and not sale.get("refunded")
        and not sale["partially_refunded"]
        and not sale["disputed"]
        and not sale["is_gift_sender_purchase"]
        and not sale.get("subscription_id")
    ]


def alive_subscriptions(sandbox):
    return [sub["id"] for sub in sandbox.subscribers if sub["status"] == "alive"]


# --- talking to the server ------------------------------------------------------------


def output_tail(path, lines=60):
    with open(path, errors="replace") as handle:
        return "".join(handle.readlines()[-lines:])


def post_ping(url, body):
    """POST a ping body as Gumroad's worker does (form body, 5 s timeout)."""
    try:
        return requests.post(
            url,
            data=body,
            headers=PING_HEADERS,
            timeout=PING_TIMEOUT_SECONDS,
            allow_redirects=False,
        ).status_code
    except requests.RequestException:
        return 0  # Gumroad drops a ping whose POST fails


class JsonRpc:
    """A web client's session on the live server: /web/session/authenticate, then
    call_kw and call_button, as the browser sends them.
    """

    def __init__(self, server, login, password):
        self.url = server.url
        self.session = requests.Session()
        answer = self.post(
            "/web/session/authenticate",
            {"db": server.db, "login": login, "password": password},
        )
        assert "error" not in answer and answer["result"].get("uid"), (
            f"{login} could not log in: {answer}"
        )

    def post(self, route, params, timeout=60):
        response = self.session.post(
            self.url + route,
            json={"jsonrpc": "2.0", "method": "call", "id": 1, "params": params},
            timeout=timeout,
        )
        response.raise_for_status()
        return response.json()

    def call_kw(self, model, method, args, kwargs=None, timeout=60):
        params = {"model": model, "method": method, "args": args}
        params["kwargs"] = kwargs or {}
        return self.post(f"/web/dataset/call_kw/{model}/{method}", params, timeout)

    def call_button(self, model, method, args, kwargs=None):
        params = {"model": model, "method": method, "args": args}
        params["kwargs"] = kwargs or {}
        return self.post(f"/web/dataset/call_button/{model}/{method}", params)


def self_lock_waits(registry, app_name):
    """Connections of one process waiting on a lock that another connection of the
    same process holds: [(seconds waiting, waiting query, holding query)].
    """
    return query(
        registry,
        """SELECT extract(epoch FROM now() - w.query_start), left(w.query, 160),
                  left(b.query, 160)
             FROM pg_stat_activity w
            CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS blocker(pid)
             JOIN pg_stat_activity b ON b.pid = blocker.pid
            WHERE w.datname = current_database()
              AND w.application_name = %s AND b.application_name = %s""",
        [app_name, app_name],
    )


def watch(registry, finished, app_name, timeout, what):
    """Wait for finished(); fail with "<what> hung" on a self-deadlock or timeout."""
    deadline = time.monotonic() + timeout
    while not finished():
        for seconds, waiting, holding in self_lock_waits(registry, app_name):
            if seconds > SELF_LOCK_SECONDS:
                raise AssertionError(
                    f"{what} hung: one of its connections has waited {seconds:.0f} s "
                    "on a lock held by another connection of the same process, its "
                    f"own open transaction (waiting: {waiting!r}; holder's last "
                    f"query: {holding!r})"
                )
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} hung: not finished after {timeout} s")
        time.sleep(1)


def send_flow(sandbox, url, sales, senders=4, seconds=20.0, make_sale=None):
    """Each of `sales` sale pings twice, spread over `seconds` by `senders` threads
    (each sends its share once, then again). With make_sale, the sales are made in
    the sandbox as the flow goes (`sales` is then a count).

    :return: (sale ids, [(sale id, HTTP status)])
    """
    count = sales if make_sale else len(sales)
    sale_ids = [None] * count if make_sale else list(sales)
    answers, errors = [], []
    lock = threading.Lock()
    interval = seconds / (2 * count / senders)

    def sender(index):
        try:
            mine = range(index, count, senders)
            for round_ in (1, 2):
                for position in mine:
                    if make_sale and round_ == 1:
                        sale_ids[position] = make_sale()["id"]
                    status = sandbox.send_ping(url, "sale", sale_id=sale_ids[position])
                    with lock:
                        answers.append((sale_ids[position], status))
                    time.sleep(interval)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(repr(error))

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds * 4 + 60)
    assert not errors, f"ping senders failed: {errors}"
    return sale_ids, answers


def assert_all_answered_200(answers):
    refused = [(sale_id, status) for sale_id, status in answers if status != 200]
    assert not refused, (
        f"{len(refused)} of {len(answers)} pings not answered 200 "
        f"(status 0: no answer in {PING_TIMEOUT_SECONDS} s): {refused[:10]}"
    )


# --- the tests ------------------------------------------------------------------------


def test_every_ping_kind_posted_to_a_live_server_is_booked_by_its_own_cron(
    live_server, live_name, registry, env_factory, make_connector, books
):
    """Issue #16 as the user saw it: real pings of every kind posted to Odoo, all
    answered 200, then left pending by the server's own cron.
    """
    server = live_server(cron_threads=1)
    with SandboxServer(sales=60, seed=41, allow_loopback_post_urls=True) as sandbox:
        account_id, path = new_connector(
            make_connector, env_factory, sandbox, live_name("kinds")
        )
        url = server.url + path
        plain, partial, full, disputed = untouched_usd_sales(sandbox)[:4]
        renewed, cancelled = alive_subscriptions(sandbox)[:2]
        sandbox.refund(partial["id"], amount_cents=partial["price"] // 4)
        sandbox.refund(full["id"])
        sandbox.dispute(disputed["id"])
        gift_sender, gift_receiver = sandbox.add_gift()
        renewal = sandbox.add_sale(subscription_id=renewed)
        sandbox.cancel_subscription(cancelled)
        body = sandbox.ping_body
        sale_body = body("sale", sale_id=plain["id"])
        pings = [
            ("sale", sale_body),
            ("the same sale again (resend ping)", sale_body),
            # Gumroad's retry of a POST it thinks failed: the same form plus
            # retry_count (PingDispatcher._post, facts file §5.1).
            ("the same sale, Gumroad's retry", sale_body + b"&retry_count=1"),
            ("partial refund", body("refund", sale_id=partial["id"])),
            ("full refund", body("refund", sale_id=full["id"])),
            ("dispute", body("dispute", sale_id=disputed["id"])),
            # The sender's purchase never pings: this is the receiver's $0 sale.
            ("gift receiver", body("sale", sale_id=gift_sender["id"])),
            ("subscription renewal", body("sale", sale_id=renewal["id"])),
            ("cancellation", body("cancellation", subscription_id=cancelled)),
        ]
        assert b"is_recurring_charge=true" in pings[7][1]
        assert b"is_gift_receiver_purchase=true" in pings[6][1]
        statuses = {name: post_ping(url, ping) for name, ping in pings}
        assert set(statuses.values()) == {200}, f"answers: {statuses}"

        events = wait_for_inbox(registry, account_id, expected=len(pings))
        assert len(events) == len(pings), f"pings stored: {events}"
        assert_all_done(events)
        booked = [plain, partial, full, disputed, gift_sender, renewal, gift_receiver]
        invoices = check_sales_booked_once(
            registry, books, sandbox, account_id, [sale["id"] for sale in booked]
        )
        subscription = query(
            registry,
            "SELECT status FROM gumroad_subscription "
            "WHERE account_id = %s AND gumroad_id = %s",
            [account_id, cancelled],
        )
        # A buyer's cancellation runs to the end of the paid period: Gumroad's status
        # is pending_cancellation until then.
        assert subscription == [("pending_cancellation",)], (
            f"subscription: {subscription}"
        )
        record_case(
            "live_ping_kinds",
            "9 real pings posted over HTTP to a running odoo-bin (1 cron thread): a "
            "sale 3 times (one a Gumroad retry), partial and full refund, dispute, "
            "gift receiver, renewal, cancellation",
            f"all answered 200 and done by the server's own cron; {invoices} "
            "invoices, one per paid sale, nets equal to the cent",
        )


def test_a_steady_flow_of_duplicate_pings_drains_and_books_each_sale_once(
    live_server, live_name, registry, env_factory, make_connector, books
):
    """Pings keep arriving while the cron books: each wakes it again, duplicates
    meet the first booking of their sale, and nothing may be lost or booked twice.
    """
    server = live_server(cron_threads=1)
    with SandboxServer(sales=10, seed=42, allow_loopback_post_urls=True) as sandbox:
        account_id, path = new_connector(
            make_connector, env_factory, sandbox, live_name("flow")
        )
        new_sales = [sandbox.add_sale()["id"] for _ in range(100)]
        sale_ids, answers = send_flow(sandbox, server.url + path, new_sales)
        assert len(answers) == 200
        assert_all_answered_200(answers)

        events = wait_for_inbox(registry, account_id, expected=200)
        assert len(events) == 200
        assert_all_done(events)
        invoices = check_sales_booked_once(
            registry, books, sandbox, account_id, sale_ids
        )
        rows = books.invoice_counts(account_id)
        assert set(rows) == set(sale_ids), "only the pinged sales are recorded"
        record_case(
            "live_ping_flow",
            "200 sale pings (100 new sales, each twice) from 4 concurrent senders "
            "over 20 s to a running odoo-bin with 1 cron thread",
            f"all answered 200, inbox drained by the server's cron, {invoices} "
            "invoices for 100 sales, nets equal to the cent",
        )


def test_pings_and_a_background_import_at_once_on_two_cron_threads(
    live_server, live_name, registry, env_factory, make_connector, books
):
    """Two cron threads: one runs the import the wizard queued, the other processes
    pings of new sales arriving meanwhile, both booking the same sales.
    """
    set_admin_password(env_factory)
    server = live_server(cron_threads=2)
    new_sales = 50
    with SandboxServer(sales=100, seed=43, allow_loopback_post_urls=True) as sandbox:
        account_id, path = new_connector(
            make_connector, env_factory, sandbox, live_name("mixed")
        )
        admin = JsonRpc(server, "admin", ADMIN_PASSWORD)
        # The wizard queues an import this long: a cron thread runs it.
        wizard = {
            "account_id": account_id,
            "date_from": "2000-01-01",
            "date_to": date.today().isoformat(),
        }
        answer = admin.call_kw("gumroad.sale.import", "create", [wizard])
        assert "error" not in answer, answer
        wizard_id = answer["result"]
        answer = admin.call_button(
            "gumroad.sale.import", "action_import", [[wizard_id]]
        )
        assert "error" not in answer, answer
        sale_ids, answers = send_flow(
            sandbox, server.url + path, new_sales, make_sale=sandbox.add_sale
        )
        assert len(set(sale_ids)) == new_sales
        assert_all_answered_200(answers)

        events = wait_for_inbox(registry, account_id, expected=2 * new_sales)
        assert_all_done(events)
        deadline = time.monotonic() + INBOX_TIMEOUT
        while True:
            [(state, summary)] = query(
                registry,
                "SELECT state, error_message FROM gumroad_import "
                "WHERE account_id = %s ORDER BY id DESC LIMIT 1",
                [account_id],
            )
            if state in ("done", "failed") or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert state == "done", (
            f"the queued import is {state} {INBOX_TIMEOUT} s after the pings were "
            f"processed: {summary}"
        )
        paid = books.check_booked_once(sandbox, account_id)
        record_case(
            "live_ping_and_import",
            f"a queued import of {len(sandbox.sales)} sales run by one cron thread "
            f"while {2 * new_sales} sale pings ({new_sales} new sales, each twice) "
            "arrive and the other cron thread processes them",
            f"{paid} invoices for {paid} paid sales, 0 duplicates, nets equal to "
            "the cent",
        )


def test_a_scripted_import_in_odoo_shell_finishes_and_books_each_sale_once(
    live_name, registry, env_factory, books, tmp_path
):
    """A user's script keeps one transaction open across the calls: whatever the
    import does beside it (side cursors, commits) must not wait on that transaction.
    """
    with SandboxServer(sales=40, seed=44) as sandbox:
        env = env_factory()
        env.ref("base.USD").active = True
        env.cr.commit()
        name = live_name("shell")
        # What a user types into `odoo-bin shell`: one transaction throughout.
        script = (
            "account = env['gumroad.account'].create({"
            f"'name': {name!r}, 'api_base_url': {sandbox.base_url!r}, "
            f"'access_token': {sandbox.token!r}}})\n"
            "env.cr.commit()\n"
            "account.action_verify_connection()\n"
            "account.action_import_products()\n"
            "counts = account.action_import_sales('2000-01-01', '2100-01-01')\n"
            "env.cr.commit()\n"
            "print('SCRIPTED IMPORT DONE', account.id, counts, flush=True)\n"
        )
        cmd = [
            *os.environ["GUMROAD_ODOO_CMD"].split("\x1f"),
            "shell",
            *shlex.split(os.environ["GUMROAD_ODOO_ARGS"]),
            "--no-http",
            "--log-level=warn",
            "--db_app_name=gumroad-shell-{pid}",
        ]
        output = tmp_path / "odoo-shell.log"
        with open(output, "w") as handle:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=handle,
                stderr=subprocess.STDOUT,
                text=True,
                cwd=tempfile.gettempdir(),
                start_new_session=True,
            )
        proc.stdin.write(script)
        proc.stdin.close()
        try:
            watch(
                registry,
                lambda: proc.poll() is not None,
                f"gumroad-shell-{proc.pid}",
                timeout=240,
                what="scripted import",
            )
        except AssertionError:
            print(f"odoo-bin shell output:\n{output_tail(output)}")
            raise
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        text = output_tail(output, 200)
        assert proc.returncode == 0 and "SCRIPTED IMPORT DONE" in text, text
        [(account_id, state)] = query(
            registry, "SELECT id, state FROM gumroad_account WHERE name = %s", [name]
        )
        assert state == "connected"
        paid = books.check_booked_once(sandbox, account_id)
        record_case(
            "scripted_import_shell",
            "odoo-bin shell: create a connector, commit, verify, import products and "
            f"{len(sandbox.sales)} sales in one transaction",
            f"finished; {paid} invoices for {paid} paid sales, nets to the cent",
        )


def test_an_import_run_by_a_server_action_over_json_rpc_finishes(
    live_server, live_name, registry, env_factory, make_connector, books
):
    """The same calls in one HTTP request's transaction, as an automation would run
    them.
    """
    set_admin_password(env_factory)
    server = live_server(cron_threads=1)
    with SandboxServer(sales=40, seed=45) as sandbox:
        account_id, _path = new_connector(
            make_connector, env_factory, sandbox, live_name("server action")
        )
        env = env_factory()
        action = env["ir.actions.server"].create(
            {
                "name": live_name("import everything"),
                "model_id": env.ref("gumroad_connector.model_gumroad_account").id,
                "state": "code",
                "code": (
                    "for account in records:\n"
                    "    account.action_verify_connection()\n"
                    "    account.action_import_products()\n"
                    "    account.action_import_sales('2000-01-01', '2100-01-01')\n"
                ),
            }
        )
        env.cr.commit()
        admin = JsonRpc(server, "admin", ADMIN_PASSWORD)
        answers = []

        def run():
            context = {
                "active_model": "gumroad.account",
                "active_id": account_id,
                "active_ids": [account_id],
            }
            try:
                answers.append(
                    admin.call_kw(
                        "ir.actions.server",
                        "run",
                        [[action.id]],
                        {"context": context},
                        timeout=600,
                    )
                )
            except requests.RequestException as error:
                answers.append({"error": repr(error)})

        caller = threading.Thread(target=run, daemon=True)
        caller.start()
        watch(
            registry,
            lambda: not caller.is_alive(),
            server.app_name,
            timeout=240,
            what="server action import",
        )
        [answer] = answers
        assert "error" not in answer, answer
        paid = books.check_booked_once(sandbox, account_id)
        record_case(
            "scripted_import_server_action",
            "a code server action (verify, import products, import "
            f"{len(sandbox.sales)} sales) run over JSON-RPC on a running odoo-bin",
            f"finished; {paid} invoices for {paid} paid sales, nets to the cent",
        )


def test_a_gumroad_user_is_refused_before_anything_reaches_gumroad(
    live_server, live_name, registry, env_factory, make_connector, books
):
    """What Gumroad did cannot be rolled back: a refused call must be refused before
    its first request (a deleted webhook, a disabled licence), not after.
    """
    server = live_server(cron_threads=1)
    with SandboxServer(sales=40, seed=46, allow_loopback_post_urls=True) as sandbox:
        account_id, _path = new_connector(
            make_connector, env_factory, sandbox, live_name("access")
        )
        env = env_factory()
        params = env["ir.config_parameter"].sudo()
        old_base_url = params.get_param("web.base.url")
        params.set_param("web.base.url", server.url)
        login = f"gumroad-user-{uuid.uuid4().hex[:8]}"
        env["res.users"].create(
            {
                "name": "Gumroad reader",
                "login": login,
                "password": USER_PASSWORD,
                "group_ids": [
                    (4, env.ref("gumroad_connector.gumroad_connector_group_user").id)
                ],
            }
        )
        account = env["gumroad.account"].browse(account_id)
        # Connected, real-time sync on, and never synced by the cron meanwhile.
        account.sync_enabled = False
        account.action_verify_connection()
        account.with_context(
            gumroad_allow_local_webhooks=True
        ).action_enable_realtime_sync()
        env.cr.commit()
        licensed = next(s for s in untouched_usd_sales(sandbox) if s.get("license_key"))

        def book_licensed(work_env):
            connector = work_env["gumroad.account"].browse(account_id)
            work_env["gumroad.sale"]._sync_one(connector, licensed["id"])

        books.run_with_retry(book_licensed)
        [(sale_row_id,)] = query(
            registry,
            "SELECT id FROM gumroad_sale WHERE account_id = %s AND gumroad_id = %s",
            [account_id, licensed["id"]],
        )
        try:
            user = JsonRpc(server, login, USER_PASSWORD)
            # The localhost guard of real-time sync must not hide the access check.
            context = {"gumroad_allow_local_webhooks": True}
            calls = [
                ("gumroad.account", "action_verify_connection", [[account_id]]),
                ("gumroad.account", "action_import_products", [[account_id]]),
                (
                    "gumroad.account",
                    "action_import_sales",
                    [[account_id], "2000-01-01", "2100-01-01"],
                ),
                ("gumroad.account", "action_sync_payouts", [[account_id]]),
                ("gumroad.account", "action_enable_realtime_sync", [[account_id]]),
                ("gumroad.sale", "action_verify_license", [[sale_row_id]]),
                ("gumroad.sale", "action_disable_license", [[sale_row_id]]),
                ("gumroad.sale", "action_enable_license", [[sale_row_id]]),
                # Last: were it to go through, the token would be gone for the others.
                ("gumroad.account", "action_disconnect", [[account_id]]),
            ]
            wrong = []
            for model, method, args in calls:
                before = sandbox.request_count
                answer = user.call_button(model, method, args, {"context": context})
                reached = [f"{r.method} {r.path}" for r in sandbox.request_log[before:]]
                error = (answer.get("error") or {}).get("data", {})
                if error.get("name") != ACCESS_ERROR or reached:
                    message = " ".join(error.get("message", "").split())[:90]
                    outcome = (
                        f"{error.get('name')} ({message})"
                        if error
                        else f"no error, returned {str(answer.get('result'))[:60]}"
                    )
                    kinds = ", ".join(dict.fromkeys(reached))[:160]
                    wrong.append(
                        f"{method}: {outcome}, after {len(reached)} Gumroad "
                        f"requests ({kinds})"
                    )
        finally:
            params = env_factory()["ir.config_parameter"].sudo()
            params.set_param("web.base.url", old_base_url or False)
            params.env.cr.commit()
        assert not wrong, (
            "a Gumroad / User must get an access error before any request reaches "
            "Gumroad:\n  " + "\n  ".join(wrong)
        )
        [(state, has_token)] = query(
            registry,
            "SELECT state, has_token FROM gumroad_account WHERE id = %s",
            [account_id],
        )
        assert (state, has_token) == ("connected", True)
        record_case(
            "live_access_before_gumroad",
            f"a Gumroad / User calling {len(calls)} Gumroad-reaching buttons over "
            "JSON-RPC on a running odoo-bin",
            "an access error each time, and not one request reached Gumroad",
        )
