"""Gumroad amounts: USD cents integers and formatted listed-currency strings."""

import re
from decimal import Decimal

from .errors import MalformedPayloadError

# One number inside text such as "$1,234.56 a month": digits with grouping or
# decimal marks between them. A plain space only counts as grouping before exactly
# three digits, so "$10 3 months" is not read as 103.
_NUMBER = re.compile(
    r"(?P<sign>[-\u2212]?)\s*[^\d\s-]{0,4}\s*"
    r"(?P<number>\d+(?:(?:[,.'\u2019\u00a0\u202f]|[ ](?=\d{3}(?!\d)))\d+)*)"
)
_GROUPING = re.compile(r"['\u2019\u00a0\u202f ]")
# No Gumroad amount comes close; the bound keeps Decimal arithmetic exact downstream.
MAX_INTEGER_DIGITS = 15


def cents_to_decimal(cents: int) -> Decimal:
    """2900 -> Decimal("29.00")."""
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise TypeError(f"cents must be an int, not {type(cents).__name__}")
    return Decimal(cents).scaleb(-2)


def parse_amount(
    text: str, *, field: str = "amount", sale_id: str | None = None
) -> Decimal:
    """Read a Gumroad money string: "49.50", "1,000", "€9.50", "$10 a month" -> Decimal.

    A leading symbol or code and trailing words are ignored; "," is a thousands
    separator ("1,000") unless it is the last mark and not followed by exactly three
    digits ("9,50"). Raises MalformedPayloadError naming the field.
    """

    def malformed(problem="is not an amount"):
        return MalformedPayloadError.for_field(
            problem, field=field, value=text, sale_id=sale_id
        )

    if isinstance(text, bool):
        raise malformed()
    if isinstance(text, int) or isinstance(text, Decimal) and text.is_finite():
        text_value = str(text)
    elif isinstance(text, str):
        text_value = text
    else:
        raise malformed()

    match = _NUMBER.search(text_value)
    if not match:
        raise malformed()
    number = _normalise_number(_GROUPING.sub("", match["number"]))
    if number is None:
        raise malformed()
    integer_digits = number.partition(".")[0].lstrip("0")
    if len(integer_digits) > MAX_INTEGER_DIGITS:
        raise malformed("is too large")
    amount = Decimal(number)
    return -amount if match["sign"] and amount else amount


def _normalise_number(token: str) -> str | None:
    """Digits with marks -> plain decimal text: 1,234.56 / 1.234,56 -> 1234.56."""
    has_comma, has_dot = "," in token, "." in token
    if has_comma and has_dot:
        decimal_mark = "," if token.rfind(",") > token.rfind(".") else "."
        grouping_mark = "." if decimal_mark == "," else ","
        integer, _, fraction = token.rpartition(decimal_mark)
        if decimal_mark in integer or not _valid_groups(integer.split(grouping_mark)):
            return None
        return integer.replace(grouping_mark, "") + "." + fraction
    if not (has_comma or has_dot):
        return token
    mark = "," if has_comma else "."
    parts = token.split(mark)
    if len(parts) > 2:
        # Several identical marks can only be thousands separators: "1,000,000".
        return "".join(parts) if _valid_groups(parts) else None
    integer, fraction = parts
    if mark == "," and len(fraction) == 3 and _valid_groups(parts):
        return integer + fraction  # "1,000"
    return integer + "." + fraction


def _valid_groups(parts: list[str]) -> bool:
    return 1 <= len(parts[0]) <= 3 and all(len(part) == 3 for part in parts[1:])
