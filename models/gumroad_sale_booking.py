import logging
from collections import Counter, defaultdict
from dataclasses import fields as dataclass_fields
from datetime import timedelta
from decimal import Decimal

import psycopg2
from psycopg2 import errors as pg_errors

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.fields import Command
from odoo.tools import SQL, float_compare

from .. import const
from ..gumroad import (
    MalformedPayloadError,
    parse_sale,
    plan_adjustments,
    profiling,
    sale_target,
)
from ..gumroad.balance import SaleMoney, plan_money, sale_money
from ..gumroad.importing import (
    clamp_range,
    payload_fingerprint,
    plan_writes,
    window_days,
)
from ..gumroad.lines import invoice_lines

_logger = logging.getLogger(__name__)


class BatchRetry(Exception):
    """A concurrent booker changed the batch's rows after this transaction began."""


# Database errors that mean "a concurrent transaction touched the same rows": retry the
# batch in a fresh transaction.
CONCURRENCY_ERRORS = (
    BatchRetry,
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
    pg_errors.UniqueViolation,
    pg_errors.LockNotAvailable,
)
# SaleMoney's fields, stored on gumroad.sale as money_<name>.
MONEY_FIELDS = tuple(f.name for f in dataclass_fields(SaleMoney))
COUNT_KEYS = ("read", "new", "changed", "unchanged", "skipped", "failed")


class GumroadSaleBooking(models.AbstractModel):
    """How Gumroad sale payloads become sale rows, invoices, credit notes and Gumroad
    balance entries: the one booking path of every import, ping and retry. Mixed into
    `gumroad.sale`; the decisions themselves are plain Python in `gumroad/`.
    """

    _name = "gumroad.sale.booking"
    _description = "Gumroad Sale Booking"

    # === BUSINESS METHODS: import === #

    @api.model
    def _sales_pages(self, client, date_from, date_to):
        """Pages of sales of [date_from, date_to], fetched concurrently across date
        windows (the wizard's preview; imports go through `gumroad.import`).
        """
        span = clamp_range(
            date_from,
            date_to,
            const.GUMROAD_FIRST_DAY,
            fields.Datetime.now().date() + timedelta(days=1),
        )
        if not span:
            return iter(())
        return client.iter_sales_windows(
            *span,
            window_days=window_days(
                *span, const.FETCH_WORKERS, const.SALES_WINDOW_MIN_DAYS
            ),
            max_workers=const.FETCH_WORKERS,
        )

    @api.model
    def _preview_payloads(self, account, payloads):
        """Count what booking these payloads would do, without writing anything."""
        counts = Counter(dict.fromkeys(COUNT_KEYS, 0), read=len(payloads))
        parsed, failures = self._parse_payloads(payloads)
        counts["failed"] += len(failures)
        rows = self._rows_by_id(account, list(parsed))
        sales = [sale for sale, _payload in parsed.values()]
        currencies = self._product_currencies(account, sales)
        for sale_id, (sale, payload) in parsed.items():
            row = rows.get(sale_id)
            target = (
                row._target_for(account, sale, currencies)
                if row
                else self._target_new(account, sale, currencies)
            )
            if not row:
                counts[
                    "skipped" if target.state in const.UNBOOKED_STATES else "new"
                ] += 1
            elif row._is_unchanged(sale, payload, target):
                counts["unchanged"] += 1
            else:
                counts["changed"] += 1
        return dict(counts)

    @api.model
    def _parse_payloads(self, payloads):
        parsed, failures = {}, {}
        for payload in payloads:
            try:
                sale = parse_sale(payload)
            except MalformedPayloadError as err:
                sale_id = payload.get("id") if isinstance(payload, dict) else None
                if isinstance(sale_id, str) and sale_id:
                    failures[sale_id] = (str(err), payload)
                else:
                    _logger.warning("Gumroad sale without a usable id skipped: %s", err)
                    failures[f"?{len(failures)}"] = (str(err), None)
                continue
            parsed[sale.id] = (sale, payload)
        return parsed, failures

    @api.model
    def _rows_by_id(self, account, gumroad_ids):
        if not gumroad_ids:
            return {}
        rows = self.search_fetch(
            [("account_id", "=", account.id), ("gumroad_id", "in", gumroad_ids)],
            [
                "gumroad_id",
                "state",
                "fingerprint",
                "amount_invoiced",
                "amount_credited",
                "amount_reinvoiced",
                "booking_mode",
                "booking_currency_id",
                "invoice_id",
            ],
        )
        return {row.gumroad_id: row for row in rows}

    @api.model
    def _claim_rows(self, account, gumroad_ids):
        """Make sure one row exists per sale id, in this transaction, before booking.

        Why it is safe, in Odoo's REPEATABLE READ transactions: the INSERT ... ON
        CONFLICT DO NOTHING of a row that a racer inserted and has not committed yet
        waits for the racer; if the racer commits, or had committed after this
        transaction's snapshot, PostgreSQL raises a serialization failure instead of
        silently skipping a row this snapshot cannot see. The caller retries the batch
        in a fresh transaction, which sees the racer's row. Rows inserted here are
        visible to this transaction at once, whatever ran before: no booking ever
        depends on a row another connection inserted after the snapshot.
        A claimed row stays "To book" until its booking completes in the same
        transaction, so a crash in between leaves nothing half done.
        """
        if not gumroad_ids:
            return
        self.flush_model()
        usd = self.env.ref("base.USD").id
        uid = self.env.uid
        values = SQL(", ").join(
            SQL(
                "(%s, %s, %s, 'pending', 1, 'none', 'none', %s, %s, %s, "
                "now() at time zone 'utc', now() at time zone 'utc')",
                account.id,
                account.company_id.id,
                gumroad_id,
                usd,
                uid,
                uid,
            )
            for gumroad_id in gumroad_ids
        )
        self.env.cr.execute(
            SQL(
                "INSERT INTO gumroad_sale (account_id, company_id, gumroad_id, "
                "state, quantity, refund_state, dispute_state, usd_currency_id, "
                "create_uid, write_uid, create_date, write_date) VALUES %s "
                "ON CONFLICT (account_id, gumroad_id) DO NOTHING",
                values,
            ),
            # A racer's row ends in a serialization failure, which the caller
            # retries: not a bad query for the server log.
            log_exceptions=False,
        )

    def _lock_rows(self):
        """Wait for, then hold, the row locks of these sales until the transaction ends.

        Unlike lock_for_update (SKIP LOCKED), this waits: a concurrent booker finishes
        first, and in REPEATABLE READ the wait ends in a serialization failure when it
        changed the rows, which the caller turns into a retry with fresh data.
        """
        if self:
            self.env.cr.execute(
                SQL(
                    "SELECT id FROM gumroad_sale WHERE id IN %s ORDER BY id FOR UPDATE",
                    tuple(self.ids),
                ),
                log_exceptions=False,  # the expected serialization failure, retried
            )

    @api.model
    def _book_payloads(self, account, payloads):
        """Record and book a batch of raw sale payloads; the core shared by every path.

        :return: Counter of new, changed, unchanged, skipped, failed
        """
        booker = self
        if not account.track_booking_history:
            # As Odoo's own import does by default: no creation message, follower
            # or tracking value per move (the bench's floor books without them too).
            booker = self.with_context(tracking_disable=True)
        with profiling.phase("booking, other"):
            return booker._book_payloads_phases(account, payloads)

    @api.model
    def _book_payloads_phases(self, account, payloads):
        counts = Counter()
        with profiling.phase("parse"):
            parsed, failures = self._parse_payloads(payloads)
        ids = sorted(i for i in [*parsed, *failures] if not i.startswith("?"))
        counts["failed"] = len(failures)
        with profiling.phase("claim and lock"):
            self._claim_rows(account, ids)
            rows = self._rows_by_id(account, ids)
            missing = [i for i in ids if i not in rows]
            if missing:
                # Cannot happen in REPEATABLE READ (see _claim_rows); in READ
                # COMMITTED a row deleted meanwhile: start afresh.
                raise BatchRetry(f"{len(missing)} sale rows vanished after their claim")
            self.browse(sorted(row.id for row in rows.values()))._lock_rows()
        # Never booked yet: "new" in the counts, and never "unchanged".
        created_ids = {i for i, row in rows.items() if row.state == "pending"}

        for sale_id, (message, payload) in failures.items():
            if sale_id in rows:
                rows[sale_id].write(
                    {
                        "state": "error",
                        "error_message": message,
                        "raw_json": account._sale_payload_to_store(payload),
                    }
                )

        to_book = []
        sales = [sale for sale, _payload in parsed.values()]
        with profiling.phase("partner and product lookup"):
            currencies = self._product_currencies(account, sales)
        for sale_id, (sale, payload) in parsed.items():
            row = rows[sale_id]
            target = row._target_for(account, sale, currencies)
            if sale_id not in created_ids and row._is_unchanged(sale, payload, target):
                counts["unchanged"] += 1
                continue
            to_book.append((row, sale, payload, target))
        if not to_book:
            return counts

        self._book_items_isolating_failures(account, to_book)
        # Once the moves are written: Gumroad's answer never changes what was booked.
        with profiling.phase("licences"):
            self.browse([item[0].id for item in to_book])._disable_licenses_on_refund(
                account
            )
        for row, _sale, _payload, target in to_book:
            if row.state == "error":
                counts["failed"] += 1
            elif row.gumroad_id in created_ids:
                counts[
                    "skipped" if target.state in const.UNBOOKED_STATES else "new"
                ] += 1
            else:
                counts["changed"] += 1
        return counts

    @api.model
    def _book_items_isolating_failures(self, account, to_book):
        """Book the (row, sale, payload, target) items together, in one savepoint.

        When the batch fails, book the items one by one: a sale that cannot be booked
        is marked as an error, the others still go through. Concurrency errors are
        raised as they are, for the caller to retry the batch.
        """
        with profiling.phase("partner and product lookup"):
            context = self._booking_context(account, [item[1] for item in to_book])
        try:
            with self.env.cr.savepoint():
                self._book_items(account, to_book, context)
        except CONCURRENCY_ERRORS:
            raise
        except (UserError, ValidationError, ValueError, psycopg2.Error) as batch_error:
            # Isolate the sales that cannot be booked; the others still go through.
            _logger.info(
                "Gumroad batch booking failed (%s); booking sale by sale", batch_error
            )
            for item in to_book:
                try:
                    with self.env.cr.savepoint():
                        self._book_items(account, [item], context)
                except CONCURRENCY_ERRORS:
                    raise
                except (UserError, ValidationError, ValueError, psycopg2.Error) as err:
                    row, sale, payload, _target = item
                    row.write(
                        {
                            **row._facts_vals(sale, payload, context),
                            "state": "error",
                            "error_message": self.env._(
                                "Sale %(sale)s (order %(order)s) could not be booked: "
                                "%(reason)s",
                                sale=sale.id,
                                order=sale.order_id,
                                reason=getattr(err, "args", [str(err)])[0] or str(err),
                            ),
                            "fingerprint": False,
                        }
                    )

    def _target_for(self, account, sale, product_currencies):
        """The target amounts of a recorded sale, in the mode it was first booked in."""
        self.ensure_one()
        return sale_target(
            sale,
            mode=self.booking_mode or account.currency_mode,
            listed_currency=product_currencies.get(sale.product_id),
        )

    @api.model
    def _target_new(self, account, sale, product_currencies):
        return sale_target(
            sale,
            mode=account.currency_mode,
            listed_currency=product_currencies.get(sale.product_id),
        )

    @api.model
    def _product_currencies(self, account, sales):
        """The listed currency of the products whose sales do not give one (one query).

        Sales carry `currency` only in Gumroad's newest serializer; otherwise the
        product's own currency, kept by the product import, is the listed currency.
        """
        wanted = {sale.product_id for sale in sales if not sale.listed_currency}
        if not wanted:
            return {}
        templates = (
            self.env["product.template"]
            .with_context(active_test=False)
            .search_fetch(
                [
                    ("gumroad_account_id", "=", account.id),
                    ("gumroad_product_id", "in", list(wanted)),
                ],
                ["gumroad_product_id", "gumroad_currency"],
            )
        )
        return {t.gumroad_product_id: t.gumroad_currency for t in templates}

    def _is_unchanged(self, sale, payload, target):
        self.ensure_one()
        if self.state in ("pending", "error"):
            return False
        if self.fingerprint != payload_fingerprint(payload):
            return False
        return not self._invoice_plan(target, sale) and not self._money_plan(
            target, sale
        )

    def _mode(self, account, sale=None):
        """The accounting mode of this sale: the one it was first booked in, else the
        connector's (daily summaries apply to sales sold from their start day)."""
        self.ensure_one()
        if self.accounting_mode:
            return self.accounting_mode
        mode = account.accounting_mode
        day = sale.sale_date if sale else self.sale_date
        if (
            mode == "summary"
            and account.summary_from
            and day
            and (day < account.summary_from)
        ):
            return account.summary_previous_mode or "invoices"
        return mode

    def _invoice_plan(self, target, sale):
        """Invoices and credit notes still to book (none outside "invoices" mode)."""
        self.ensure_one()
        if self._mode(self.account_id, sale) not in ("invoices", "summary"):
            return []
        return plan_adjustments(
            target,
            invoiced=self._dec(self.amount_invoiced),
            credited=self._dec(self.amount_credited),
            reinvoiced=self._dec(self.amount_reinvoiced),
            sale=sale,
        )

    def _money_plan(self, target, sale):
        """(MoneyMove or None, revenue to settle in the booking currency), or None
        when the Gumroad balance already says what Gumroad says."""
        self.ensure_one()
        booked = self._money_booked()
        money = plan_money(sale_money(sale, booked), booked)
        revenue = target.net_amount - self._dec(self.amount_settled)
        if money is None and not revenue:
            return None
        return money, revenue

    def _money_booked(self):
        """What the sale's balance entries booked so far (gumroad/balance.py)."""
        self.ensure_one()
        return SaleMoney(
            **{name: self._dec(self[f"money_{name}"]) for name in MONEY_FIELDS}
        )

    def _money_booked_vals(self, money, revenue):
        """The sale row's values once `money` (a MoneyMove, or None) and `revenue`
        are booked on top of what it booked so far."""
        self.ensure_one()
        vals = {"amount_settled": self.amount_settled + float(revenue)}
        if money is not None:
            vals.update(
                {
                    f"money_{name}": self[f"money_{name}"] + float(getattr(money, name))
                    for name in MONEY_FIELDS
                }
            )
        return vals

    @staticmethod
    def _dec(value):
        return Decimal(str(value or 0)).quantize(Decimal("0.01"))

    # --- booking helpers ---

    @api.model
    def _booking_context(self, account, sales):
        """Resolve partners, products, countries and currencies of a batch in a few
        queries.
        """
        countries = self.env["res.country"].search_fetch([], ["code", "name"])
        by_code = {c.code.upper(): c for c in countries if c.code}
        by_name = {c.name.lower(): c for c in countries}
        products = self.env["product.template"]._gumroad_templates_for_sales(
            account, sales
        )
        partners = self.env["res.partner"]._gumroad_partners_for_sales(
            account, sales, by_code, by_name
        )
        journal = account.journal_id or self.env["account.journal"].search(
            [("type", "=", "sale"), ("company_id", "=", account.company_id.id)], limit=1
        )
        currencies = {
            c.name: c
            for c in self.env["res.currency"]
            .with_context(active_test=False)
            .search_fetch([], ["name", "active"])
        }
        income_by_product = {}

        def income_account(sale):
            """Income account of a sale booked without invoice."""
            if account.income_account_id:
                return account.income_account_id
            template = products.get(sale.product_id)
            if template not in income_by_product:
                accounts = (
                    template.with_company(account.company_id)._get_product_accounts()
                    if template
                    else {}
                )
                income_by_product[template] = (
                    accounts.get("income") or journal.default_account_id
                )
            return income_by_product[template]

        return {
            "countries_by_code": by_code,
            "countries_by_name": by_name,
            "products": products,
            "partners": partners,
            "journal": journal,
            "currencies": currencies,
            "today": fields.Date.context_today(self),
            "balance_journal": account._balance_journal(),
            "fee_account": account._fee_account(),
            "income_account": income_account,
            "open_days": {},
        }

    def _facts_vals(self, sale, payload, context):
        country = None
        if sale.country_iso2:
            country = context["countries_by_code"].get(sale.country_iso2.upper())
        if not country and sale.country:
            country = context["countries_by_name"].get(sale.country.lower())
        template = context["products"].get(sale.product_id)
        return {
            "order_id": sale.order_id or 0,
            "sale_datetime": sale.created_at.replace(tzinfo=None),
            "sale_date": sale.sale_date,
            "gumroad_product_id": sale.product_id,
            "product_name": sale.product_name,
            "product_tmpl_id": template.id if template else False,
            "buyer_email": sale.email,
            "buyer_name": sale.full_name,
            "buyer_country": sale.country,
            "country_id": country.id if country else False,
            "quantity": sale.quantity,
            "price_usd": float(sale.price_usd),
            "gumroad_fee_usd": float(sale.gumroad_fee_usd),
            "tax_usd": float(sale.tax_usd),
            "shipping_usd": float(sale.shipping_usd),
            "tip_usd": float(sale.tip_usd),
            "tax_label": sale.tax_label,
            "tax_collector": sale.tax_collector,
            "seller_tax_usd": float(sale.seller_tax_usd),
            "gumroad_tax_usd": float(sale.gumroad_tax_usd),
            "refunded_usd": float(sale.usd_refunded),
            "listed_currency": (
                sale.listed_currency or (template and template.gumroad_currency) or ""
            ).upper()
            or False,
            "listed_total": float(sale.listed_total),
            "listed_refunded": float(sale.listed_refunded),
            "refund_state": sale.refund_state,
            "dispute_state": sale.dispute_state,
            "is_gift_sender": sale.is_gift_sender,
            "is_gift_receiver": sale.is_gift_receiver,
            "giftee_email": sale.giftee_email,
            "gifter_email": sale.gifter_email,
            "subscription_gumroad_id": sale.subscription_id,
            "is_renewal": sale.is_recurring_charge,
            "variants": ", ".join(f"{k}: {v}" for k, v in sale.variants.items())
            or False,
            "offer_code": sale.offer_code,
            "affiliate_email": sale.affiliate_email,
            "affiliate_usd": float(sale.affiliate_usd),
            "payment_processor": sale.payment_processor if sale.is_direct else False,
            "processor_fee_usd": float(sale.processor_fee_usd),
            "raw_json": self.account_id._sale_payload_to_store(payload),
            "raw_emptied_at": False,
            "sync_date": fields.Datetime.now(),
            **self._license_facts_vals(sale, payload),
        }

    def _license_facts_vals(self, sale, payload):
        """The licence as the sale payload shows it (purchase.rb:4939-4951).

        A key once seen is kept when a later payload omits it, and a status is only
        overwritten by one Gumroad states.
        """
        if not sale.license_key:
            return {}
        vals = {"license_key": sale.license_key}
        disabled = payload.get("license_disabled")
        if isinstance(disabled, bool):
            if disabled:
                vals["license_status"] = "disabled"
            elif sale.subscription_id and payload.get("dead") is True:
                # What verify answers for a membership that has ended.
                vals["license_status"] = "expired"
            else:
                vals["license_status"] = "active"
        elif not self.license_status:
            vals["license_status"] = "unknown"
        uses = payload.get("license_uses")
        if isinstance(uses, int) and not isinstance(uses, bool):
            vals["license_uses"] = uses
        return vals

    def _payout_line_label(self):
        self.ensure_one()
        return f"{self.display_ref} {self.product_name or ''}".strip()

    @api.model
    def _line_label(self, sale, template=None):
        label = sale.product_name
        details = [f"{k}: {v}" for k, v in sale.variants.items()]
        if sale.offer_code:
            discount = template and template._gumroad_offer_discount(sale.offer_code)
            if not discount and isinstance(sale.raw.get("offer_code"), dict):
                discount = sale.raw["offer_code"].get("displayed_amount_off")
            if discount and isinstance(discount, str):
                details.append(
                    self.env._(
                        "offer code %(code)s: %(discount)s off",
                        code=sale.offer_code,
                        discount=discount,
                    )
                )
            else:
                details.append(self.env._("offer code %(code)s", code=sale.offer_code))
        if details:
            label = f"{label} ({', '.join(details)})"
        return label

    @api.model
    def _book_items(self, account, items, context):
        """Create and post the moves that bring each sale's books to its target:
        invoices and credit notes (in "invoices" mode), then the Gumroad balance
        entries that pay them (or book the revenue, in the other modes).
        """
        invoice_vals, refund_plans, money_plans, row_vals = [], [], [], {}
        context = {**context, "sales": {item[0]: item[1] for item in items}}
        for row, sale, payload, target in items:
            vals = row._facts_vals(sale, payload, context)
            currency = context["currencies"].get(target.currency.upper())
            mode = row._mode(account, sale)
            plan = row._invoice_plan(target, sale)
            money_plan = row._money_plan(target, sale)
            if (plan or money_plan) and (not currency or not currency.active):
                raise UserError(
                    self.env._(
                        "Currency %(code)s is not active in Odoo. Activate it "
                        "(Accounting > Configuration > Currencies) with its rates, "
                        "then retry.",
                        code=target.currency.upper(),
                    )
                )
            partner = self._buyer_partner(
                account,
                sale,
                context,
                # The buyer is the customer of the sale's own moves.
                needed=mode != "summary"
                and bool(plan or (money_plan and mode == "invoices")),
            )
            vals.update(
                state=target.state,
                error_message=False,
                fingerprint=payload_fingerprint(payload),
                partner_id=partner.id if partner else False,
                net_amount=float(target.net_amount),
            )
            if (
                target.state not in const.UNBOOKED_STATES
                or row.invoice_id
                or row.balance_move_ids
            ):
                vals.update(
                    booking_mode=row.booking_mode or account.currency_mode,
                    booking_currency_id=currency.id if currency else False,
                    accounting_mode=mode,
                )
            row_vals[row] = vals
            if mode == "summary":
                # Planned now, booked with its day (gumroad.sale.summary).
                row._record_summary_parts(
                    account, sale, plan, money_plan, currency, vals, context
                )
                continue
            for adjustment in plan:
                move_vals = self._move_vals(
                    account, row, sale, adjustment, partner, currency, context
                )
                if adjustment.kind == "credit_note":
                    refund_plans.append((row, adjustment, move_vals))
                else:
                    invoice_vals.append((row, adjustment, move_vals))
            if money_plan:
                money_plans.append((row, sale, money_plan, partner, currency))

        new_moves = self._book_invoices(invoice_vals, refund_plans, row_vals, context)
        if money_plans:
            self._book_money(account, money_plans, row_vals, new_moves, context)
        with profiling.phase("sale rows write"):
            self._write_rows(row_vals)

    @api.model
    def _book_invoices(self, invoice_vals, refund_plans, row_vals, context):
        """Create the invoices of (row, adjustment, vals) items, then the credit
        notes of the refund plans, post them and reconcile each credit note with its
        invoice; record the amounts in row_vals.

        :return: {row: its new moves}
        """
        # Invoices first (a credit note needs its invoice), then the credit notes,
        # all posted in one call. Odoo's post reconciles a credit note with an
        # invoice posted before the call, one reconciliation per credit note; those
        # posted together are left to the batch's one reconciliation below.
        new_moves = {}
        invoices = self.env["account.move"]
        if invoice_vals:
            invoices = self._create_with_seller_tax(
                invoice_vals, [v for _r, _a, v in invoice_vals], context
            )
            for (row, adjustment, _v), move in zip(invoice_vals, invoices, strict=True):
                new_moves[row] = new_moves.get(row, move.browse()) | move
                key = (
                    "amount_invoiced"
                    if adjustment.kind == "invoice"
                    else "amount_reinvoiced"
                )
                row_vals[row][key] = row_vals[row].get(key, row[key]) + float(
                    adjustment.amount
                )
                if adjustment.kind == "invoice":
                    row_vals[row]["invoice_id"] = move.id
        credit_notes = self.env["account.move"]
        if refund_plans:
            vals_list = []
            for row, _adjustment, move_vals in refund_plans:
                invoice_id = row_vals[row].get("invoice_id") or row.invoice_id.id
                vals_list.append({**move_vals, "reversed_entry_id": invoice_id})
            credit_notes = self._create_with_seller_tax(
                refund_plans, vals_list, context
            )
            for (row, adjustment, _v), credit_note in zip(
                refund_plans, credit_notes, strict=True
            ):
                new_moves[row] = new_moves.get(row, credit_note.browse()) | credit_note
                row_vals[row]["amount_credited"] = row_vals[row].get(
                    "amount_credited", row.amount_credited
                ) + float(adjustment.amount)
        if invoices or credit_notes:
            with profiling.phase("invoice post"):
                (invoices | credit_notes).action_post()
        if credit_notes:
            with profiling.phase("reconcile"):
                # Each invoice with its new credit notes, in one call for the batch.
                by_invoice = defaultdict(credit_notes.browse)
                for credit_note in credit_notes:
                    by_invoice[credit_note.reversed_entry_id] |= credit_note
                plan = [
                    lines
                    for invoice, notes in by_invoice.items()
                    if (lines := self._open_receivables(invoice | notes))
                ]
                if plan:
                    self.env["account.move.line"]._reconcile_plan(plan)
        return new_moves

    @api.model
    def _write_rows(self, row_vals):
        """Write {row: values} of a batch, the values many rows share once for all
        of them (`plan_writes`)."""
        rows = list(row_vals)
        for indexes, vals in plan_writes(list(row_vals.values())):
            self.browse([rows[index].id for index in indexes]).write(vals)

    @api.model
    def _buyer_partner(self, account, sale, context, needed):
        partner = context["partners"].get((sale.email or "").strip().lower())
        partner = partner or account.default_partner_id
        if needed and not partner:
            raise UserError(
                self.env._(
                    "The buyer has no email address and the connector has no "
                    "fallback customer."
                )
            )
        return partner

    @api.model
    def _create_with_seller_tax(self, items, vals_list, context):
        """Create the draft moves of (row, adjustment, vals) items from vals_list,
        with their seller tax."""
        with profiling.phase("invoice create"):
            moves = self.env["account.move"].create(vals_list)
            self._set_seller_tax_amounts(
                [
                    (move, context["sales"][row], adjustment.amount)
                    for (row, adjustment, _v), move in zip(items, moves, strict=True)
                ]
            )
        return moves

    @api.model
    def _book_money(self, account, money_plans, row_vals, new_moves, context):
        """Book what each sale moved on the Gumroad balance, one entry per sale.

        The entry holds the sale's whole change: the balance line (what Gumroad owes
        the seller), Gumroad's fee and the revenue side. In "invoices" mode the
        revenue side is the buyer's receivable, reconciled with the invoice and
        credit notes (so they show as paid); otherwise it is the income account.
        """
        entries_vals, booked = [], []
        for row, sale, (money, revenue), partner, currency in money_plans:
            vals = self._money_move_vals(
                account, row, sale, money, revenue, partner, currency, context
            )
            row_vals[row].update(row._money_booked_vals(money, revenue))
            if vals:
                entries_vals.append(vals)
                booked.append(row)
        if not entries_vals:
            return
        with profiling.phase("balance entries create"):
            entries = self.env["account.move"].create(entries_vals)
        with profiling.phase("balance entries post"):
            entries.action_post()
        with profiling.phase("reconcile"):
            plan = []
            for row, entry in zip(booked, entries, strict=True):
                if row._mode(account) != "invoices":
                    continue
                moves = row.move_ids | row.balance_move_ids | new_moves.get(row, entry)
                lines = self._open_receivables(moves | entry)
                if lines:
                    plan.append(lines)
            if plan:
                self.env["account.move.line"]._reconcile_plan(plan)

    @api.model
    def _money_move_vals(
        self, account, row, sale, money, revenue, partner, currency, context
    ):
        """The balance entry of one sale's change, or None when it moves nothing."""
        company = account.company_id
        # A direct sale's money is in the seller's own PayPal / Stripe account: its
        # clearing journal, never the Gumroad balance (purchase.rb:1838).
        journal = (
            account._processor_journal(sale.payment_processor)
            if sale.is_direct
            else context["balance_journal"]
        )
        usd = context["currencies"]["USD"]
        first = not row.balance_move_ids and not row.summary_balance_booked
        day = sale.sale_date if first else max(context["today"], sale.sale_date)
        # The lock dates of a batch's few days and journals, read once each.
        key = (day, journal.id)
        if key not in context["open_days"]:
            context["open_days"][key] = account._first_open_day(day, journal)
        day = context["open_days"][key]
        mode = row._mode(account, sale)
        label = self._line_label(sale, context["products"].get(sale.product_id))
        lines = []

        def add(
            name, account_record, amount, line_currency, line_partner=None, **extra
        ):
            amount = float(amount)
            if line_currency.is_zero(amount):
                return
            lines.append(
                {
                    "name": name,
                    "account_id": account_record.id,
                    "partner_id": line_partner.id if line_partner else False,
                    "currency_id": line_currency.id,
                    "amount_currency": amount,
                    "balance": line_currency._convert(
                        amount, company.currency_id, company, day
                    ),
                    **extra,
                }
            )

        ref = f"{const.MOVE_REF_PREFIX}{sale.id}"
        if money is not None:
            add(
                self.env._("%(journal)s: %(ref)s", journal=journal.name, ref=ref)
                if sale.is_direct
                else self.env._("Gumroad balance: %(ref)s", ref=ref),
                journal.default_account_id,
                money.balance,
                usd,
                partner,
            )
            add(
                self.env._("Gumroad fee: %(ref)s", ref=ref),
                context["fee_account"],
                money.fee,
                usd,
            )
            if money.affiliate:
                add(
                    self.env._(
                        "Affiliate commission (%(affiliate)s): %(ref)s",
                        affiliate=sale.affiliate_email or "",
                        ref=ref,
                    ),
                    account._affiliate_account(),
                    money.affiliate,
                    usd,
                )
            if money.retained:
                add(
                    self.env._("Processor fee Gumroad retained: %(ref)s", ref=ref),
                    account._retained_fee_account(),
                    money.retained,
                    usd,
                )
            if money.processor_fee:
                add(
                    self.env._(
                        "%(processor)s fee: %(ref)s",
                        processor="PayPal"
                        if sale.payment_processor == "paypal"
                        else "Stripe",
                        ref=ref,
                    ),
                    account._processor_fee_account(),
                    money.processor_fee,
                    usd,
                )
        if mode in ("invoices", "summary"):
            revenue_account = partner.commercial_partner_id.with_company(
                company
            ).property_account_receivable_id
            add(label, revenue_account, -revenue, currency, partner)
        else:
            for name, revenue_account, amount, extra in self._revenue_parts(
                account, sale, revenue, label, context
            ):
                add(name, revenue_account, -amount, currency, partner, **extra)
        if not lines:
            return None
        difference = -sum(line["balance"] for line in lines)
        if not company.currency_id.is_zero(difference):
            # The sale's currency and USD converted at the day's rates.
            exchange = (
                company.income_currency_exchange_account_id
                if difference < 0
                else company.expense_currency_exchange_account_id
            )
            add(
                self.env._("Exchange difference"),
                exchange,
                difference,
                company.currency_id,
            )
        count = len(row.balance_move_ids) + 1
        vals = {
            "move_type": "entry",
            "journal_id": journal.id,
            "date": day,
            "ref": f"{ref}/balance" + (f"-{count}" if count > 1 else ""),
            "partner_id": partner.id if partner else False,
            "gumroad_balance_sale_id": row.id,
            "line_ids": [Command.create(line) for line in lines],
        }
        return self._with_analytic(account, sale, vals, context)

    @api.model
    def _open_receivables(self, moves):
        """The moves' open receivable lines, when some of them can settle others."""
        lines = moves.line_ids.filtered(
            lambda line: (
                line.account_id.account_type == "asset_receivable"
                and not line.reconciled
            )
        )
        if any(line.balance > 0 for line in lines) and any(
            line.balance < 0 for line in lines
        ):
            return lines
        return lines.browse()

    @api.model
    def _move_vals(self, account, row, sale, adjustment, partner, currency, context):
        prefix = f"{const.MOVE_REF_PREFIX}{sale.id}"
        label = self._line_label(sale, context["products"].get(sale.product_id))
        # The product line's share of the move (gumroad/lines.py); the other parts
        # get their own lines in `_invoice_line_vals`.
        amount = float(self._split_lines(sale, adjustment.amount)["product"])
        if adjustment.kind == "invoice":
            ref = prefix
            move_type = "out_invoice"
            invoice_date = sale.sale_date
            quantity = sale.quantity if sale.quantity > 0 else 1
            price_unit = amount / quantity
            if (
                float_compare(price_unit * quantity, amount, precision_digits=2)
                or round(price_unit, 2) != price_unit
            ):
                # Keep the total exact to the cent: one line for the whole quantity.
                quantity, price_unit = 1, amount
                if sale.quantity > 1:
                    label = f"{label} (Qty: {sale.quantity})"
        elif adjustment.kind == "credit_note":
            count = (
                len(row.move_ids.filtered(lambda m: m.move_type == "out_refund")) + 1
            )
            suffix = "dispute" if adjustment.reason == "dispute" else f"refund-{count}"
            ref = f"{prefix}/{suffix}"
            move_type = "out_refund"
            invoice_date = max(context["today"], sale.sale_date)
            quantity, price_unit = 1, amount
            label = self.env._(
                "%(reason)s: %(label)s",
                reason=adjustment.reason.capitalize(),
                label=label,
            )
        else:
            ref = f"{prefix}/dispute-won"
            move_type = "out_invoice"
            invoice_date = max(context["today"], sale.sale_date)
            quantity, price_unit = 1, amount
            label = self.env._("Dispute won: %(label)s", label=label)
        line_vals = self._invoice_line_vals(
            account, sale, adjustment, label, quantity, price_unit, context
        )
        vals = {
            "move_type": move_type,
            "partner_id": partner.id,
            "invoice_date": invoice_date,
            "ref": ref,
            "currency_id": currency.id,
            "gumroad_sale_id": row.id,
            "invoice_origin": self.env._("Gumroad order %(order)s", order=sale.order_id)
            if sale.order_id
            else "Gumroad",
            "invoice_line_ids": [Command.create(line) for line in line_vals],
        }
        if context["journal"]:
            vals["journal_id"] = context["journal"].id
        return self._with_analytic(account, sale, vals, context)

    @api.model
    def _split_lines(self, sale, amount):
        """{kind: Decimal} of a move of `amount`: product, shipping, tip, seller_tax."""
        return {line.kind: line.amount for line in invoice_lines(sale, amount)}

    @api.model
    def _invoice_line_vals(
        self, account, sale, adjustment, label, quantity, price_unit, context
    ):
        """The invoice lines of one move: the product (the base of any seller tax),
        then shipping and tip, each on its account; they add up to the move's amount
        once `_set_seller_tax_amounts` has set the tax line to Gumroad's amount.
        """
        parts = self._split_lines(sale, adjustment.amount)
        template = context["products"].get(sale.product_id)
        product = {
            "name": label,
            "quantity": quantity,
            "price_unit": price_unit,
            "tax_ids": [Command.clear()],
        }
        if template:
            product["product_id"] = template._gumroad_variant_for_sale(sale).id
        if account.income_account_id:
            product["account_id"] = account.income_account_id.id
        tax = parts.get("seller_tax")
        if tax and parts["product"]:
            rate = (tax * 100 / parts["product"]).quantize(Decimal("0.01"))
            product["tax_ids"] = [
                Command.set(account._seller_tax(sale.tax_label, rate).ids)
            ]
        lines = [product]
        if tax and not parts["product"]:
            # No base to carry a tax: the tax goes to the tax account as it is.
            lines.append(
                self._extra_line(
                    self.env._("%(tax)s (seller-collected)", tax=sale.tax_label or ""),
                    account._seller_tax_account(),
                    tax,
                )
            )
        if parts.get("shipping"):
            lines.append(
                self._extra_line(
                    self.env._("Shipping"),
                    account.shipping_account_id or context["income_account"](sale),
                    parts["shipping"],
                )
            )
        if parts.get("tip"):
            lines.append(
                self._extra_line(
                    self.env._("Tip"),
                    account.tip_account_id or context["income_account"](sale),
                    parts["tip"],
                )
            )
        return lines

    @api.model
    def _revenue_parts(self, account, sale, revenue, label, context):
        """(name, account, signed amount, extra line values) of the revenue of an
        entry booked without invoice: split like an invoice (product, shipping, tip
        income; seller tax on the seller tax account), adding up to `revenue`
        exactly. Seller-collected tax is a real tax: the product line is its base
        (tax_ids) and the tax line carries the tax's repartition line, so the tax
        report shows both, as it does for an invoice."""
        sign = -1 if revenue < 0 else 1
        parts = self._split_lines(sale, abs(revenue))
        accounts = {
            "product": context["income_account"](sale),
            "shipping": account.shipping_account_id or context["income_account"](sale),
            "tip": account.tip_account_id or context["income_account"](sale),
        }
        names = {
            "product": label,
            "shipping": self.env._("Shipping: %(label)s", label=label),
            "tip": self.env._("Tip: %(label)s", label=label),
        }
        tax = None
        whole = self._split_lines(sale, sale.price_usd)
        if parts.get("seller_tax") and parts.get("product") and whole.get("product"):
            rate = (whole["seller_tax"] * 100 / whole["product"]).quantize(
                Decimal("0.01")
            )
            tax = account._seller_tax(sale.tax_label, rate)
        result = []
        for kind, amount in parts.items():
            if kind == "seller_tax":
                extra = {}
                if tax:
                    # A sale's revenue is a credit; its reversal (a refund) a debit.
                    repartition = (
                        tax.invoice_repartition_line_ids
                        if sign > 0
                        else tax.refund_repartition_line_ids
                    ).filtered(lambda line: line.repartition_type == "tax")[:1]
                    extra = {"tax_repartition_line_id": repartition.id}
                result.append(
                    (
                        self.env._(
                            "%(tax)s (seller-collected): %(label)s",
                            tax=sale.tax_label or self.env._("Sales tax"),
                            label=label,
                        ),
                        account._seller_tax_account(),
                        sign * amount,
                        extra,
                    )
                )
            else:
                extra = {}
                if tax and kind == "product":
                    extra = {"tax_ids": [Command.set(tax.ids)]}
                result.append((names[kind], accounts[kind], sign * amount, extra))
        return result

    @api.model
    def _extra_line(self, name, account_record, amount):
        return {
            "name": name,
            "quantity": 1,
            "price_unit": float(amount),
            "account_id": account_record.id,
            "tax_ids": [Command.clear()],
        }

    @api.model
    def _set_seller_tax_amounts(self, moves_and_sales):
        """Set each draft move's tax to Gumroad's exact seller tax (the tax's rate
        only approximates it), so the move's total is exactly its Gumroad amount.
        """
        for move, sale, amount in moves_and_sales:
            self._set_exact_tax(move, self._split_lines(sale, amount).get("seller_tax"))

    @api.model
    def _set_exact_tax(self, move, tax):
        """Set a draft move's tax to `tax` by writing its tax line, as an accountant
        edits it among the journal items (its receivable follows): one write of the
        move, where editing the tax totals takes two and the totals' round trip.
        A move with several tax groups keeps its computed tax: which group is off
        is not known.
        """
        currency = move.currency_id
        if not tax or not currency.compare_amounts(move.amount_tax, float(tax)):
            return  # no tax, or already exact
        tax_lines = move.line_ids.filtered("tax_line_id")
        if len(tax_lines.tax_group_id) != 1:
            return
        sign = -1 if move.is_inbound() else 1
        delta = sum(tax_lines.mapped("amount_currency")) * sign - float(tax)
        if currency.is_zero(delta):
            return
        first = tax_lines[0]
        move.write(
            {
                "line_ids": [
                    Command.update(
                        first.id,
                        {"amount_currency": first.amount_currency - delta * sign},
                    )
                ]
            }
        )

    # === BUSINESS METHODS: single sales (webhooks) === #

    @api.model
    def _sync_one(self, account, sale_id):
        """Re-read one sale from Gumroad and book it through the import's code path."""
        payload = account._gumroad_client().get_sale(sale_id)
        return self._book_payloads(account, [payload])
