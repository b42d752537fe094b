"""Whether Gumroad will ping a connector, and whether its pings arrive (no I/O).

Gumroad pings every URL subscribed to a resource (`GET /resource_subscriptions?
resource_name=` lists them) and drops a ping that times out or is refused without a
retry (facts file, pings). Two checks follow: each resource has the connector's URL
subscribed once, and every sale the scheduled sync found also came as a ping.
"""

from collections.abc import Iterable, Mapping

from .pings import PING_RESOURCES

SUBSCRIBED = "subscribed"
MISSING = "missing"
DUPLICATED = "duplicated"


def subscription_states(
    url: str,
    subscriptions: Mapping[str, Iterable[dict]],
    resources: Iterable[str] = PING_RESOURCES,
) -> dict[str, str]:
    """Per resource: subscribed (once), missing, or duplicated (each ping twice)."""
    states = {}
    for resource in resources:
        ours = [s for s in subscriptions.get(resource, ()) if s.get("post_url") == url]
        if not ours:
            states[resource] = MISSING
        elif len(ours) > 1:
            states[resource] = DUPLICATED
        else:
            states[resource] = SUBSCRIBED
    return states


def missing_resources(states: Mapping[str, str]) -> list[str]:
    return [resource for resource, state in states.items() if state == MISSING]


def sales_without_ping(found: Iterable[str], pinged: Iterable[str]) -> list[str]:
    """Sale ids the sync found that no ping announced (sorted): lost pings."""
    return sorted(set(found) - set(pinged))
