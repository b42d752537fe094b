"""Gumroad sandbox: a loopback HTTP server that imitates Gumroad's API v2 and pings.

Pure Python (standard library + requests); it never imports odoo nor the gumroad
client, so tests of the client against it check two independent readings of the
facts in Gumroad's source.

API v2 (paths under /v2 or /api/v2, optional .json suffix; token as
`Authorization: Bearer`, `access_token` or `bearer_token`):
GET /user; GET /products, GET|DELETE /products/:id, PUT /products/:id/enable|disable;
GET /products/:id/subscribers, GET /subscribers/:id; GET /sales, GET /sales/:id,
PUT /sales/:id/refund, PUT /sales/:id/mark_as_shipped, POST /sales/:id/resend_receipt;
POST /licenses/verify, PUT /licenses/enable|disable; PUT|GET /resource_subscriptions,
DELETE /resource_subscriptions/:id; GET /payouts, GET /payouts/upcoming,
GET /payouts/:id.

Control endpoints (the sandbox's own, no token, never faulted; JSON or form bodies;
answers {"ok": true, ...} or {"ok": false, "error": ...}):
  GET  /_sandbox/state                 summary: counts, total price/net USD cents,
                                       request count, faults, pings
  GET  /_sandbox/faults                current fault settings and counts
  POST /_sandbox/faults                update settings, e.g. rate_limit_every=5
                                       (reset=1 turns the others off first)
  POST /_sandbox/faults/reset          every fault off
  POST /_sandbox/sales                 add_sale(**body) and its `sale` ping (also
                                       /_sandbox/add_sale); money options, USD cents:
                                       affiliate_email + affiliate_credit_cents,
                                       payment_processor (paypal | stripe_connect) +
                                       processor_fee_cents, shipping_cents (physical
                                       product), tip_cents, seller_tax_cents,
                                       gumroad_tax_cents, preorder=1 (an authorization),
                                       buyer_currency=1 (charged in the buyer's
                                       currency: buyer_presentment, non-USD product)
  POST /_sandbox/release_preorder      sale_id: charge a pre-order authorization, a
                                       new listed sale with preorder_authorization_time
  POST /_sandbox/refund                sale_id, amount_cents (optional)
  POST /_sandbox/dispute               sale_id
  POST /_sandbox/win_dispute           sale_id
  POST /_sandbox/cancel_subscription   subscription_id, by, immediately
  GET  /_sandbox/balance               the seller's balance in USD cents by Gumroad's
                                       rules (G1-G8): gross, refunded, fees,
                                       affiliate, retained, earned, paid_out, credits,
                                       balance; direct_sales (what reached the
                                       seller's own PayPal / Stripe) and its direct_*
                                       parts
  POST /_sandbox/payout                pay the whole balance out now (a completed
                                       payout listing its sales)
  POST /_sandbox/ping                  resource, sale_id | subscription_id, test;
                                       with url: one POST there now (returns status),
                                       else queued to every registered subscription
  GET  /_sandbox/ping_body             resource, sale_id | subscription_id: the body
  GET  /_sandbox/pings                 every ping POST made (url, status, attempt)
"""

from .faults import Faults
from .pings import PingRecord, encode_form
from .server import DEFAULT_TOKENS, LoggedRequest, SandboxServer
from .store import SandboxError

__all__ = [
    "DEFAULT_TOKENS",
    "Faults",
    "LoggedRequest",
    "PingRecord",
    "SandboxError",
    "SandboxServer",
    "encode_form",
]
