"""``verify``: check a downloaded report file against its signature and the published public key.

It needs nothing of the platform, only the three files, so a regulator or an auditor can run
it anywhere; OpenSSL does the same (docs/reports.md).
"""

import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key


def verify(file: Path, signature: Path, public_key: Path) -> bool:
    """Whether ``signature`` is the Ed25519 signature of ``file``'s exact bytes under ``public_key`` (PEM)."""
    key = load_pem_public_key(public_key.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{public_key} is not an Ed25519 public key.")
    try:
        key.verify(signature.read_bytes(), file.read_bytes())
    except InvalidSignature:
        return False
    return True


def run(file: Path, signature: Path | None, public_key: Path) -> int:
    """0 when the file verifies, 1 when it does not, 2 when the files cannot be read."""
    signature = signature or file.with_name(file.name + ".sig")
    try:
        good = verify(file, signature, public_key)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if good:
        print(f"{file}: signature good ({public_key})")
        return 0
    print(f"{file}: SIGNATURE DOES NOT MATCH: the file was changed, or signed with another key", file=sys.stderr)
    return 1
