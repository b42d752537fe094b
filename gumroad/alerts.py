"""Which alerts a connector raises, keeps or closes (decisions only, no I/O).

An accountant who opens Odoo once a week must find what needs them, once: a problem
raises one alert, which stays open (updated, never repeated) while the problem lasts
and closes itself when the problem is gone.
"""

from dataclasses import dataclass

# Alert kinds, in the order they are listed.
KINDS = (
    "token",
    "unreachable",
    "import_failed",
    "sales_error",
    "pings_error",
    "payout_mismatch",
    "summary_failed",
)


@dataclass(frozen=True)
class AlertPlan:
    """Kinds to open (new problems), to update (still there), to close (gone)."""

    open: tuple[str, ...]
    update: tuple[str, ...]
    close: tuple[str, ...]


def plan_alerts(problems: dict[str, int], open_kinds) -> AlertPlan:
    """problems: kind -> how many records are concerned (0: no problem)."""
    open_kinds = set(open_kinds)
    present = {kind for kind, count in problems.items() if count}
    return AlertPlan(
        open=tuple(k for k in KINDS if k in present - open_kinds),
        update=tuple(k for k in KINDS if k in present & open_kinds),
        close=tuple(k for k in KINDS if k in open_kinds - present),
    )
