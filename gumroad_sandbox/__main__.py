"""Command line: run a Gumroad sandbox, or drive a running one.

python -m gumroad_sandbox serve --port 8765 --sales 300 --seed 1 [--latency 0.1]
                                [--state-file PATH] [--allow-loopback-post-urls]
python -m gumroad_sandbox ping --base-url http://127.0.0.1:8765 --resource refund
                               --sale-id ID [--url POST_URL] [--test]
python -m gumroad_sandbox refund|dispute|win-dispute|release-preorder --sale-id ID
                               [--amount-cents N]
python -m gumroad_sandbox add-sale [--product-id ID] [--email E] [--affiliate-email E]
                                   [--affiliate-credit-cents N]
                                   [--payment-processor paypal|stripe_connect]
                                   [--processor-fee-cents N] [--shipping-cents N]
                                   [--tip-cents N] [--seller-tax-cents N]
                                   [--gumroad-tax-cents N] [--preorder]
python -m gumroad_sandbox faults rate_limit_every=5 [reset=1]
python -m gumroad_sandbox state
"""

import argparse
import json
import logging
import os
import signal
import sys
import threading

import requests

from .server import SandboxServer

DEFAULT_BASE_URL = "http://127.0.0.1:8765"


def serve(args):
    sandbox = SandboxServer(
        host=args.host,
        port=args.port,
        seed=args.seed,
        sales=args.sales,
        start_date=args.start_date,
        end_date=args.end_date,
        allow_loopback_post_urls=args.allow_loopback_post_urls,
        faults={"latency_seconds": args.latency} if args.latency else None,
    )
    sandbox.start()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if args.state_file:
        # Lets scripts that started the sandbox in the background find it.
        with open(args.state_file, "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "base_url": sandbox.base_url,
                    "token": sandbox.token,
                    "root_url": sandbox.root_url,
                    "pid": os.getpid(),
                },
                handle,
            )
    sys.stdout.write(f"Gumroad sandbox listening: {sandbox.base_url}\n")
    sys.stdout.flush()
    sys.stdout.write(f"Access token: {sandbox.token}\n")
    sys.stdout.flush()
    sys.stdout.write(f"Control endpoints: {sandbox.root_url}/_sandbox/state\n")
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()
        if args.state_file and os.path.exists(args.state_file):
            os.remove(args.state_file)
    return 0


def control_call(args, method, path, payload=None):
    root = args.base_url.rstrip("/")
    root = root.removesuffix("/v2")
    response = requests.request(method, root + path, json=payload, timeout=30)
    try:
        data = response.json()
    except ValueError:
        sys.stdout.write(response.text + "\n")
        return 1
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return 0 if data.get("ok") else 1


def ping(args):
    payload = {
        "resource": args.resource,
        "sale_id": args.sale_id,
        "subscription_id": args.subscription_id,
        "test": args.test,
    }
    if args.url:
        payload["url"] = args.url
    return control_call(args, "POST", "/_sandbox/ping", payload)


def sale_action(name):
    def run(args):
        payload = {"sale_id": args.sale_id}
        if getattr(args, "amount_cents", None) is not None:
            payload["amount_cents"] = args.amount_cents
        return control_call(args, "POST", f"/_sandbox/{name}", payload)

    return run


ADD_SALE_OPTIONS = (
    "product_id",
    "email",
    "affiliate_email",
    "affiliate_credit_cents",
    "payment_processor",
    "processor_fee_cents",
    "shipping_cents",
    "tip_cents",
    "seller_tax_cents",
    "gumroad_tax_cents",
)


def add_sale(args):
    payload = {
        name: getattr(args, name)
        for name in ADD_SALE_OPTIONS
        if getattr(args, name) not in (None, "")
    }
    if args.preorder:
        payload["preorder"] = True
    return control_call(args, "POST", "/_sandbox/sales", payload)


def faults(args):
    settings = dict(item.split("=", 1) for item in args.settings)
    return control_call(args, "POST", "/_sandbox/faults", settings)


def state(args):
    return control_call(args, "GET", "/_sandbox/state")


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m gumroad_sandbox")
    commands = parser.add_subparsers(dest="command", required=True)

    serve_parser = commands.add_parser("serve", help="run a sandbox until Ctrl-C")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8765)
    serve_parser.add_argument("--sales", type=int, default=300)
    serve_parser.add_argument("--seed", type=int, default=1)
    serve_parser.add_argument("--start-date", default=None, help="YYYY-MM-DD")
    serve_parser.add_argument("--end-date", default=None, help="YYYY-MM-DD")
    serve_parser.add_argument("--latency", type=float, default=0.0)
    serve_parser.add_argument(
        "--state-file", default=None, help="write base URL, token and pid here (JSON)"
    )
    serve_parser.add_argument("--allow-loopback-post-urls", action="store_true")
    serve_parser.add_argument("-v", "--verbose", action="store_true")
    serve_parser.set_defaults(run=serve)

    def client_parser(name, run, help_text):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--base-url", default=DEFAULT_BASE_URL)
        sub.set_defaults(run=run)
        return sub

    ping_parser = client_parser("ping", ping, "ask a running sandbox to send a ping")
    ping_parser.add_argument("--resource", default="sale")
    ping_parser.add_argument("--sale-id")
    ping_parser.add_argument("--subscription-id")
    ping_parser.add_argument("--url", help="POST here now instead of to subscriptions")
    ping_parser.add_argument("--test", action="store_true")
    for name, endpoint in (
        ("refund", "refund"),
        ("dispute", "dispute"),
        ("win-dispute", "win_dispute"),
        ("release-preorder", "release_preorder"),
    ):
        sub = client_parser(name, sale_action(endpoint), f"{name} a sale")
        sub.add_argument("--sale-id", required=True)
        if name == "refund":
            sub.add_argument("--amount-cents", type=int)
    add_parser = client_parser("add-sale", add_sale, "record a new sale")
    for name in ADD_SALE_OPTIONS:
        flag = "--" + name.replace("_", "-")
        add_parser.add_argument(flag, type=int if name.endswith("_cents") else str)
    add_parser.add_argument(
        "--preorder", action="store_true", help="a pre-order authorization"
    )
    faults_parser = client_parser("faults", faults, "change fault settings")
    faults_parser.add_argument("settings", nargs="*", help="name=value")
    client_parser("state", state, "print the sandbox summary")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO
    )
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
