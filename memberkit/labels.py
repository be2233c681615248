"""Labels that carry a borrower's identifier: the rule, written once (docs/identifiers.md, section 7).

A label is text a member chooses and the platform keeps in clear: a flag's reference, a
correlation id, a consent reference, a portfolio's name, a file's name. A label that is, or
holds, an identifier the standard accepts would put the raw identifier on the platform and
defeat the keying, so ``holds_identifier`` refuses it. Pure Python, no Django: the row
checker, the API, the portal's forms and the member kit all ask it.

What "holds" means, precisely. The label is read as the standard reads an identifier
(NFKC, upper case), then cut into *chains*: runs of letters and digits (``A-Z``, ``0-9``)
joined by whitespace or the standard's separators ``- . / ( )``, a chain possibly opening
with ``+``. Every other character (``_ : # , ;``, Chinese characters, ...) ends a chain.
Within a chain, the letters and digits between two joiners are a *group*; a *part* is any
run of whole consecutive groups, read without its joiners. The label holds an identifier
when some part is:

- a resident identity number: 17 digits and a check character, or 15 digits (the old
  form), with a real birth date, exactly as ``identifiers.normalize("cnid", ...)`` accepts.
  An 18-character number counts even glued to letters (``REF11010519491231002X``): its check
  character and date make a chance match about 1 in 24,000 for an 18-digit record number;
- a mainland mobile number: what ``identifiers.normalize("mobile", ...)`` reads as
  ``+861...``, with any ``+86``, ``0086``, ``86`` or ``0`` in front; a part after a ``+`` is
  read both with it and without it (``+13800138000`` is a mainland number with a stray ``+``);
- the unified social credit code of an individual business (registration authority 9,
  category 2: the code starts ``92``), which names the person who runs it; other credit
  codes name companies, whose codes are public.

A mobile number and a 15-digit number have no check character, so a group glued to letters
(``LN13800138000``) is a record number, not an identifier: a member whose record numbers are
11 digits starting with 1, or 15 digits, keeps them apart from identifiers with a letter prefix.
A run of digits is never cut: ``2024011513800138000`` holds no mobile number.
"""

import re
import unicodedata

from memberkit.identifiers import InvalidIdentifier, normalize


def gettext_noop(message: str) -> str:
    """Marks a message for the catalogue without Django (the member kit has none); the portal and the
    API translate it where they show it (``accounts.validators``)."""
    return message


REASON = "identifier_in_label"
MESSAGE = gettext_noop(
    "Labels must be your institution's own record numbers: this one is, or holds, a resident identity number, "
    "a mobile number or the credit code of an individual business."
)
CONTROL_REASON = "control_character"
CONTROL_MESSAGE = gettext_noop(
    "Control characters (line breaks, tabs, invisible direction marks) are not allowed here."
)
# Python's whitespace after NFKC (the standard removes str.isspace characters); a test checks the list.
SPACES = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\u1680\u2028\u2029"
JOINERS = SPACES + "-./()"
SHORTEST = 11  # a mobile number's 11 digits: no identifier is shorter
LONGEST = 20  # 0086, a five-digit carrier prefix and 11 digits: no writing of an identifier is longer

_J = re.escape(JOINERS)
# What any identifier needs once the joiners are gone: a 1 and 10 more digits (a mobile number ends so),
# 15 digits in a row (a resident identity number), or 92 and 16 more letters or digits (a credit code).
_MAYBE = re.compile(r"1[0-9]{10}|[0-9]{15}|92[0-9A-Za-z]{16}")
_MAYBE_ASCII = re.compile(rb"1[0-9]{10}|[0-9]{15}|92[0-9A-Za-z]{16}")
_ASCII_JOINERS = bytes(ord(joiner) for joiner in JOINERS if joiner.isascii())
_NO_JOINERS = str.maketrans("", "", JOINERS)
# Every writing of a mainland mobile number that phonenumbers reads (prefixes 0, 86, 00, carrier codes):
# a superset checked first, since phonenumbers takes some 40 microseconds. A test holds it to the standard.
_MOBILE_SHAPE = re.compile(r"(?:0|86|1(?:[12][0-9]|79)[0-9]{2}(?:00)?)*1[0-9]{10}")
_CUT = re.compile(rf"[^0-9A-Z+{_J}]+")
_SEPARATORS_TO_SPACES = str.maketrans("-./()", "     ")
_CNID_18 = re.compile(r"[0-9]{17}[0-9X]")
_USCC = frozenset("0123456789ABCDEFGHJKLMNPQRTUWXY")
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _ascii_table() -> bytes:
    """Each ASCII character as the chains see it: letters upper-cased, a joiner a space, + kept, the rest a cut."""
    table = bytearray(b"|" * 256)
    for character in b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ+":
        table[character] = character
    for character in b"abcdefghijklmnopqrstuvwxyz":
        table[character] = character - 32
    for character in _ASCII_JOINERS:
        table[character] = ord(" ")
    return bytes(table)


_ASCII_TABLE = _ascii_table()


def holds_identifier(label: str) -> bool:
    """Whether ``label`` is, or holds, an identifier the standard accepts (see the module's docstring)."""
    if label.isascii():
        if label.isdigit():  # a plain number, the usual record number: one part, read whole
            return len(label) >= SHORTEST and _part_holds(label, False, label, label)
        if len(label) < SHORTEST or _MAYBE_ASCII.search(label.encode().translate(None, _ASCII_JOINERS)) is None:
            return False
        text = label.encode().translate(_ASCII_TABLE).decode()
    else:
        text = unicodedata.normalize("NFKC", label)
        if len(text) < SHORTEST or _MAYBE.search(text.translate(_NO_JOINERS)) is None:
            return False
        text = _CUT.sub("|", text.upper()).translate(_SEPARATORS_TO_SPACES)
    for piece in text.split("|"):
        if len(piece) >= SHORTEST:
            for number, chain in enumerate(piece.split("+")):
                if _chain_holds(chain.split(), plus=number > 0):
                    return True
    return False


def _chain_holds(groups: list[str], plus: bool) -> bool:
    """Whether a part of the chain made of ``groups`` is an identifier; ``plus``: a + opens the chain."""
    for first, head in enumerate(groups):
        lead = len(head) - len(head.lstrip(_LETTERS))
        part = ""
        for group in groups[first:]:
            part += group
            if len(part) >= SHORTEST and _part_holds(part, plus and first == 0, head, group):
                return True
            # Past the longest writing, even without the letters a resident identity number may be glued to.
            if len(part) - lead - (len(group) - len(group.rstrip(_LETTERS))) > LONGEST:
                break
    return False


def _part_holds(part: str, plus: bool, first: str, last: str) -> bool:
    size = len(part)
    if size == 18:
        if _CNID_18.fullmatch(part) and _dated(part[10:14]) and _reads("cnid", part):
            return True
        if part.startswith("92") and _USCC.issuperset(part) and _reads("uscc", part):
            return True
    if part.isdigit():
        if size == 15 and _dated(part[8:12]) and _reads("cnid", part):
            return True
        if size > LONGEST or not _MOBILE_SHAPE.fullmatch(part):
            return False
        # A + read both ways: as the standard reads it, and as a stray + before a mainland number.
        return _mainland_mobile(part) or (plus and _mainland_mobile("+" + part))
    if first[0] in _LETTERS or last[-1] in _LETTERS:
        # An 18-character resident identity number glued to letters: REF11010519491231002X.
        core = part.lstrip(_LETTERS)
        digits = core.rstrip(_LETTERS)
        if len(core) > len(digits) and core[len(digits)] == "X":
            digits += "X"
        if len(digits) == 18 and digits != part and _CNID_18.fullmatch(digits) and _reads("cnid", digits):
            return True
    return False


def _dated(month_day: str) -> bool:
    """Whether ``MMDD`` may be a birth date's month and day: the standard's full check is slower."""
    return "0101" <= month_day <= "1231" and "01" <= month_day[2:] <= "31"


def _reads(id_type: str, text: str) -> bool:
    try:
        normalize(id_type, text)
    except InvalidIdentifier:
        return False
    return True


def _mainland_mobile(text: str) -> bool:
    try:
        return normalize("mobile", text).startswith("+861")
    except InvalidIdentifier:
        return False
