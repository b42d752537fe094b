"""The bench's best floor: the framework's fastest way to book the import's moves.

For each batch size B, in one Odoo shell process of its own: N customer invoices of
one line, N balance entries paying them and their reconciliation, created, posted and
reconciled B sales at a time (tracking off, flushed after each batch as the import
commits), on fresh partners, rolled back after each size. One small warm-up round
first, so that no size pays for the cold caches. The best size is the floor.
"""

import subprocess
import tempfile

BATCH_SIZES = (50, 100, 200, 500)

BEST_FLOOR_SCRIPT = """
import time
from odoo.fields import Command

def book(env, count, batch, tag):
    usd = env.ref("base.USD")
    usd.active = True
    partners = env["res.partner"].create(
        [{"name": f"Floor buyer {tag}-{i}", "email": f"floor{tag}-{i}@example.com"}
         for i in range(count)]
    )
    product = env["product.product"].create(
        {"name": "Floor product", "type": "service"}
    )
    bank = env["account.journal"].search([("type", "=", "bank")], limit=1)
    fee_account = env["account.account"].search(
        [("account_type", "=", "expense")], limit=1
    )
    env.cr.flush()
    started = time.perf_counter()
    for start in range(0, count, batch):
        chunk = partners[start:start + batch]
        moves = env["account.move"].create([
            {"move_type": "out_invoice", "partner_id": partner.id,
             "invoice_date": "2026-01-01", "ref": f"FLOOR-{tag}-{start + i}",
             "currency_id": usd.id,
             "invoice_line_ids": [Command.create({
                 "product_id": product.id, "quantity": 1, "price_unit": 10.0,
                 "tax_ids": [Command.clear()]})]}
            for i, partner in enumerate(chunk)
        ])
        moves.action_post()
        receivables = moves.line_ids.filtered(
            lambda l: l.account_id.account_type == "asset_receivable"
        )
        entries = env["account.move"].create([
            {"move_type": "entry", "journal_id": bank.id, "date": "2026-01-01",
             "ref": f"FLOOR-{tag}-{start + i}/balance",
             "partner_id": line.partner_id.id,
             "line_ids": [
                 Command.create({"account_id": bank.default_account_id.id,
                                 "balance": 9.0, "partner_id": line.partner_id.id}),
                 Command.create({"account_id": fee_account.id, "balance": 1.0}),
                 Command.create({"account_id": line.account_id.id, "balance": -10.0,
                                 "partner_id": line.partner_id.id}),
             ]}
            for i, line in enumerate(receivables)
        ])
        entries.action_post()
        env["account.move.line"]._reconcile_plan([
            line | entry.line_ids.filtered(lambda l: l.account_id == line.account_id)
            for line, entry in zip(receivables, entries)
        ])
        env.flush_all()
    elapsed = time.perf_counter() - started
    env.cr.rollback()
    env.invalidate_all()
    return elapsed

env = env(context=dict(env.context, tracking_disable=True))
book(env, min(SALES, 20), 10, "warm")
for batch in BATCHES:
    print(f"best_floor batch={batch} s={book(env, SALES, batch, batch):.3f}",
          flush=True)
"""


def batch_sizes(sales, sizes=BATCH_SIZES):
    """The sizes worth trying for `sales` sales: a size above N books like N."""
    return sorted({min(size, sales) for size in sizes})


def run_best_floor(odoo_command, base_args, env, sales, sizes=BATCH_SIZES):
    """{batch size: seconds} of booking `sales` sales B at a time, in a subprocess."""
    batches = batch_sizes(sales, sizes)
    script = BEST_FLOOR_SCRIPT.replace("SALES", str(sales)).replace(
        "BATCHES", repr(tuple(batches))
    )
    floor = subprocess.run(
        [*odoo_command, "shell", *base_args, "--no-http", "--log-level=warn"],
        input=script,
        env=env,
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        check=False,
    )
    times = {}
    for line in floor.stdout.splitlines():
        if line.startswith("best_floor "):
            fields = dict(part.split("=", 1) for part in line.split()[1:])
            times[int(fields["batch"])] = float(fields["s"])
    if len(times) != len(batches):
        raise RuntimeError(f"best floor failed:\n{floor.stderr[-3000:]}")
    return times
