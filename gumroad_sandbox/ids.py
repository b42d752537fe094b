"""Gumroad's identifier formats: obfuscated ids, order numbers, license keys."""

import base64
import hashlib

# encrypt_numeric maps an internal row id to an integer below 2**30. The sandbox uses an
# invertible affine map so page keys can be decoded back to the row id, as Gumroad does.
ORDER_ID_MODULUS = 2**30
_MULTIPLIER = 387_420_489  # odd, so invertible modulo 2**30
_OFFSET = 524_287
_INVERSE = pow(_MULTIPLIER, -1, ORDER_ID_MODULUS)


def external_id(rng):
    """A 24-character url-safe base64 id ending "==" (16 bytes, like ObfuscateIds)."""
    return base64.urlsafe_b64encode(rng.getrandbits(128).to_bytes(16, "big")).decode()


def derived_id(*parts):
    """An external id computed from `parts`: ids added to existing demo records
    without drawing from the seeded stream (which would change every later value)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode()


def is_external_id(text):
    if not isinstance(text, str) or len(text) != 24 or not text.endswith("=="):
        return False
    try:
        return len(base64.urlsafe_b64decode(text.encode("ascii"))) == 16
    except (ValueError, UnicodeEncodeError):
        return False


def order_id_for(row_key):
    return (row_key * _MULTIPLIER + _OFFSET) % ORDER_ID_MODULUS


def row_key_for(order_id):
    return ((order_id - _OFFSET) * _INVERSE) % ORDER_ID_MODULUS


def license_key(rng):
    """Four groups of eight uppercase hex digits (app/models/license.rb)."""
    return "-".join(f"{rng.getrandbits(32):08X}" for _ in range(4))


def numeric_user_id(rng):
    """A user's external id: a numeric string of 13 digits."""
    return str(rng.randrange(10**12, 10**13))
