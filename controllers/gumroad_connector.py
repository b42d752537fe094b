import logging
from urllib.parse import urlencode

from odoo import SUPERUSER_ID, http
from odoo.http import request

from .. import const

_logger = logging.getLogger(__name__)


class GumroadController(http.Controller):
    @http.route(
        "/gumroad/webhook/<string:secret>",
        type="http",
        # No user: the secret in the URL is the authentication. The public user's
        # look-up (a query per request) would buy nothing, as storing runs as the
        # superuser.
        auth="none",
        readonly=False,  # it stores the ping: never on a read-only replica
        methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
        csrf=False,
        save_session=False,
        # Werkzeug answers 413 itself when a form body exceeds this while being parsed.
        max_content_length=const.WEBHOOK_MAX_BODY_BYTES,
    )
    def gumroad_webhook(self, secret, **_kwargs):
        """Store a Gumroad ping and answer at once; processing re-reads Gumroad later.

        Gumroad does not sign pings: the secret in the URL identifies the connector, and
        the processing step trusts only what the API says about the sale.
        """
        env = request.env(user=SUPERUSER_ID, su=True)
        target = env["gumroad.account"]._find_webhook_target(secret)
        if not target:
            return request.make_response("Not found", status=404)
        httprequest = request.httprequest
        if httprequest.method != "POST":
            return request.make_response(
                "Method not allowed", status=405, headers=[("Allow", "POST")]
            )
        length = httprequest.content_length
        if length is not None and length > const.WEBHOOK_MAX_BODY_BYTES:
            return request.make_response("Payload too large", status=413)
        if httprequest.mimetype == "application/x-www-form-urlencoded":
            # Odoo parsed the form before this handler (the stream is consumed):
            # re-encode the fields in their original order, which is the body Gumroad
            # sent.
            raw = urlencode(list(httprequest.form.items(multi=True))).encode()
        else:
            raw = httprequest.get_data(cache=False)
            if len(raw) > const.WEBHOOK_MAX_BODY_BYTES:
                return request.make_response("Payload too large", status=413)
        env["gumroad.webhook.event"]._insert_ping(
            target, raw, httprequest.headers.get("Content-Type")
        )
        return request.make_response("OK", status=200)
