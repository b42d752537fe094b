"""AES-256-GCM encryption of the Gumroad access token (plain Python, no Odoo import).

The key lives outside the database (server config option or environment variable), so a
dump of the database alone does not reveal a token. Each encryption uses a fresh 96-bit
nonce.
Stored form: ``v1:<base64(nonce + ciphertext + tag)>``.
"""

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "v1:"
NONCE_BYTES = 12
# Binds ciphertexts to their purpose: a value encrypted for another use cannot be
# swapped in.
ASSOCIATED_DATA = b"gumroad_connector.access_token"


class KeyMissingError(Exception):
    """No encryption key is configured."""


class KeyInvalidError(Exception):
    """The configured key is not base64 of 32 bytes."""


class WrongKeyError(Exception):
    """The stored token was encrypted under another key (or was altered)."""


def load_key(encoded):
    """Decode the configured key; raise KeyMissingError / KeyInvalidError."""
    if not encoded:
        raise KeyMissingError()
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as err:
        raise KeyInvalidError() from err
    if len(key) != 32:
        raise KeyInvalidError()
    return key


def encrypt(plaintext, key):
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), ASSOCIATED_DATA)
    return PREFIX + base64.b64encode(nonce + sealed).decode()


def decrypt(stored, key):
    if not stored or not stored.startswith(PREFIX):
        raise WrongKeyError()
    try:
        raw = base64.b64decode(stored[len(PREFIX) :], validate=True)
        plain = AESGCM(key).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], ASSOCIATED_DATA
        )
    except (binascii.Error, ValueError, InvalidTag) as err:
        raise WrongKeyError() from err
    return plain.decode()
