"""The one Ed25519 verifier: report files, and the audit trail's checkpoints and inclusion proofs.

Whatever the platform signs, anyone holding its public key checks here, offline: a report file's
detached signature (the client's ``verify`` command), and an audit event's inclusion proof:

    python -m memberkit.signatures proof.json audit-public-key.pem

This module needs the standard library and ``cryptography``, nothing else, not even the rest of
the kit: a member or an auditor may copy this one file and run it.

The audit definitions (docs/audit.md has the reasoning; ``accounts.auditproof`` seals with them):
- an event's canonical form is its fields as JSON, keys sorted, no spaces, UTF-8;
- its digest is SHA-256 of the canonical form;
- a checkpoint's Merkle root is RFC 6962's tree hash over its events' digests
  (leaf ``SHA-256(0x00 || digest)``, node ``SHA-256(0x01 || left || right)``);
- a checkpoint's signature is Ed25519 over its own canonical form.
"""

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

CHECKPOINT_VERSION = "riskshare-audit-checkpoint-1"
CHECKPOINT_FIELDS = (
    "number",
    "first_seq",
    "last_seq",
    "horizon",
    "merkle_root",
    "chain_head",
    "signed_at",
    "key_id",
)


class NotEd25519(ValueError):
    """A public key that is not an Ed25519 key: the platform signs with nothing else."""


def pem_key(pem: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from its PEM form; ``ValueError`` for anything else."""
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise NotEd25519("not an Ed25519 public key")
    return key


def load_public_key(text: str) -> Ed25519PublicKey:
    """A public key as the platform publishes it: PEM, or 64 hexadecimal characters."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        return pem_key(text.encode())
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))


def key_id(public_key: Ed25519PublicKey) -> str:
    """The first 16 hexadecimal characters of the SHA-256 of the raw key: how the platform names a key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def signed(public_key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is the Ed25519 signature of ``message`` under ``public_key``: the one check."""
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(fields: dict[str, Any]) -> bytes:
    return hashlib.sha256(canonical(fields)).digest()


def leaf_hash(event_digest: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + event_digest).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_path(event_digest: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The root that ``path`` leads to from the leaf, or None if the path cannot fit the tree (RFC 9162 2.1.3.2)."""
    if not 0 <= index < size:
        return None
    fn, sn, result = index, size - 1, leaf_hash(event_digest)
    for sibling in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    return result if sn == 0 else None


def checkpoint_message(checkpoint: dict[str, Any]) -> bytes:
    """What the platform signs: the checkpoint's fields and the format's version."""
    return canonical({"version": CHECKPOINT_VERSION, **{name: checkpoint[name] for name in CHECKPOINT_FIELDS}})


def signature_valid(checkpoint: dict[str, Any], public_key: Ed25519PublicKey) -> bool:
    try:
        signature = bytes.fromhex(checkpoint["signature"])
    except ValueError:
        return False
    return signed(public_key, signature, checkpoint_message(checkpoint))


def verify_proof(proof: dict[str, Any], public_key: Ed25519PublicKey) -> str | None:
    """None when the proof holds; otherwise why it does not."""
    checkpoint = proof["checkpoint"]
    if checkpoint["key_id"] != key_id(public_key):
        return "the checkpoint was signed with another key"
    if not signature_valid(checkpoint, public_key):
        return "the checkpoint's signature is not valid"
    index = proof["seq"] - checkpoint["first_seq"]
    size = checkpoint["last_seq"] - checkpoint["first_seq"] + 1
    path = [bytes.fromhex(step) for step in proof["path"]]
    root = root_from_path(digest(proof["event"]), index, size, path)
    if root is None or root.hex() != checkpoint["merkle_root"]:
        return "the event is not in the checkpoint's Merkle tree"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check an audit event's inclusion proof against the public key.")
    parser.add_argument("proof", type=Path, help="the proof as exported from /api/v1/audit/events/{id}/proof")
    parser.add_argument("public_key", type=Path, help="the platform's audit public key (PEM or hex)")
    args = parser.parse_args(argv)
    proof = json.loads(args.proof.read_text(encoding="utf-8"))
    problem = verify_proof(proof, load_public_key(args.public_key.read_text(encoding="utf-8")))
    if problem is not None:
        print(f"NOT VALID: {problem}", file=sys.stderr)
        return 1
    checkpoint = proof["checkpoint"]
    print(
        f"valid: event {proof['event']['id']} ({proof['event']['action']}) is entry {proof['seq']} "
        f"of checkpoint {checkpoint['number']}, signed {checkpoint['signed_at']} by key {checkpoint['key_id']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
