"""``verify``: check a downloaded report file against its signature and the published public key.

It needs nothing of the platform, only the three files, so a regulator or an auditor can run
it anywhere; OpenSSL does the same (docs/reports.md). The check itself is the kit's one
Ed25519 verifier, ``memberkit.signatures``, which audit proofs go through as well.
"""

import sys
from pathlib import Path

from memberkit import signatures


def verify(file: Path, signature: Path, public_key: Path) -> bool:
    """Whether ``signature`` is the Ed25519 signature of ``file``'s exact bytes under ``public_key`` (PEM)."""
    try:
        key = signatures.pem_key(public_key.read_bytes())
    except signatures.NotEd25519:
        raise ValueError(f"{public_key} is not an Ed25519 public key.") from None
    return signatures.signed(key, signature.read_bytes(), file.read_bytes())


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
