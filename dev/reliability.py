"""The reliability report: which hostile case each test tried, and what held.

The reliability tests live in three suites (pytest, Odoo's runner, the integration
suite), in separate processes. Each passing case appends one JSON line to the file
named by ``GUMROAD_RELIABILITY_REPORT`` (set by ``dev/run_tests.py``); the runner then
prints one table. A case listed in ``CASES`` that wrote no line failed or did not run,
and the table says so rather than leaving it out.
"""

import json
import os
import textwrap

REPORT_ENV = "GUMROAD_RELIABILITY_REPORT"

# (key, title, suite that runs it: "test" = make test, "chaos" = make chaos)
CASES = (
    ("faults_import", "Gumroad faults during an import", "test"),
    ("faults_import_1000", "Gumroad faults during a 1 000-sale import", "chaos"),
    ("faults_paging_3000", "Every fault while paging 3 000 sales", "chaos"),
    ("gumroad_down", "Gumroad down in the middle of an import", "test"),
    ("crash", "Odoo killed (SIGKILL) in the middle of an import", "test"),
    ("race", "Overlapping imports and duplicate pings at once", "test"),
    ("windows", "Two workers booking the date windows of one import", "test"),
    ("webhook_wrong_secret", "Webhook: wrong secret", "test"),
    ("webhook_bad_bodies", "Webhook: no body, wrong type, hostile text", "test"),
    ("webhook_huge_body", "Webhook: 1 MiB body", "test"),
    ("webhook_forged_sale", "Webhook: forged sale id", "test"),
    ("webhook_replayed_ping", "Webhook: replayed old pings", "test"),
    ("webhook_every_field_hostile", "Webhook: SQL and HTML in every field", "test"),
    ("secret_pg_dump", "Token absent from a pg_dump of the database", "test"),
    ("secret_logs", "Token absent from the logs", "test"),
    ("secret_ui", "Token absent from chatter, fields and error messages", "test"),
    ("secret_rpc", "Token and secrets absent from RPC reads", "test"),
    ("secret_groups", "Secrets closed to users without the manager group", "test"),
    ("fuzz_sale", "Fuzzing: sale parser", "test"),
    ("fuzz_ping", "Fuzzing: ping parser", "test"),
    ("fuzz_amount", "Fuzzing: amount parser", "test"),
    ("multi_company", "Multi-company: company A never sees company B", "test"),
    ("live_ping_kinds", "Live server: every ping kind booked by its own cron", "test"),
    ("live_ping_flow", "Live server: 200 duplicate pings in 20 s", "test"),
    (
        "live_ping_and_import",
        "Live server: pings and a queued import on 2 cron threads",
        "test",
    ),
    ("scripted_import_shell", "Scripted import in odoo-bin shell", "test"),
    (
        "scripted_import_server_action",
        "Scripted import in a server action over JSON-RPC",
        "test",
    ),
    ("live_access_before_gumroad", "Access refused before any Gumroad request", "test"),
)
CASE_TITLES = {key: title for key, title, _suite in CASES}


def record(case, tried, held):
    """Note that `case` passed: `tried` says what was thrown at it, `held` what was
    checked afterwards. Does nothing outside the test runner.
    """
    if case not in CASE_TITLES:
        raise ValueError(f"unknown reliability case {case!r}")
    path = os.environ.get(REPORT_ENV)
    if not path:
        return
    line = json.dumps({"case": case, "tried": tried, "held": held})
    # One short write in append mode: lines from concurrent processes do not mix.
    with open(path, "a", encoding="utf-8") as report:
        report.write(line + "\n")


def load(path):
    """The recorded rows, by case (the last line of a case wins)."""
    rows = {}
    if not os.path.exists(path):  # no suite recorded anything
        return rows
    with open(path, encoding="utf-8") as report:
        for line in report:
            if line.strip():
                row = json.loads(line)
                rows[row["case"]] = row
    return rows


def format_table(rows, suite="test", width=(34, 44, 50)):
    """A plain-text table (case, tried, held) of the cases of `suite`; a case with no
    row is shown as not held.

    :return: (text, number of cases not held)
    """
    lines = []
    missing = 0
    head = ("case", "tried", "held")
    rule = "+".join("-" * (w + 2) for w in width)
    lines.append("+" + rule + "+")
    lines.append(_table_row(head, width))
    lines.append("+" + rule + "+")
    for key, title, case_suite in CASES:
        if case_suite != suite:
            continue
        row = rows.get(key)
        if row is None:
            missing += 1
            cells = (title, "-", "NOT HELD: the test failed or did not run")
        else:
            cells = (title, row["tried"], "yes: " + row["held"])
        lines.append(_table_row(cells, width))
        lines.append("+" + rule + "+")
    return "\n".join(lines), missing


def _table_row(cells, width):
    wrapped = [
        textwrap.wrap(str(cell), w) or [""]
        for cell, w in zip(cells, width, strict=True)
    ]
    height = max(len(column) for column in wrapped)
    out = []
    for index in range(height):
        parts = [
            (column[index] if index < len(column) else "").ljust(w)
            for column, w in zip(wrapped, width, strict=True)
        ]
        out.append("| " + " | ".join(parts) + " |")
    return "\n".join(out)
