import logging

from odoo import SUPERUSER_ID, http
from odoo.http import request

from .. import const

_logger = logging.getLogger(__name__)


class GumroadPingDispatcher(http.HttpDispatcher):
    """Odoo's `type="http"` dispatch, minus the parsing of the form body.

    Odoo's HTTP dispatcher decodes every form body into the handler's arguments
    before the handler runs, which consumes the request stream. A ping is stored as
    the bytes Gumroad sent and parsed once by the connector, so that decoding was a
    third of what acknowledging a ping cost in Python, and re-encoding the form to
    store it could differ from the sent bytes. Subclassing registers the routing type
    (`Dispatcher.__init_subclass__`); everything else (the max_content_length and
    session handling of `pre_dispatch`, the error responses) is Odoo's.
    """

    routing_type = "gumroad_ping"

    def dispatch(self, endpoint, args):
        # Only the URL's own arguments: the body stays unread for the handler. The
        # route has no CSRF token to check (csrf=False: Gumroad cannot send one).
        self.request.params = dict(args)
        return self.request.registry["ir.http"]._dispatch(endpoint)


class GumroadController(http.Controller):
    @http.route(
        "/gumroad/webhook/<string:secret>",
        type=GumroadPingDispatcher.routing_type,
        # No user: the secret in the URL is the authentication. The public user's
        # look-up (a query per request) would buy nothing, as storing runs as the
        # superuser.
        auth="none",
        readonly=False,  # it stores the ping: never on a read-only replica
        methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
        csrf=False,
        save_session=False,
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
        # The bytes as sent, whatever the content type (the dispatcher left the body
        # unparsed): what Gumroad sent is what the ping's record keeps.
        raw = httprequest.get_data(cache=False, parse_form_data=False)
        if len(raw) > const.WEBHOOK_MAX_BODY_BYTES:
            return request.make_response("Payload too large", status=413)
        env["gumroad.webhook.event"]._insert_ping(
            target, raw, httprequest.headers.get("Content-Type")
        )
        return request.make_response("OK", status=200)
