"""Currencies of the sandbox: a fixed USD rate table and Gumroad-style money text."""

from decimal import ROUND_HALF_UP, Decimal


class Currency:
    """A listed currency: lower-case ISO code (as Gumroad sends it), symbol, scale."""

    __slots__ = ("code", "minor_per_major", "symbol", "usd_rate")

    def __init__(self, code, symbol, minor_per_major, usd_rate):
        self.code = code
        self.symbol = symbol
        self.minor_per_major = minor_per_major
        # Value of one major unit in US dollars; fixed so runs are deterministic.
        self.usd_rate = Decimal(usd_rate)


CURRENCIES = {
    "usd": Currency("usd", "$", 100, "1"),
    "eur": Currency("eur", "€", 100, "1.10"),
    "gbp": Currency("gbp", "£", 100, "1.27"),
    "jpy": Currency("jpy", "¥", 1, "0.0067"),
}


def get_currency(code):
    try:
        return CURRENCIES[code.lower()]
    except KeyError:
        raise ValueError(f"The sandbox has no rate for currency {code!r}.") from None


def round_half_up(value):
    return int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def listed_to_usd_cents(listed_minor, currency):
    """Listed minor units (cents, yen for JPY) -> USD cents, like price_cents."""
    major = Decimal(listed_minor) / currency.minor_per_major
    return round_half_up(major * currency.usd_rate * 100)


def usd_cents_to_listed(usd_cents, currency):
    """USD cents -> listed minor units; how Gumroad rebuilds formatted_total_price."""
    major = Decimal(usd_cents) / 100 / currency.usd_rate
    return round_half_up(major * currency.minor_per_major)


def format_number(listed_minor, currency):
    """Money#format(no_cents_if_whole: true, symbol: false): "29", "49.50", "1,000"."""
    negative = listed_minor < 0
    listed_minor = abs(listed_minor)
    if currency.minor_per_major == 1:
        text = f"{listed_minor:,}"
    else:
        major, minor = divmod(listed_minor, currency.minor_per_major)
        text = f"{major:,}" if minor == 0 else f"{major:,}.{minor:02d}"
    return "-" + text if negative else text


def format_money(listed_minor, currency):
    """Formatted price with the currency symbol: "$29", "€9.50", "¥1,000"."""
    return currency.symbol + format_number(listed_minor, currency)


def format_usd_cents(usd_cents):
    """USD Money#format(no_cents_if_whole: true, symbol: true): "$2.50", "$3"."""
    major, minor = divmod(usd_cents, 100)
    return f"${major:,}" if minor == 0 else f"${major:,}.{minor:02d}"
