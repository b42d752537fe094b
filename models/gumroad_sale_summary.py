import logging
from collections import defaultdict
from datetime import timedelta

from odoo import api, fields, models
from odoo.fields import Command
from odoo.tools import SQL

from .. import const
from ..gumroad import profiling
from ..gumroad.daily import (
    INVOICE_TYPES,
    entry_line_values,
    invoice_line_values,
    merge_parts,
    nonzero_lines,
    split_due,
)

_logger = logging.getLogger(__name__)

# pg_try_advisory_xact_lock(namespace, connector id): one booker of a connector's
# summaries at a time ("GRSU").
SUMMARY_LOCK_NAMESPACE = 0x47525355
# Summary lines are created with these sequences, so that each merged line is found
# again among the move's lines to link it to its sales.
FIRST_SEQUENCE = 10


class GumroadSaleSummary(models.AbstractModel):
    """Daily summaries: a sale's change is planned as the per-sale mode books it,
    kept on the sale (`summary_parts`), and booked with the other sales of its day
    once the day has ended. Mixed into `gumroad.sale`; the merging is plain Python
    in `gumroad/daily.py`.
    """

    _name = "gumroad.sale.summary"
    _description = "Gumroad Daily Summaries"

    # === BUSINESS METHODS: planning === #

    def _record_summary_parts(
        self, account, sale, plan, money_plan, currency, vals, context
    ):
        """Plan this sale's change as parts of daily summaries, and count it as booked
        in `vals` (the sale row's values), so that the next import finds nothing left
        to book. The buyer stays the sale's partner; the summaries' customer is
        Gumroad, which collected the money.
        """
        self.ensure_one()
        partner = context.get("summary_partner")
        if partner is None:
            partner = context["summary_partner"] = account._gumroad_partner()
        journal = context["journal"] or account._sales_journal()
        parts = list(self.summary_parts or [])
        for adjustment in plan:
            move_vals = self._move_vals(
                account, self, sale, adjustment, partner, currency, context
            )
            tax = self._split_lines(sale, adjustment.amount).get("seller_tax")
            lines = [command[2] for command in move_vals["invoice_line_ids"]]
            # A summary line per product (and variant): the sale's offer code stays
            # on the sale.
            lines[0]["name"] = self._summary_product_label(sale, adjustment)
            parts.append(
                {
                    "move_type": move_vals["move_type"],
                    "day": move_vals["invoice_date"].isoformat(),
                    "journal_id": journal.id,
                    "currency_id": currency.id,
                    "lines": lines,
                    "seller_tax": str(tax or 0),
                }
            )
            key = {
                "invoice": "amount_invoiced",
                "credit_note": "amount_credited",
            }.get(adjustment.kind, "amount_reinvoiced")
            vals[key] = vals.get(key, self[key]) + float(adjustment.amount)
        if money_plan:
            money, revenue = money_plan
            entry = self._money_move_vals(
                account, self, sale, money, revenue, partner, currency, context
            )
            vals.update(self._money_booked_vals(money, revenue))
            if entry:
                lines = [command[2] for command in entry["line_ids"]]
                receivable = context.get("summary_receivable")
                if receivable is None:
                    receivable = context["summary_receivable"] = (
                        partner.commercial_partner_id.with_company(
                            account.company_id
                        ).property_account_receivable_id.id
                    )
                for line in lines:
                    if line["account_id"] == receivable:
                        # What Gumroad owes for the day's invoices: one line per
                        # currency, whatever the products.
                        line["name"] = self.env._("Gumroad sales")
                parts.append(
                    {
                        "move_type": "entry",
                        "day": entry["date"].isoformat(),
                        "journal_id": entry["journal_id"],
                        "lines": lines,
                    }
                )
                vals["summary_balance_booked"] = True
        vals["summary_parts"] = parts or False
        vals["summary_pending"] = bool(parts)

    @api.model
    def _summary_product_label(self, sale, adjustment):
        label = sale.product_name
        if sale.variants:
            details = ", ".join(f"{k}: {v}" for k, v in sale.variants.items())
            label = f"{label} ({details})"
        if adjustment.kind == "credit_note":
            return self.env._(
                "%(reason)s: %(label)s",
                reason=adjustment.reason.capitalize(),
                label=label,
            )
        if adjustment.kind != "invoice":
            return self.env._("Dispute won: %(label)s", label=label)
        return label

    # === BUSINESS METHODS: booking the days === #

    @api.model
    def _book_summaries(self, account, through):
        """Book the planned parts of every day up to `through` (included) as daily
        summaries: one invoice per day and currency, one credit note of the day's
        refunds and chargebacks, one balance entry per day and journal. A day booked
        before gets a further summary (`-2`, ...) for what arrived since.

        :return: the summary moves created
        """
        moves = self.env["account.move"]
        self.env.cr.execute(
            SQL(
                "SELECT pg_try_advisory_xact_lock(%s, %s)",
                SUMMARY_LOCK_NAMESPACE,
                account.id,
            )
        )
        if not self.env.cr.fetchone()[0]:
            _logger.info(
                "Gumroad connector %s: another worker books the summaries", account.id
            )
            return moves
        rows = self.search(
            [("account_id", "=", account.id), ("summary_pending", "=", True)],
            order="id",
        )
        if not rows:
            return moves
        rows._lock_rows()
        keyed, remaining = [], {}
        for row in rows:
            due, later = split_due(row.summary_parts or [], through)
            remaining[row] = later
            keyed.extend(((row.id, index), part) for index, part in enumerate(due))
        if not keyed:
            return moves
        with profiling.phase("summary merge"):
            summaries = [s for s in merge_parts(keyed) if nonzero_lines(s)]
        booker = self.with_context(tracking_disable=True)
        invoices = [s for s in summaries if s.move_type in INVOICE_TYPES]
        entries = [s for s in summaries if s.move_type not in INVOICE_TYPES]
        refs = self._summary_refs(account, summaries)
        with profiling.phase("summary create"):
            invoice_moves = booker.env["account.move"].create(
                [self._summary_vals(account, s, refs[s.key]) for s in invoices]
            )
            # The sum of the sales' exact seller taxes.
            for summary, move in zip(invoices, invoice_moves, strict=True):
                self._set_exact_tax(move, summary.seller_tax)
        with profiling.phase("summary post"):
            invoice_moves.action_post()
        with profiling.phase("summary create"):
            entry_moves = booker.env["account.move"].create(
                [self._summary_vals(account, s, refs[s.key]) for s in entries]
            )
        with profiling.phase("summary post"):
            entry_moves.action_post()
        with profiling.phase("reconcile"):
            self._reconcile_summaries(account)
        links = defaultdict(list)
        for summary, move in zip(
            invoices + entries, invoice_moves + entry_moves, strict=True
        ):
            own_lines = (
                move.invoice_line_ids
                if summary.move_type in INVOICE_TYPES
                else move.line_ids
            )
            by_sequence = {line.sequence: line.id for line in own_lines}
            for index, line in enumerate(nonzero_lines(summary)):
                line_id = by_sequence[FIRST_SEQUENCE + index]
                for row_id, _part in line.sources:
                    links[row_id].append(line_id)
        with profiling.phase("sale rows write"):
            self._consume_parts(rows, remaining, links)
        moves = invoice_moves + entry_moves
        _logger.info(
            "Gumroad connector %s: %s daily summaries booked through %s for %s sales",
            account.id,
            len(moves),
            through,
            len({row_id for row_id, _index in (key for key, _part in keyed)}),
        )
        return moves

    @api.model
    def _consume_parts(self, rows, remaining, links):
        """Keep on each row only its parts still to book, and link it to the summary
        lines that now hold the others. In SQL: a day of a high-volume seller is
        thousands of rows, each written by the ORM one by one otherwise."""
        self.flush_model(["summary_parts", "summary_pending"])
        done = [row.id for row in rows if not remaining[row]]
        for row in rows:
            later = remaining[row]
            if later and len(later) != len(row.summary_parts or []):
                row.write({"summary_parts": later})
        if done:
            self.env.cr.execute(
                SQL(
                    "UPDATE gumroad_sale SET summary_parts = NULL, "
                    "summary_pending = false, write_uid = %s, "
                    "write_date = now() at time zone 'utc' WHERE id IN %s",
                    self.env.uid,
                    tuple(done),
                )
            )
        pairs = sorted(
            {(row_id, line_id) for row_id, ids in links.items() for line_id in ids}
        )
        if pairs:
            self.env.cr.execute(
                SQL(
                    "INSERT INTO gumroad_sale_summary_line_rel (sale_id, line_id) "
                    "VALUES %s ON CONFLICT DO NOTHING",
                    SQL(", ").join(SQL("(%s, %s)", *pair) for pair in pairs),
                )
            )
        rows.invalidate_recordset(
            ["summary_parts", "summary_pending", "summary_line_ids", "write_date"]
        )

    @api.model
    def _summary_refs(self, account, summaries):
        """{summary key: reference}: GR-DAY-<day>[/<currency>][/refunds|/balance],
        with -2, -3... when the day already has such a summary."""
        existing = defaultdict(int)
        if summaries:
            for move in self.env["account.move"].search_fetch(
                [
                    ("gumroad_summary_account_id", "=", account.id),
                    ("gumroad_summary_date", "in", [s.day for s in summaries]),
                ],
                ["gumroad_summary_date", "move_type", "journal_id", "currency_id"],
            ):
                currency = move.currency_id.id if move.is_invoice() else 0
                key = (
                    move.move_type,
                    move.gumroad_summary_date,
                    move.journal_id.id,
                    currency,
                )
                existing[key] += 1
        currencies = {
            c.id: c.name
            for c in self.env["res.currency"]
            .with_context(active_test=False)
            .search_fetch(
                [("id", "in", [s.currency_id for s in summaries if s.currency_id])],
                ["name"],
            )
        }
        balance_journal = account.balance_journal_id.id
        journals = {
            j.id: j.code
            for j in self.env["account.journal"].search_fetch(
                [("id", "in", [s.journal_id for s in summaries])], ["code"]
            )
        }
        refs = {}
        for summary in summaries:
            ref = f"{const.SUMMARY_REF_PREFIX}{summary.day.isoformat()}"
            if summary.move_type in INVOICE_TYPES:
                ref += f"/{currencies.get(summary.currency_id, '')}"
                if summary.move_type == "out_refund":
                    ref += "/refunds"
            else:
                ref += "/balance"
                if summary.journal_id != balance_journal:
                    ref += f"/{journals.get(summary.journal_id, '')}"
            count = existing[summary.key] + 1
            refs[summary.key] = ref + (f"-{count}" if count > 1 else "")
        return refs

    @api.model
    def _summary_vals(self, account, summary, ref):
        partner = account._gumroad_partner()
        common = {
            "move_type": summary.move_type,
            "journal_id": summary.journal_id,
            "partner_id": partner.id,
            "ref": ref,
            "gumroad_summary_account_id": account.id,
            "gumroad_summary_date": summary.day,
        }
        lines = nonzero_lines(summary)
        if summary.move_type in INVOICE_TYPES:
            return {
                **common,
                "invoice_date": summary.day,
                "currency_id": summary.currency_id,
                "invoice_origin": self.env._(
                    "Gumroad sales of %(day)s", day=summary.day.isoformat()
                ),
                "invoice_line_ids": [
                    Command.create(
                        {**invoice_line_values(line), "sequence": FIRST_SEQUENCE + i}
                    )
                    for i, line in enumerate(lines)
                ],
            }
        return {
            **common,
            "date": summary.day,
            "line_ids": [
                Command.create(
                    {**entry_line_values(line), "sequence": FIRST_SEQUENCE + i}
                )
                for i, line in enumerate(lines)
            ],
        }

    @api.model
    def _reconcile_summaries(self, account):
        """Settle the summaries' receivables from Gumroad with the balance entries
        that collected them, currency by currency."""
        lines = self.env["account.move.line"].search(
            [
                ("move_id.gumroad_summary_account_id", "=", account.id),
                ("parent_state", "=", "posted"),
                ("account_id.account_type", "=", "asset_receivable"),
                ("reconciled", "=", False),
            ],
            order="date, id",
        )
        plan = []
        for group in lines.grouped(
            lambda line: (line.account_id, line.currency_id)
        ).values():
            if any(line.amount_residual > 0 for line in group) and any(
                line.amount_residual < 0 for line in group
            ):
                plan.append(group)
        if plan:
            self.env["account.move.line"]._reconcile_plan(plan)

    # === BUSINESS METHODS: when === #

    @api.model
    def _summary_due_day(self):
        """The last day whose summaries are due: yesterday (the sales of today keep
        arriving)."""
        return fields.Date.context_today(self) - timedelta(days=1)
