"""What a connector keeps of the buyer in the raw Gumroad data it stores (no I/O).

The books need the buyer's name, email and country (the invoice's partner and its
fiscal position). A sale JSON and a ping also carry the buyer's postal address (for
products with shipping) and the card's visual ("**** **** **** 4242", or the PayPal
email): an option drops those from what is stored. Both shapes are in the facts file
(sale JSON: `street_address`, `city`, `state`, `zip_code`, `card`; ping: the same keys,
the card in bracket style `card[visual]`).
"""

from urllib.parse import parse_qsl, urlencode

# Keys of a sale JSON / ping the accounting never reads and that identify a person
# beyond name, email and country.
PERSONAL_KEYS = frozenset({"street_address", "city", "state", "zip_code", "card"})


def _base_name(key: str) -> str:
    """The key a bracket-style form key belongs to: "card[visual]" -> "card"."""
    return key.split("[", 1)[0]


def minimal_sale_payload(payload):
    """A copy of a sale JSON without the buyer's address and card; the rest as is."""
    if not isinstance(payload, dict):
        return payload
    return {key: value for key, value in payload.items() if key not in PERSONAL_KEYS}


def minimal_ping_body(raw: bytes) -> bytes:
    """A form-encoded ping body without the buyer's address and card.

    A body that carries none of those keys is returned byte for byte, so a malformed
    ping is stored exactly as it came (it is kept to be reported, not rewritten).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    pairs = parse_qsl(text, keep_blank_values=True)
    kept = [
        (key, value) for key, value in pairs if _base_name(key) not in PERSONAL_KEYS
    ]
    if len(kept) == len(pairs):
        return raw
    return urlencode(kept).encode("ascii")
