import logging

from odoo import fields, models
from odoo.exceptions import UserError

from ..gumroad import GumroadError, InvalidRequestError, NotFoundError
from ..gumroad.licenses import (
    LICENSE_VERIFY_STATES,
    gumroad_message,
    refund_rule_applies,
)

_logger = logging.getLogger(__name__)


class GumroadSaleLicense(models.AbstractModel):
    """The licence key of a Gumroad sale: verify, disable and enable it in Gumroad,
    and the connector's "disable the licence on a full refund or lost dispute" option.
    Mixed into `gumroad.sale`, whose fields it uses.
    """

    _name = "gumroad.sale.license"
    _description = "Gumroad Sale Licence"

    # === ACTION METHODS === #

    def action_verify_license(self):
        """Ask Gumroad for the licence's status and uses, without counting a use."""
        self.ensure_one()
        self.check_access("write")
        client = self._license_client()
        try:
            answer = client.verify_license(
                self.gumroad_product_id, self.license_key, increment_uses_count=False
            )
        except GumroadError as err:
            message = gumroad_message(err)
            status = LICENSE_VERIFY_STATES.get(message)
            if not isinstance(err, NotFoundError) or not status:
                raise UserError(
                    self.env._(
                        "Gumroad could not verify the licence of sale %(ref)s: "
                        "%(reason)s",
                        ref=self.display_ref,
                        reason=str(err),
                    )
                ) from err
            # Gumroad refuses the key: that is the answer, not a failure.
            self.write(self._license_answer_vals(status))
            return self.account_id._notify(
                self.env._("Gumroad: %(message)s", message=message), "warning"
            )
        self.write(self._license_answer_vals("active", answer))
        return self.account_id._notify(
            self.env._(
                "The licence is active in Gumroad; it has been used %(uses)s times.",
                uses=self.license_uses,
            ),
            "success",
        )

    def action_disable_license(self):
        """Disable the licence key in Gumroad: the buyer's software stops accepting
        it."""
        self.check_access("write")
        return self._set_license_in_gumroad(enable=False)

    def action_enable_license(self):
        """Enable the licence key in Gumroad again."""
        self.check_access("write")
        return self._set_license_in_gumroad(enable=True)

    # === BUSINESS METHODS: licences === #

    def _set_license_in_gumroad(self, enable):
        """PUT /licenses/enable or /disable for this sale, then record and log it."""
        self.ensure_one()
        client = self._license_client()
        call = client.enable_license if enable else client.disable_license
        try:
            answer = call(self.gumroad_product_id, self.license_key)
        except GumroadError as err:
            if enable:
                failure = self.env._(
                    "Gumroad did not enable the licence of sale %(ref)s: %(reason)s",
                    ref=self.display_ref,
                    reason=str(err),
                )
            else:
                failure = self.env._(
                    "Gumroad did not disable the licence of sale %(ref)s: %(reason)s",
                    ref=self.display_ref,
                    reason=str(err),
                )
            raise UserError(failure) from err
        self._license_changed_by_hand("active" if enable else "disabled", answer)
        if enable:
            message = self.env._("Licence enabled in Gumroad.")
        else:
            message = self.env._("Licence disabled in Gumroad.")
        self._log_license_note(message)
        return self.account_id._notify(message, "success")

    def _license_client(self):
        """The connector's client, once the user may change this sale.

        The access check comes first: Gumroad's side cannot be rolled back when the
        write fails afterwards.
        """
        self.ensure_one()
        if not self.license_key:
            raise UserError(
                self.env._("Sale %(ref)s has no licence key.", ref=self.display_ref)
            )
        self.check_access("write")
        return self.account_id._gumroad_client()

    def _license_answer_vals(self, status, answer=None):
        """Values recording Gumroad's answer about the licence of this sale."""
        self.ensure_one()
        vals = {"license_status": status, "license_checked_at": fields.Datetime.now()}
        uses = (answer or {}).get("uses")
        if isinstance(uses, int) and not isinstance(uses, bool):
            vals["license_uses"] = uses
        if status == "disabled" and self._license_refund_rule_applies():
            # What the option wanted is done, however it happened.
            vals.update(license_refund_handled=True, license_error=False)
        return vals

    def _license_changed_by_hand(self, status, answer):
        vals = self._license_answer_vals(status, answer)
        if self._license_refund_rule_applies():
            # A person decided after the refund or dispute: the option must not undo
            # it at the next import.
            vals.update(license_refund_handled=True, license_error=False)
        self.write(vals)

    def _log_license_note(self, message):
        """Keep a trace on the invoice: the sale itself has no chatter."""
        if self.invoice_id:
            self.invoice_id._message_log(
                body=self.env._(
                    "%(ref)s: %(message)s", ref=self.display_ref, message=message
                )
            )

    def _license_refund_rule_applies(self):
        """Whether the connector's "disable the licence" option concerns this sale."""
        self.ensure_one()
        return refund_rule_applies(
            self.license_key,
            self.refund_state,
            self.dispute_state,
            self.subscription_gumroad_id,
            self.raw_json,
        )

    def _disable_licenses_on_refund(self, account):
        """Apply the connector's "disable the licence" option to these booked sales.

        Each licence is disabled once: a sale whose licence Gumroad already shows as
        disabled, or that someone handled by hand, is only marked. A failure never
        raises (the booking stands); it is recorded on the sale for "Disable licence"
        to retry, and an error about the token rather than the licence ends the run.
        """
        if not account.disable_license_on_refund:
            return
        due = self.filtered(
            lambda s: not s.license_refund_handled and s._license_refund_rule_applies()
        )
        if not due:
            return
        already = due.filtered(lambda s: s.license_status == "disabled")
        already.write({"license_refund_handled": True, "license_error": False})
        due -= already
        if not due:
            return
        try:
            client = account._gumroad_client()
        except UserError as err:
            due._record_license_failure(str(err))
            return
        for index, sale in enumerate(due):
            try:
                answer = client.disable_license(
                    sale.gumroad_product_id, sale.license_key
                )
            except GumroadError as err:
                _logger.warning(
                    "Gumroad sale %s: licence not disabled after refund: %s",
                    sale.gumroad_id,
                    err,
                )
                if isinstance(err, NotFoundError | InvalidRequestError):
                    sale._record_license_failure(str(err))
                    continue
                # The token, the rate limit or the network: the next ones would fail
                # the same way.
                due[index:]._record_license_failure(str(err))
                return
            sale.write(sale._license_answer_vals("disabled", answer))
            sale._log_license_note(
                self.env._(
                    "Licence disabled in Gumroad because the sale was %(event)s.",
                    event=sale._license_refund_event(),
                )
            )

    def _license_refund_event(self):
        self.ensure_one()
        if self.refund_state == "full":
            return self.env._("fully refunded")
        return self.env._("disputed (chargeback)")

    def _record_license_failure(self, reason):
        for sale in self:
            sale.license_error = self.env._(
                "The licence was not disabled although the sale was %(event)s; "
                "press Disable licence to try again. %(reason)s",
                event=sale._license_refund_event(),
                reason=reason,
            )
