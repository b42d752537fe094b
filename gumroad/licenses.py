"""What Gumroad's licence answers mean, and when the "disable the licence on a refund"
option applies to a sale. Plain decisions, no Odoo import.
"""

import json

# Refusals of POST /licenses/verify that describe the licence, not a failed check
# (licenses_controller.rb:86-92): the licence status they mean.
LICENSE_VERIFY_STATES = {
    "This license key has been disabled.": "disabled",
    "Access to the purchase associated with this license has expired.": "expired",
}


def gumroad_message(err) -> str | None:
    """Gumroad's own `message` (or `error`) in the JSON body of a failed request."""
    try:
        body = json.loads(getattr(err, "body", None) or "")
    except (TypeError, ValueError):
        return None
    if not isinstance(body, dict):
        return None
    message = body.get("message") or body.get("error")
    return message if isinstance(message, str) else None


def refund_rule_applies(
    license_key, refund_state, dispute_state, subscription_id, raw_sale
) -> bool:
    """Whether the "disable the licence" option concerns a sale: it has a licence and
    is fully refunded or charged back (dispute not won).

    A membership's charges share one licence: a refunded charge of a running
    membership must not lock the subscriber out. Once it has ended, it applies.
    """
    if not license_key:
        return False
    if refund_state != "full" and dispute_state != "open":
        return False
    return not subscription_id or (raw_sale or {}).get("dead") is True
