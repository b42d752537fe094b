"""Screenshots of the addon for its Odoo Apps page and the README, from the demo.

One command, from the repository root:

    python3 dev/screenshots.py

1. builds or refreshes the demo (`dev/demo.py --no-serve`: database `gumroad_demo`,
   the Gumroad sandbox on 127.0.0.1:8765, a verified connector, 300 imported sales);
2. when the demo's ping inbox is empty, posts a few pings to the connector's webhook
   URL as Gumroad would (bodies from the sandbox), else replays the ones there, and
   processes them;
3. starts Odoo on the demo database on a free port, logs in as admin / admin;
4. drives headless Chromium over its DevTools protocol (the `websocket-client`
   package Odoo's own browser tests use) at 1280x800 and saves
   static/description/screenshot_<name>.png: connector, import_wizard, sales_list,
   sales_pivot, sales_graph, ping_inbox;
5. stops Odoo and Chromium (the sandbox keeps running, as after `make demo`).

Options: --skip-demo (use the demo as it is), --db NAME, --out DIR, --only NAME...
The PNGs are reduced to a 256-colour palette with Pillow (an Odoo requirement) to stay
small. Needs Chromium: installed with apt-get when missing and running as root.
"""

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import ExitStack, contextmanager
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
import odoo_env

STATE_DIR = odoo_env.ADDON_DIR / ".demo"
SANDBOX_URL = "http://127.0.0.1:8765"
WIDTH, HEIGHT = 1280, 800
# Odoo and Chromium share two cores with whatever else runs: wait generously.
READY_TIMEOUT = 90


class Browser:
    """Just enough of the Chrome DevTools protocol: navigate, evaluate, capture."""

    def __init__(self, executable, user_data_dir):
        import websocket  # websocket-client, as Odoo's test browser uses

        port = free_port()
        self.process = subprocess.Popen(
            [
                executable,
                "--headless",
                # Chromium refuses to run as root with its sandbox on.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                # The machine may have no network: no update checks, sync or metrics.
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-default-apps",
                "--disable-extensions",
                "--disable-sync",
                "--metrics-recording-only",
                "--no-first-run",
                "--no-default-browser-check",
                "--hide-scrollbars",
                "--mute-audio",
                f"--window-size={WIDTH},{HEIGHT}",
                f"--user-data-dir={user_data_dir}",
                "--remote-debugging-address=127.0.0.1",
                f"--remote-debugging-port={port}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        page = self._page_target(port)
        self.socket = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=READY_TIMEOUT, suppress_origin=True
        )
        self.next_id = 0
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=HEIGHT,
            deviceScaleFactor=1,
            mobile=False,
        )

    def _page_target(self, port):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/json/list", timeout=5
                ) as response:
                    targets = json.load(response)
            except OSError:
                time.sleep(0.3)
                continue
            pages = [t for t in targets if t.get("type") == "page"]
            if pages:
                return pages[0]
            time.sleep(0.3)
        raise RuntimeError("Chromium did not open its DevTools port")

    def call(self, method, **params):
        self.next_id += 1
        call_id = self.next_id
        self.socket.send(
            json.dumps({"id": call_id, "method": method, "params": params})
        )
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") != call_id:
                continue  # an event we did not subscribe to, or an older answer
            if "error" in message:
                raise RuntimeError(f"{method}: {message['error']}")
            return message.get("result", {})

    def evaluate(self, expression):
        result = self.call(
            "Runtime.evaluate",
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, selector, timeout=READY_TIMEOUT):
        """Wait until a visible element matches the CSS selector."""
        check = (
            f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
            " return !!el && el.offsetParent !== null; })()"
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.evaluate(check):
                return
            time.sleep(0.25)
        raise RuntimeError(f"{selector!r} did not show up within {timeout} s")

    def click(self, selector):
        self.wait_for(selector)
        self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")

    def settle(self):
        """Let the page finish: no pending Odoo RPC, no running animation frame."""
        time.sleep(0.5)
        self.evaluate(
            "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
        )
        time.sleep(1.0)

    def set_cookie(self, name, value, url):
        self.call("Network.setCookie", name=name, value=value, url=url)

    def navigate(self, url):
        self.call("Page.navigate", url=url)

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self):
        try:
            self.socket.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OdooSession:
    """JSON-RPC to a running Odoo with a session cookie, as the web client does."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies)
        )

    def rpc(self, path, params):
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "params": params})
        request = urllib.request.Request(
            self.base_url + path,
            data=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        with self.opener.open(request, timeout=120) as response:
            answer = json.load(response)
        if answer.get("error"):
            raise RuntimeError(
                f"{path}: {answer['error'].get('data', answer['error'])}"
            )
        return answer["result"]

    def login(self, db, login, password):
        self.rpc(
            "/web/session/authenticate",
            {"db": db, "login": login, "password": password},
        )
        return next(c.value for c in self.cookies if c.name == "session_id")

    def call(self, model, method, *args, **kwargs):
        return self.rpc(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
        )

    def post_form(self, path, body):
        request = urllib.request.Request(
            self.base_url + path,
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status


def sandbox_get(path):
    with urllib.request.urlopen(SANDBOX_URL + path, timeout=10) as response:
        return response.read()


@contextmanager
def running_odoo(db):
    """Odoo on the demo database, on a free port, for as long as the block runs."""
    odoo = odoo_env.find_odoo()
    conf = STATE_DIR / "odoo.conf"
    key_file = STATE_DIR / "gumroad.key"
    if not conf.exists() or not key_file.exists():
        raise odoo_env.SetupError(
            "No demo configuration in .demo/: run python3 dev/demo.py --no-serve first "
            "(or drop --skip-demo)."
        )
    port = free_port()
    env = dict(os.environ, **odoo.extra_env)
    env["GUMROAD_CONNECTOR_KEY"] = key_file.read_text().strip()
    log = open(STATE_DIR / "screenshots-odoo.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            *odoo.command,
            "-c",
            str(conf),
            "-d",
            db,
            f"--db-filter=^{db}$",
            f"--http-port={port}",
            "--max-cron-threads=0",
            "--log-level=warn",
        ],
        env=env,
        cwd=tempfile.gettempdir(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                urllib.request.urlopen(base_url + "/web/login", timeout=5).close()
                break
            except urllib.error.HTTPError:
                break  # it answers
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise odoo_env.SetupError(
                        f"Odoo did not start; see {log.name}"
                    ) from None
                time.sleep(0.5)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def fill_ping_inbox(session, account):
    """A few pings as Gumroad sends them, when the demo's inbox is still empty;
    otherwise the pings there are processed again, so their results are the current
    code's.
    """
    events = session.call(
        "gumroad.webhook.event", "search", [["account_id", "=", account["id"]]]
    )
    if events:
        session.call("gumroad.webhook.event", "action_replay", events)
        session.call("gumroad.webhook.event", "action_process_now", events)
        return
    wanted = [
        ("sale", [["state", "=", "invoiced"]]),
        ("refund", [["state", "=", "reversed"]]),
        ("refund", [["state", "=", "adjusted"]]),
        ("dispute", [["dispute_state", "!=", "none"]]),
    ]
    bodies = []
    for resource, domain in wanted:
        sales = session.call(
            "gumroad.sale",
            "search_read",
            [["account_id", "=", account["id"]], *domain],
            fields=["gumroad_id"],
            limit=1,
        )
        if sales:
            bodies.append((resource, sales[0]["gumroad_id"], False))
    if bodies:
        bodies.append(("sale", bodies[0][1], True))  # the Settings page's test ping
    secret = session.call(
        "gumroad.account", "read", [account["id"]], ["webhook_secret"]
    )[0]["webhook_secret"]
    for resource, sale_id, test in bodies:
        query = urlencode({"resource": resource, "sale_id": sale_id, "test": int(test)})
        body = sandbox_get(f"/_sandbox/ping_body?{query}")
        session.post_form(f"/gumroad/webhook/{secret}", body)
    pending = session.call(
        "gumroad.webhook.event", "search", [["state", "=", "pending"]]
    )
    session.call("gumroad.webhook.event", "action_process_now", pending)


def take_screenshots(base_url, db, out_dir, only):
    session = OdooSession(base_url)
    session_id = session.login(db, "admin", "admin")
    accounts = session.call(
        "gumroad.account",
        "search_read",
        [["state", "=", "connected"]],
        fields=["name"],
        limit=1,
    )
    if not accounts:
        raise odoo_env.SetupError(
            f"No verified connector in {db}: run python3 dev/demo.py --no-serve."
        )
    account = accounts[0]
    fill_ping_inbox(session, account)

    action = f"{base_url}/odoo/action-gumroad_connector"
    connector = f"{action}.gumroad_account_action/{account['id']}"
    sales_action = f"{action}.gumroad_sale_action"
    connected = ".o_statusbar_status .o_arrow_button_current[data-value=connected]"
    # name: (url, steps); a step is ("wait", css) or ("click", css)
    screens = {
        "connector": (
            connector,
            [
                ("wait", connected),
                ("wait", ".o_field_widget[name=products_published_count]"),
                ("wait", ".o_field_widget[name=gumroad_balance]"),
            ],
        ),
        "import_wizard": (
            connector,
            [
                ("click", "button[name=action_open_import_wizard]"),
                ("click", ".modal button[name=action_preview]"),
                ("wait", ".modal .o_field_widget[name=preview_read]"),
            ],
        ),
        "sales_list": (sales_action, [("wait", ".o_list_view .o_data_row")]),
        "sales_pivot": (
            f"{sales_action}?view_type=pivot",
            [
                ("wait", ".o_pivot table .o_pivot_cell_value"),
                # Products as rows, months as columns: fits the width better.
                ("click", ".o_pivot_flip_button"),
                ("wait", ".o_pivot table .o_pivot_cell_value"),
            ],
        ),
        "sales_graph": (
            f"{sales_action}?view_type=graph",
            [("wait", ".o_graph_renderer canvas")],
        ),
        "payouts": (
            f"{action}.gumroad_payout_action",
            [("wait", ".o_list_view .o_data_row")],
        ),
        "ping_inbox": (
            f"{action}.gumroad_webhook_event_action",
            [("wait", ".o_list_view .o_data_row")],
        ),
    }
    executable = odoo_env.ensure_chromium()
    with ExitStack() as stack:
        profile = stack.enter_context(
            # Chromium's helpers may still write there for a moment after it exits.
            tempfile.TemporaryDirectory(prefix="gr_shots_", ignore_cleanup_errors=True)
        )
        browser = Browser(executable, profile)
        stack.callback(browser.close)
        browser.set_cookie("session_id", session_id, base_url)
        for name, (url, steps) in screens.items():
            if only and name not in only:
                continue
            browser.navigate(url)
            for action, selector in steps:
                getattr(browser, "wait_for" if action == "wait" else "click")(selector)
            browser.settle()
            path = out_dir / f"screenshot_{name}.png"
            browser.screenshot(path)
            shrink(path)
            size_kb = path.stat().st_size // 1024
            print(f"{path.relative_to(odoo_env.ADDON_DIR)}: {size_kb} KB")


def shrink(path):
    """A 256-colour palette: Odoo's flat UI keeps its look at a fraction of the size."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(
            colors=256, method=Image.Quantize.MEDIANCUT
        )
    small.save(path, optimize=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--db", default="gumroad_demo")
    parser.add_argument(
        "--out", type=Path, default=odoo_env.ADDON_DIR / "static" / "description"
    )
    parser.add_argument("--only", nargs="*", default=[])
    args = parser.parse_args()
    try:
        odoo_env.ensure_chromium()
        if not args.skip_demo:
            demo = subprocess.run(
                [
                    sys.executable,
                    str(Path(__file__).with_name("demo.py")),
                    "--no-serve",
                    "--db",
                    args.db,
                ],
                check=False,
            )
            if demo.returncode != 0:
                print("ERROR: building the demo failed (see above).", file=sys.stderr)
                return 1
        args.out.mkdir(parents=True, exist_ok=True)
        with running_odoo(args.db) as base_url:
            take_screenshots(base_url, args.db, args.out.resolve(), set(args.only))
    except odoo_env.SetupError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
