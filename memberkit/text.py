"""What text the platform accepts: one rule for JSON bodies, file rows, labels and names.

Pure Python, no Django: the API's parser, the row checker, the forms and the member kit
all ask the same two questions.

- ``unstorable``: a NUL (PostgreSQL text cannot hold it) or a lone surrogate (no UTF-8
  encoding exists for it) anywhere in the text. Refused everywhere, in every field.
- ``has_control``: any control character: C0 and C1 controls (CR and LF included), and
  the invisible bidirectional marks and overrides that make a name read differently from
  what it is. Refused in names, labels and references, which are shown to people and
  recorded in the audit trail.
"""

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def unstorable(text: str) -> bool:
    """Whether ``text`` holds a NUL or a lone surrogate, which no field can store."""
    return _UNSTORABLE.search(text) is not None


def escaped(text: str) -> str:
    """``text`` with each NUL and lone surrogate written as its escape (``\\u0000``), to name it safely."""
    return _UNSTORABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control character, a bidirectional override, or anything unstorable."""
    return _CONTROL.search(text) is not None
