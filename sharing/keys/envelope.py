"""Envelope encryption of flag details (docs/architecture.md, "Flag details").

Each institution's details are sealed with AES-256-GCM under its own data key;
the data key is stored only wrapped (AES-256-GCM again) by the platform's master
key, which lives in the environment or a secret file, never in the database.
Rotating the master key re-wraps the data keys and touches no details.

Every ciphertext is bound to where it belongs by its associated data (the
institution and the flag's reference, or the institution for a data key), so a
ciphertext copied to another row or institution fails to open instead of being
read in the wrong place. No Django here.
"""

import itertools
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from config.keyring import MASTER_KEY, Keyring

KEY_BYTES = 32
NONCE_BYTES = 12


class MasterKeys(Keyring):
    """The master keys that wrap data keys, by version; the newest wraps new ones."""

    rules = MASTER_KEY


class CannotOpen(ValueError):
    """A ciphertext that fails authentication: wrong key, wrong place, or altered."""


def new_data_key() -> bytes:
    return os.urandom(KEY_BYTES)


def seal(key: bytes, plaintext: bytes, context: bytes) -> bytes:
    """The random nonce followed by the AES-256-GCM ciphertext and tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context)


def open_sealed(key: bytes, sealed: bytes, context: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context)
    except (InvalidTag, ValueError):
        raise CannotOpen("the ciphertext does not open with this key in this place") from None


class Sealer:
    """Seals many values under one key, reusing the cipher (the hot path of a file upload).

    Its nonces are 8 random bytes drawn once and a 4-byte counter (NIST SP 800-38D's
    deterministic construction): unique per value without a system call each, and
    across sealers as long as two of 2^64 random prefixes do not meet.
    """

    LIMIT = 2**32

    def __init__(self, key: bytes) -> None:
        self._encrypt = AESGCM(key).encrypt
        self._prefix = os.urandom(NONCE_BYTES - 4)
        self._counter = itertools.count()

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        number = next(self._counter)
        if number >= self.LIMIT:
            raise OverflowError("a sealer seals at most 2^32 values; make a new one")
        nonce = self._prefix + number.to_bytes(4, "big")
        return nonce + self._encrypt(nonce, plaintext, context)


def wrap(master: MasterKeys, data_key: bytes, context: bytes) -> tuple[int, bytes]:
    """The data key sealed under the current master key, and that key's version."""
    return master.version, seal(master.current, data_key, context)


def unwrap(master: MasterKeys, version: int, wrapped: bytes, context: bytes) -> bytes:
    try:
        key = master.by_version[version]
    except KeyError:
        raise CannotOpen(f"master key version {version} is not configured") from None
    return open_sealed(key, wrapped, context)
