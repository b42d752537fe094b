"""The bench's best floor: the framework's fastest way to book the import's own moves.

After the import, `export_moves` reads back every move it booked, sale by sale (its
invoice and credit notes with their lines, taxes and currencies, its Gumroad balance
entries with theirs). Then, for each batch size B, in one Odoo shell process of its
own, the same moves are created, posted and reconciled B sales at a time with
batched ORM calls (tracking off, flushed after each batch as the import commits),
and rolled back after each size. One small warm-up round first, so that no size pays
for the cold caches. The best size is the floor: what the framework itself needs
for exactly these moves, without fetching, parsing or deciding anything.
"""

import json
import os
import subprocess
import tempfile

BATCH_SIZES = (50, 100, 200, 500)

INVOICE_LINE_FIELDS = (
    "name",
    "product_id",
    "quantity",
    "price_unit",
    "account_id",
    "tax_ids",
    "analytic_distribution",
)
ENTRY_LINE_FIELDS = (
    "name",
    "account_id",
    "partner_id",
    "currency_id",
    "amount_currency",
    "balance",
    "tax_ids",
    "tax_repartition_line_id",
    "analytic_distribution",
)


def _value(record, name):
    value = record[name]
    field = record._fields[name]
    if field.type == "many2one":
        return value.id or False
    if field.type == "many2many":
        return [[6, 0, value.ids]]
    if field.type == "date":
        return value.isoformat() if value else False
    return value


def export_moves(env, account):
    """[[move vals, ...] per sale] of what the import booked for `account`: invoices
    and credit notes first, then balance entries, as `account.move.create` takes
    them."""
    sales = env["gumroad.sale"].search([("account_id", "=", account.id)], order="id")
    exported = []
    for sale in sales:
        moves = []
        sale_moves = (sale.move_ids | sale.balance_move_ids).sorted("id")
        for move in sale_moves:
            if move.is_invoice():
                lines = move.invoice_line_ids.filtered(
                    lambda line: line.display_type == "product"
                )
                vals = {
                    name: _value(move, name)
                    for name in (
                        "move_type",
                        "partner_id",
                        "invoice_date",
                        "currency_id",
                        "journal_id",
                        "ref",
                    )
                }
                vals["invoice_line_ids"] = [
                    [0, 0, {n: _value(line, n) for n in INVOICE_LINE_FIELDS}]
                    for line in lines
                ]
                if move.reversed_entry_id in sale_moves:
                    # A credit note is booked as the reversal of its invoice, as the
                    # import books it: the index of that invoice among the sale's
                    # moves (both are posted in one call and reconciled in the plan).
                    vals["reversal_of"] = list(sale_moves).index(move.reversed_entry_id)
            else:
                vals = {
                    name: _value(move, name)
                    for name in ("move_type", "partner_id", "date", "journal_id", "ref")
                }
                vals["line_ids"] = [
                    [0, 0, {n: _value(line, n) for n in ENTRY_LINE_FIELDS}]
                    for line in move.line_ids
                ]
            moves.append(vals)
        if moves:
            exported.append(moves)
    return exported


BEST_FLOOR_SCRIPT = """
import json, time

with open(MOVES_PATH) as handle:
    SALES = json.load(handle)

def book(env, sales, batch, tag):
    env.cr.flush()
    started = time.perf_counter()
    Move = env["account.move"]
    for start in range(0, len(sales), batch):
        chunk = sales[start:start + batch]
        # Invoices, then the credit notes that reverse them, then the balance
        # entries: each kind in one create call; every invoice posted in one call.
        kinds = {"invoice": [], "reversal": [], "entry": []}
        for index, moves in enumerate(chunk):
            for position, vals in enumerate(moves):
                vals = dict(vals, ref=f"FLOOR-{tag}-{vals['ref']}")
                kind = (
                    "entry" if vals["move_type"] == "entry"
                    else "reversal" if "reversal_of" in vals
                    else "invoice"
                )
                kinds[kind].append(((index, position), vals))
        booked = {}
        for kind in ("invoice", "reversal", "entry"):
            vals_list = []
            for key, vals in kinds[kind]:
                vals = dict(vals)
                if kind == "reversal":
                    of = (key[0], vals.pop("reversal_of"))
                    vals["reversed_entry_id"] = booked[of].id
                vals_list.append(vals)
            created = Move.create(vals_list)
            booked.update(zip((key for key, _v in kinds[kind]), created))
            if kind == "reversal":
                invoices = Move.browse(
                    [booked[key].id for key, _v in kinds["invoice"]]
                ) | created
                invoices.action_post()
            elif kind == "entry":
                created.action_post()
        by_sale = {}
        for (index, _position), move in booked.items():
            by_sale[index] = by_sale.get(index, Move) | move
        plan = []
        for moves in by_sale.values():
            lines = moves.line_ids.filtered(
                lambda l: l.account_id.account_type == "asset_receivable"
                and not l.reconciled
            )
            if any(l.balance > 0 for l in lines) and any(l.balance < 0 for l in lines):
                plan.append(lines)
        if plan:
            env["account.move.line"]._reconcile_plan(plan)
        env.flush_all()
    elapsed = time.perf_counter() - started
    env.cr.rollback()
    env.invalidate_all()
    return elapsed

env = env(context=dict(env.context, tracking_disable=True))
book(env, SALES[:20], 10, "warm")
for batch in BATCHES:
    print(f"best_floor batch={batch} s={book(env, SALES, batch, batch):.3f}",
          flush=True)
"""


def batch_sizes(sales, sizes=BATCH_SIZES):
    """The sizes worth trying for `sales` sales: a size above N books like N."""
    return sorted({min(size, sales) for size in sizes})


def run_best_floor(odoo_command, base_args, env, exported, sizes=BATCH_SIZES):
    """{batch size: seconds} of booking the exported moves B sales at a time, in a
    subprocess."""
    batches = batch_sizes(len(exported), sizes)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(exported, handle)
        path = handle.name
    script = BEST_FLOOR_SCRIPT.replace("MOVES_PATH", repr(path)).replace(
        "BATCHES", repr(tuple(batches))
    )
    try:
        floor = subprocess.run(
            [*odoo_command, "shell", *base_args, "--no-http", "--log-level=warn"],
            input=script,
            env=env,
            cwd=tempfile.gettempdir(),
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        os.unlink(path)
    times = {}
    for line in floor.stdout.splitlines():
        if line.startswith("best_floor "):
            fields = dict(part.split("=", 1) for part in line.split()[1:])
            times[int(fields["batch"])] = float(fields["s"])
    if len(times) != len(batches):
        raise RuntimeError(f"best floor failed:\n{floor.stderr[-3000:]}")
    return times
