"""Versioned secret keys, as the platform's secret files hold them.

A keyring file has one key a line, its version and 64 hexadecimal characters
(``1 3f1c...``); comments start with ``#``. The highest version is the current
one. Peppers chain, so every version from 1 must stay; master keys only wrap,
so an old one may be removed once nothing is wrapped under it any more. The platform pepper and the master key of flag
details are both kept this way, so rotating either is the same operation:
append a line, restart, then run the command that moves stored data on.
No Django here: the settings parse keyrings before Django is configured, and refuse a bad one at
start; ``sharing.keys`` names what the settings' keyrings hold (``Peppers``, ``MasterKeys``).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Self

KEY_LINE = re.compile(r"(\d+)\s+([0-9a-fA-F]{64})")


@dataclass(frozen=True)
class Rules:
    """What a keyring's file may hold: its keys are called ``noun``; a chain needs every version from 1."""

    noun: str
    every_version: bool


PEPPER = Rules("pepper", every_version=True)  # a chain: a token is keyed by every pepper in turn
MASTER_KEY = Rules("master key", every_version=False)  # retired once rewrap_data_keys has moved every data key off it


@dataclass(frozen=True)
class Keyring:
    """Every key used so far, by version; the newest is the current one."""

    by_version: Mapping[int, bytes]
    rules: ClassVar[Rules] = Rules("key", every_version=True)

    @classmethod
    def parse(cls, text: str, rules: Rules | None = None) -> Self:
        """The keyring a file holds, read by ``rules`` (the class's own unless given).

        ``ValueError`` says what is wrong, by line."""
        rules = rules or cls.rules
        by_version: dict[int, bytes] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            match = KEY_LINE.fullmatch(line.strip())
            if match is None:
                raise ValueError(f"{rules.noun} line {number}: write a version and 64 hexadecimal characters")
            version = int(match.group(1))
            if version in by_version:
                raise ValueError(f"{rules.noun} line {number}: version {version} appears twice")
            by_version[version] = bytes.fromhex(match.group(2))
        if not by_version:
            raise ValueError(f"no {rules.noun} given")
        if rules.every_version and sorted(by_version) != list(range(1, len(by_version) + 1)):
            raise ValueError(f"{rules.noun} versions run 1, 2, 3 ... without gaps")
        if min(by_version) < 1:
            raise ValueError(f"{rules.noun} versions start at 1")
        return cls(by_version)

    @classmethod
    def of(cls, keyring: "Keyring") -> Self:
        """The keys of ``keyring`` (as the settings read them) as this kind of keyring."""
        return keyring if isinstance(keyring, cls) else cls(keyring.by_version)

    @property
    def version(self) -> int:
        return max(self.by_version)

    @property
    def current(self) -> bytes:
        return self.by_version[self.version]
