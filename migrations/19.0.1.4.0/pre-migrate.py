"""19.0.1.4.0 stores a subscription's status as Gumroad gives it (subscribers API).

Before, the pings set a status of the connector's own: "cancelled" on a cancellation
ping (Gumroad keeps such a subscription running to the end of its period: its status
is pending_cancellation), "ended" when it ended (cancelled), "restarted" when it
started again (alive). Translate them before the new computed fields (is_active,
MRR) are computed from the status.
"""

STATUS_BY_OLD = {
    "cancelled": "pending_cancellation",
    "ended": "cancelled",
    "restarted": "alive",
}


def migrate(cr, version):
    if not version:
        return
    for old, new in STATUS_BY_OLD.items():
        cr.execute(
            "UPDATE gumroad_subscription SET status = %s WHERE status = %s",
            [new, old],
        )
