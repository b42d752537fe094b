"""The sandbox's own control endpoints under /_sandbox/ (not part of Gumroad's API).

They need no token, are never subject to faults, and answer JSON
{"ok": true, ...} or {"ok": false, "error": "..."} with status 400/404.
"""

import json
from urllib.parse import parse_qsl

from .api import Response, rails_json
from .store import SandboxError


def _json(data, status=200):
    return Response(status, rails_json(data), "application/json; charset=utf-8")


def _error(message, status=400):
    return _json({"ok": False, "error": message}, status)


def _arguments(query, body, content_type):
    args = dict(query)
    if body:
        text = body.decode("utf-8", errors="replace")
        if "json" in (content_type or "").lower() or text.lstrip().startswith("{"):
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("The JSON body must be an object.")
            args.update(data)
        else:
            args.update(parse_qsl(text, keep_blank_values=True))
    return args


def _flag(value):
    return str(value).lower() in ("1", "true", "yes", "on")


def _state(sandbox, args):
    return {"ok": True, **sandbox.summary()}


def _get_faults(sandbox, args):
    return {
        "ok": True,
        "faults": sandbox.faults.settings(),
        "faults_injected": dict(sandbox.faults_injected),
    }


def _set_faults(sandbox, args):
    settings = {key: value for key, value in args.items() if key != "reset"}
    if _flag(args.get("reset", "")):
        sandbox.faults.configure(**settings)
    else:
        sandbox.faults.update(**settings)
    return _get_faults(sandbox, args)


def _reset_faults(sandbox, args):
    sandbox.faults.reset()
    return _get_faults(sandbox, args)


INTEGER_OPTIONS = (
    "quantity",
    "pay_what_you_want",
    "listed_amount_cents",
    "affiliate_credit_cents",
    "processor_fee_cents",
    "shipping_cents",
    "tip_cents",
    "seller_tax_cents",
    "gumroad_tax_cents",
)


def _add_sale(sandbox, args):
    options = dict(args)
    for name in INTEGER_OPTIONS:
        if options.get(name) not in (None, ""):
            options[name] = int(options[name])
    for name in ("test", "preorder", "can_contact", "buyer_currency"):
        if name in options:
            options[name] = _flag(options[name])
    return {"ok": True, "sale": sandbox.add_sale(**options)}


def _release_preorder(sandbox, args):
    return {"ok": True, "sale": sandbox.release_preorder(args["sale_id"])}


def _refund(sandbox, args):
    amount = args.get("amount_cents")
    amount = int(amount) if amount not in (None, "") else None
    return {"ok": True, "sale": sandbox.refund(args["sale_id"], amount)}


def _dispute(sandbox, args):
    return {"ok": True, "sale": sandbox.dispute(args["sale_id"])}


def _win_dispute(sandbox, args):
    return {"ok": True, "sale": sandbox.win_dispute(args["sale_id"])}


def _cancel_subscription(sandbox, args):
    subscriber = sandbox.cancel_subscription(
        args["subscription_id"],
        by=args.get("by", "buyer"),
        immediately=_flag(args.get("immediately", "")),
    )
    return {"ok": True, "subscriber": subscriber}


def _balance(sandbox, args):
    return {"ok": True, **sandbox.balance()}


def _pay_out(sandbox, args):
    return {"ok": True, "payout": sandbox.pay_out()}


def _ping(sandbox, args):
    resource = args.get("resource") or args.get("resource_name") or "sale"
    sale_id = args.get("sale_id") or None
    subscription_id = args.get("subscription_id") or None
    test = _flag(args.get("test", ""))
    if args.get("url"):
        status = sandbox.send_ping(
            args["url"], resource, sale_id, subscription_id, test=test
        )
        return {"ok": True, "status": status}
    queued = sandbox.resend_ping(resource, sale_id, subscription_id)
    return {"ok": True, "queued": queued, "urls": sandbox.ping_urls(resource)}


def _ping_body(sandbox, args):
    body = sandbox.ping_body(
        args.get("resource") or "sale",
        args.get("sale_id") or None,
        args.get("subscription_id") or None,
        test=_flag(args.get("test", "")),
    )
    return Response(200, body, "application/x-www-form-urlencoded")


def _pings(sandbox, args):
    return {
        "ok": True,
        "pings": [
            {
                "url": record.url,
                "status": record.status,
                "attempt": record.attempt,
                "body": record.body.decode("ascii"),
            }
            for record in list(sandbox.pings_sent)
        ],
    }


ENDPOINTS = {
    ("GET", "/_sandbox/state"): _state,
    ("GET", "/_sandbox/faults"): _get_faults,
    ("POST", "/_sandbox/faults"): _set_faults,
    ("POST", "/_sandbox/faults/reset"): _reset_faults,
    ("POST", "/_sandbox/sales"): _add_sale,
    ("POST", "/_sandbox/add_sale"): _add_sale,
    ("POST", "/_sandbox/release_preorder"): _release_preorder,
    ("POST", "/_sandbox/refund"): _refund,
    ("POST", "/_sandbox/dispute"): _dispute,
    ("POST", "/_sandbox/win_dispute"): _win_dispute,
    ("POST", "/_sandbox/cancel_subscription"): _cancel_subscription,
    ("GET", "/_sandbox/balance"): _balance,
    ("POST", "/_sandbox/payout"): _pay_out,
    ("POST", "/_sandbox/ping"): _ping,
    ("GET", "/_sandbox/ping_body"): _ping_body,
    ("GET", "/_sandbox/pings"): _pings,
}


def handle(sandbox, method, path, query, body, content_type):
    endpoint = ENDPOINTS.get((method, path.rstrip("/")))
    if endpoint is None:
        return _error(f"No sandbox endpoint {method} {path}.", 404)
    try:
        args = _arguments(query, body, content_type)
        result = endpoint(sandbox, args)
    except SandboxError as error:
        return _error(error.message)
    except KeyError as error:
        return _error(f"Missing or unknown {error.args[0]!r}.")
    except (ValueError, TypeError) as error:
        return _error(str(error))
    if isinstance(result, Response):
        return result
    return _json(result)
