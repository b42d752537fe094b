"""Gumroad pings (webhooks): form-encoded POST bodies with Rails-style bracket keys.

Gumroad does not sign pings and a ping carries no refund amount: treat every ping
but `sale` as "this changed, re-read it from the API".
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qsl

from .errors import MalformedPayloadError

PING_RESOURCES = (
    "sale",
    "refund",
    "dispute",
    "dispute_won",
    "cancellation",
    "subscription_updated",
    "subscription_ended",
    "subscription_restarted",
)
SALE_RESOURCES = ("sale", "refund", "dispute", "dispute_won")
SUBSCRIPTION_RESOURCES = (
    "cancellation",
    "subscription_updated",
    "subscription_ended",
    "subscription_restarted",
)
# "Send test ping" in Gumroad's settings has test=true and no resource_name.
TEST_RESOURCE = "test"

# "old_plan[tier][id]" -> "old_plan", "[tier][id]"; "purchase_ids[]" -> list.
_BRACKET_KEY = re.compile(r"^(?P<name>[^\[\]]+)(?P<path>(?:\[[^\[\]]*\])+)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


@dataclass(frozen=True)
class Ping:
    """One decoded ping; `data` is nested and typed, `flat` is the form as sent."""

    resource_name: str
    sale_id: str | None
    subscription_id: str | None
    is_test: bool
    is_gift_receiver: bool
    sale_timestamp: datetime | None
    data: dict = field(hash=False, repr=False)
    flat: dict[str, str] = field(hash=False, repr=False)


def decode_form(body: bytes | str) -> dict[str, str]:
    """Form-encoded body -> flat dict (strict UTF-8; a repeated key keeps the last)."""
    return dict(_decode_pairs(body))


def _decode_pairs(body):
    if isinstance(body, bytes | bytearray | memoryview):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise _malformed("The ping body is not valid UTF-8.") from None
    if not isinstance(body, str):
        raise _malformed(
            f"A ping body must be bytes or text, not {type(body).__name__}."
        )
    # Raw whitespace is never part of a form-encoded value (it would be %0A or +);
    # a body saved to a file or piped through a shell often ends with a newline.
    body = body.strip(" \t\r\n")
    try:
        return parse_qsl(
            body, keep_blank_values=True, encoding="utf-8", errors="strict"
        )
    except (UnicodeDecodeError, ValueError):
        raise _malformed(
            "The ping body is not form-encoded UTF-8 (bad %-escape)."
        ) from None


def nest_form(flat: Mapping[str, str]) -> dict:
    """Flat bracket keys -> nested dict, the way Rails builds params.

    "card[visual]" -> {"card": {"visual": ...}}, "purchase_ids[]" -> list (a list value
    keeps every item), "old_plan[tier][id]" -> nested. "true"/"false" -> bool and
    "" -> None. A key that cannot be nested (a custom field named "Size [cm]" that
    clashes, unbalanced brackets) is kept under its literal name; `flat` stays exact.
    """
    pairs = []
    for key, value in flat.items():
        if isinstance(value, list | tuple):
            pairs.extend((key, item) for item in value)
        else:
            pairs.append((key, value))
    return _nest_pairs(pairs)


def _nest_pairs(pairs):
    nested = {}
    for key, raw_value in pairs:
        value = _typed(raw_value)
        match = _BRACKET_KEY.match(key)
        if not match or not _place(nested, match["name"], match["path"], value):
            if key in nested and isinstance(nested[key], dict | list):
                continue  # a plain key never overwrites a nested group
            nested[key] = value
    return nested


def _place(nested, name, path, value):
    """Put value at name[path...]; False if the shape clashes with what is there."""
    segments = _SEGMENT.findall(path)
    if "" in segments[:-1]:
        return False  # "a[][b]" (arrays of hashes) is not something Gumroad sends
    container, key = nested, name
    for segment in segments:
        wanted = list if segment == "" else dict
        if key not in container:
            container[key] = wanted()
        current = container[key]
        if not isinstance(current, wanted):
            return False
        if wanted is list:
            current.append(value)
            return True
        container, key = current, segment
    if isinstance(container.get(key), dict | list):
        return False
    container[key] = value
    return True


def _typed(value):
    if value == "true":
        return True
    if value == "false":
        return False
    if value == "":
        return None
    return value


def parse_ping(body: bytes | str | Mapping[str, str]) -> Ping:
    """Decode a ping from its raw body or an already-decoded form.

    Raises MalformedPayloadError for an undecodable body, an unknown resource_name,
    a sale ping without sale_id or a subscription ping without subscription_id.
    """
    pairs = _mapping_pairs(body) if isinstance(body, Mapping) else _decode_pairs(body)
    flat = dict(pairs)
    data = _nest_pairs(pairs)

    is_test = flat.get("test") == "true"
    resource_name = flat.get("resource_name") or None
    if resource_name is None:
        if not is_test:
            raise _malformed("The ping has no resource_name.", field="resource_name")
        resource_name = TEST_RESOURCE
    elif resource_name not in PING_RESOURCES:
        raise _malformed(
            f"The ping has an unknown resource_name {resource_name[:60]!r}.",
            field="resource_name",
        )
    sale_id = flat.get("sale_id") or None
    subscription_id = flat.get("subscription_id") or None
    if resource_name in SALE_RESOURCES and not sale_id:
        raise _malformed(f"The {resource_name} ping has no sale_id.", field="sale_id")
    if resource_name in SUBSCRIPTION_RESOURCES and not subscription_id:
        raise _malformed(
            f"The {resource_name} ping has no subscription_id.", field="subscription_id"
        )
    return Ping(
        resource_name=resource_name,
        sale_id=sale_id,
        subscription_id=subscription_id,
        is_test=is_test,
        is_gift_receiver=flat.get("is_gift_receiver_purchase") == "true",
        sale_timestamp=_timestamp(flat.get("sale_timestamp"), sale_id),
        data=data,
        flat=flat,
    )


def _mapping_pairs(form):
    """Pairs from a dict or a werkzeug MultiDict (every value of repeated keys)."""
    getlist = getattr(form, "getlist", None)
    pairs = []
    for key in form:
        if not isinstance(key, str):
            raise _malformed("A ping form key is not a string.")
        values = getlist(key) if callable(getlist) else form[key]
        if not isinstance(values, list | tuple):
            values = [values]
        for value in values:
            if not isinstance(value, str):
                raise _malformed(
                    f"The ping form value of {key[:60]!r} is not a string.", field=key
                )
            pairs.append((key, value))
    return pairs


def _timestamp(value, sale_id):
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise MalformedPayloadError.for_field(
            "is not an ISO 8601 date-time",
            field="sale_timestamp",
            value=value,
            sale_id=sale_id,
        ) from None


def _malformed(message, *, field=None):
    return MalformedPayloadError(message, field=field)
