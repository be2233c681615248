"""Platform tokens: the platform's own key over every member token (docs/identifiers.md, section 4).

A member token is turned into a platform token at the edge, as it arrives; the
member token itself is never stored or logged. Peppers are versioned: when the
pepper is rotated, stored tokens are re-keyed by chaining (``rekey``) without
needing member tokens again, and a member token arriving later is keyed through
the whole chain, so old and new tokens of one person stay equal.
"""

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

MEMBER_TOKEN = re.compile(r"[0-9a-f]{64}")
PEPPER_LINE = re.compile(r"(\d+)\s+([0-9a-fA-F]{64})")


class InvalidMemberToken(ValueError):
    """Not the lowercase hex of 32 bytes."""


@dataclass(frozen=True)
class Peppers:
    """Every pepper the platform has used, by version; the newest is the current one."""

    by_version: Mapping[int, bytes]

    @classmethod
    def parse(cls, text: str) -> "Peppers":
        """One pepper a line: its version and 64 hexadecimal characters (``1 3f1c...``)."""
        by_version = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            match = PEPPER_LINE.fullmatch(line.strip())
            if match is None:
                raise ValueError(f"pepper line {number}: write a version and 64 hexadecimal characters")
            version = int(match.group(1))
            if version in by_version:
                raise ValueError(f"pepper line {number}: version {version} appears twice")
            by_version[version] = bytes.fromhex(match.group(2))
        if not by_version:
            raise ValueError("no pepper given")
        if sorted(by_version) != list(range(1, len(by_version) + 1)):
            raise ValueError("pepper versions run 1, 2, 3 ... without gaps")
        return cls(by_version)

    @property
    def version(self) -> int:
        return max(self.by_version)


def platform_token(member_token: str, peppers: Peppers) -> bytes:
    """HMAC-SHA256 under pepper 1 of the member token's 32 bytes, then under each later pepper in turn."""
    if not isinstance(member_token, str) or not MEMBER_TOKEN.fullmatch(member_token):
        raise InvalidMemberToken("a member token is 64 lowercase hexadecimal characters")
    value = bytes.fromhex(member_token)
    for version in sorted(peppers.by_version):
        value = hmac.new(peppers.by_version[version], value, hashlib.sha256).digest()
    return value


def rekey(stored: bytes, new_pepper: bytes) -> bytes:
    """A stored platform token moved on to the next pepper: what ``platform_token`` now gives."""
    return hmac.new(new_pepper, stored, hashlib.sha256).digest()
