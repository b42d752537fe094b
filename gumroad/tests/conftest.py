"""Shared fixtures: Gumroad sandboxes on free loopback ports and a ping receiver."""

import re
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dev import reliability
from gumroad_sandbox import SandboxServer

# The fuzz tests of each parser make one row of the reliability report: what the
# `test_fuzz_*` functions of the module threw at it, and what held.
FUZZ_CASES = {
    "test_sales.py": (
        "fuzz_sale",
        "only MalformedPayloadError raised; refunds stay within the price",
    ),
    "test_pings.py": ("fuzz_ping", "only MalformedPayloadError raised"),
    "test_money.py": (
        "fuzz_amount",
        "only MalformedPayloadError raised; formatted amounts read back exactly",
    ),
}
_fuzz_results = defaultdict(list)  # case -> [(passed, what it tried)]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    case = FUZZ_CASES.get(item.path.name, (None,))[0]
    is_fuzz = case and item.name.startswith("test_fuzz_")
    if is_fuzz and (report.when == "call" or report.failed):
        max_examples = item.obj._hypothesis_internal_use_settings.max_examples
        what = re.sub(r"^test_fuzz_(parse_\w+?_on_)?", "", item.name)
        _fuzz_results[case].append((report.passed, f"{max_examples} {what}"))
    return report


def pytest_sessionfinish(session):
    for case, held in FUZZ_CASES.values():
        results = _fuzz_results.get(case)
        if results and all(passed for passed, _what in results):
            tried = "; ".join(what.replace("_", " ") for _passed, what in results)
            reliability.record(case, f"examples: {tried}", held)


@pytest.fixture
def sandbox():
    """A started SandboxServer with 50 demo sales on a free port."""
    server = SandboxServer(sales=50, port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_sandbox():
    """Factory: make_sandbox(**kwargs) starts a SandboxServer; all stop at teardown."""
    started = []

    def factory(**kwargs):
        kwargs.setdefault("port", 0)
        server = SandboxServer(**kwargs).start()
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


class PingReceiver:
    """A loopback endpoint that records POSTs and answers scripted statuses.

    `statuses` is consumed one per request (200 once it is empty)."""

    def __init__(self):
        self.statuses = []
        self.received = []  # (path, headers dict, body bytes)
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.received.append((self.path, dict(self.headers), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}/gumroad/webhook"

    def stop(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def ping_receiver():
    receiver = PingReceiver()
    try:
        yield receiver
    finally:
        receiver.stop()
