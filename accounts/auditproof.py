"""The audit trail's platform side: the hash chain, Merkle trees, inclusion paths and checkpoint signing.

Checking is the member kit's (``memberkit.signatures``, the one Ed25519 verifier, which anyone
holding an exported proof and the platform's public key runs on their own machine); this module
builds on its definitions and re-exports them, so that sealing and its callers name one module:

    python -m memberkit.signatures proof.json audit-public-key.pem   (python -m accounts.auditproof: the same)

Definitions (docs/audit.md has the reasoning), besides the kit's canonical form, digest, leaf and node:
- the chain: ``chain[n] = SHA-256(chain[n-1] || digest[n])``, ``chain[0]`` 32 zero bytes;
- a checkpoint's Merkle root is RFC 6962's tree hash over its events' digests;
- a checkpoint's signature is Ed25519 over its own canonical form (``checkpoint_message``).
"""

import hashlib
import sys
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from memberkit.signatures import (
    CHECKPOINT_FIELDS,
    CHECKPOINT_VERSION,
    canonical,
    checkpoint_message,
    digest,
    key_id,
    leaf_hash,
    load_public_key,
    main,
    node_hash,
    root_from_path,
    signature_valid,
    verify_proof,
)

__all__ = [
    "CHECKPOINT_FIELDS",
    "CHECKPOINT_VERSION",
    "GENESIS",
    "canonical",
    "chain",
    "checkpoint_message",
    "digest",
    "inclusion_path",
    "key_id",
    "leaf_hash",
    "load_public_key",
    "main",
    "merkle_root",
    "node_hash",
    "published_key",
    "root_from_path",
    "sign_checkpoint",
    "signature_valid",
    "verify_proof",
]

GENESIS = bytes(32)


def chain(previous: bytes, event_digest: bytes) -> bytes:
    return hashlib.sha256(previous + event_digest).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (RFC 6962, section 2.1)."""
    return 1 << ((size - 1).bit_length() - 1)


def merkle_root(digests: Sequence[bytes]) -> bytes:
    if not digests:
        raise ValueError("a checkpoint holds at least one event")
    level = [leaf_hash(d) for d in digests]
    return _tree_hash(level)


def _tree_hash(leaves: Sequence[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(_tree_hash(leaves[:k]), _tree_hash(leaves[k:]))


def inclusion_path(digests: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index`` (RFC 6962, section 2.1.1)."""
    if not 0 <= index < len(digests):
        raise IndexError(index)
    return _path(index, [leaf_hash(d) for d in digests])


def _path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*_path(index, leaves[:k]), _tree_hash(leaves[k:])]
    return [*_path(index - k, leaves[k:]), _tree_hash(leaves[:k])]


def published_key(public_key: Ed25519PublicKey) -> dict[str, str]:
    """An Ed25519 public key as the platform publishes it: its id, PEM and raw hex."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {
        "algorithm": "Ed25519",
        "key_id": key_id(public_key),
        "public_key_pem": pem.decode(),
        "public_key_hex": raw.hex(),
    }


def sign_checkpoint(checkpoint: dict[str, Any], private_key: Ed25519PrivateKey) -> str:
    return private_key.sign(checkpoint_message(checkpoint)).hex()


if __name__ == "__main__":
    sys.exit(main())
