"""The Riskshare identifier standard, version 1 (docs/identifiers.md), and member tokens.

Members run this module on their own machines, so it imports nothing from Django:
only the standard library, python-stdnum (check characters), phonenumbers and
pycountry. The same person yields the same member token at every member:

    >>> member_token("cnid", "110105 19491231 002x", bytes(32)) == member_token("cnid", "11010519491231002X", bytes(32))
    True

``normalize`` returns an identifier's canonical value or raises ``InvalidIdentifier``
with a machine-readable ``reason``.
"""

import hashlib
import hmac
import re
import unicodedata
from calendar import isleap
from collections.abc import Callable
from datetime import date
from functools import lru_cache, partial

VERSION = "rs1"
TYPES = ("cnid", "mobile", "uscc", "passport")
KEY_BYTES = 32

# Removed from every identifier after NFKC: whitespace (any kind) and these separators.
_SEPARATORS = str.maketrans("", "", "-./()")
_CNID_18 = re.compile(r"[0-9]{17}[0-9X]")
_DIGITS = re.compile(r"[0-9]+")
USCC_ALPHABET = frozenset("0123456789ABCDEFGHJKLMNPQRTUWXY")
_PASSPORT_NUMBER = re.compile(r"[A-Z0-9]{5,20}")
_EARLIEST_BIRTH = date(1900, 1, 1)


class InvalidIdentifier(ValueError):
    """An identifier that the standard refuses; ``reason`` says why, for machines."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def clean(raw: str) -> str:
    """The clean-up every type shares: NFKC, no whitespace or separators, upper case."""
    text = unicodedata.normalize("NFKC", raw)
    text = "".join(character for character in text if not character.isspace())
    return text.translate(_SEPARATORS).upper()


def normalize(id_type: str, raw: str) -> str:
    """The canonical value of ``raw`` as an identifier of ``id_type``."""
    try:
        normalizer = _NORMALIZERS[id_type]
    except KeyError:
        raise InvalidIdentifier("unknown_type", f"unknown identifier type {id_type!r}") from None
    if not isinstance(raw, str):
        raise InvalidIdentifier("bad_characters", "an identifier is text")
    # ASCII letters and digits alone are already clean but for case: skip NFKC and the scans.
    text = raw.upper() if raw.isascii() and raw.isalnum() else clean(raw)
    return normalizer(text)


def normalizer(id_type: str) -> Callable[[str], str]:
    """``normalize`` for one type, as a function of the raw value: the loop of a file calls it per row.

    For resident identity numbers already written canonically (18 ASCII digits,
    or 17 and an ``X`` or ``x``), the usual case in a member's files, it takes a
    short path that skips the clean-up; every other value goes through
    ``normalize``. Both give the same answer for every input (a test holds them to it).
    """
    if id_type != "cnid":
        return partial(normalize, id_type)
    birth_dates = _birth_dates()

    def cnid(raw: str) -> str:
        # ISO 7064 MOD 11-2 holds when the 18 characters, read as a number in base 13 (13 = 2 mod 11,
        # and X, ten, written A), leave 1 mod 11: python-stdnum's computation, and a test compares the two.
        if len(raw) == 18 and raw.isascii() and raw[6:14] in birth_dates:
            if raw.isdigit():
                if int(raw, 13) % 11 == 1:
                    return raw
            elif raw[17] in "Xx" and (body := raw[:17]).isdigit() and (int(body, 13) * 13 + 10) % 11 == 1:
                return body + "X"
        return normalize("cnid", raw)

    return cnid


@lru_cache(maxsize=1)
def _birth_dates(today: date | None = None) -> frozenset[str]:
    """Every valid birth date as written in a resident identity number, from 1900-01-01 to today.

    Taken once, for the short path: a later date is not in it and goes the long way, through ``normalize``.
    """
    today = today or date.today()
    leap_year = [
        f"{day:%m%d}"
        for day in map(date.fromordinal, range(date(2000, 1, 1).toordinal(), date(2001, 1, 1).toordinal()))
    ]
    common_year = [month_day for month_day in leap_year if month_day != "0229"]
    last = f"{today:%Y%m%d}"
    return frozenset(
        day
        for year in range(_EARLIEST_BIRTH.year, today.year + 1)
        for day in (f"{year}{month_day}" for month_day in (leap_year if isleap(year) else common_year))
        if day <= last
    )


def message(id_type: str, canonical: str) -> bytes:
    return f"{VERSION}:{id_type}:{canonical}".encode()


def member_token(id_type: str, raw: str, key: bytes) -> str:
    """The lowercase hex HMAC-SHA256 of the identifier's message under the consortium key."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"the consortium key is {KEY_BYTES} bytes, not {len(key)}")
    return hmac.new(key, message(id_type, normalize(id_type, raw)), hashlib.sha256).hexdigest()


def _cnid(text: str) -> str:
    if len(text) == 15:
        if not _DIGITS.fullmatch(text):
            raise InvalidIdentifier("bad_characters", "a 15-digit resident identity number has digits only")
        body = text[:6] + "19" + text[6:]
        text = body + _cnid_check(body)
    elif len(text) != 18:
        raise InvalidIdentifier("bad_length", "a resident identity number has 18 characters (or 15, the old form)")
    elif not _CNID_18.fullmatch(text):
        raise InvalidIdentifier("bad_characters", "a resident identity number is 17 digits and a digit or X")
    elif _cnid_check(text[:17]) != text[17]:
        raise InvalidIdentifier("bad_checksum", "the check character of this resident identity number is wrong")
    _check_birth_date(text[6:14])
    return text


def _cnid_check(body: str) -> str:
    """ISO 7064 MOD 11-2 over 17 digits (stdnum's function reads all but the last character)."""
    from stdnum.cn import ric  # imported when first needed: a file of canonical numbers never needs it

    return str(ric.calc_check_digit(body + "0"))


@lru_cache(maxsize=65536)
def _check_birth_date(digits: str) -> None:
    """Raises for a bad date; a good one is remembered (a date up to today stays valid)."""
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise InvalidIdentifier("bad_date", f"{digits} is not a date") from None
    if not _EARLIEST_BIRTH <= born <= date.today():
        raise InvalidIdentifier("bad_date", f"a birth date lies between 1900-01-01 and today, not {born}")


def _mobile(text: str) -> str:
    import phonenumbers  # imported when first needed, as the libraries below: the client starts faster

    if text.startswith("00"):
        text = "+" + text[2:]
    if not _DIGITS.fullmatch(text.removeprefix("+")):
        raise InvalidIdentifier("bad_characters", "a mobile number has digits, after an optional + or 00")
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        raise InvalidIdentifier("bad_length", "this is not a telephone number") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidIdentifier("bad_length", "no telephone number of that country has this many digits")
    national = str(number.national_number)
    if number.country_code == 86 and not (len(national) == 11 and national.startswith("1")):
        raise InvalidIdentifier("not_mobile", "a Chinese mobile number has 11 digits and starts with 1")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _uscc(text: str) -> str:
    if len(text) != 18:
        raise InvalidIdentifier("bad_length", "a unified social credit code has 18 characters")
    if not set(text) <= USCC_ALPHABET:
        raise InvalidIdentifier("bad_characters", "a unified social credit code uses 0-9 and A-Y but I, O, S, V, Z")
    from stdnum.cn import uscc

    if uscc.calc_check_digit(text[:17]) != text[17]:
        raise InvalidIdentifier("bad_checksum", "the check character of this code is wrong")
    return text


@lru_cache(maxsize=1)
def _issuers() -> frozenset[str]:
    """ISO 3166-1 alpha-3 codes, loaded on the first passport: pycountry's database takes a while to read."""
    import pycountry

    return frozenset(country.alpha_3 for country in pycountry.countries)


def _passport(text: str) -> str:
    issuer, colon, number = text.partition(":")
    if not colon or ":" in number:
        raise InvalidIdentifier("bad_format", "a passport is written ISSUER:NUMBER, such as CHN:E12345678")
    if issuer not in _issuers():
        raise InvalidIdentifier("unknown_issuer", f"{issuer!r} is not an ISO 3166-1 alpha-3 country code")
    if not 5 <= len(number) <= 20:
        raise InvalidIdentifier("bad_length", "a passport number has 5 to 20 letters and digits")
    if not _PASSPORT_NUMBER.fullmatch(number):
        raise InvalidIdentifier("bad_characters", "a passport number has letters and digits only")
    return f"{issuer}:{number}"


_NORMALIZERS = {"cnid": _cnid, "mobile": _mobile, "uscc": _uscc, "passport": _passport}


@lru_cache(maxsize=1)
def phone_table() -> dict[str, dict[str, object]]:
    """Per country calling code, what ``_mobile`` takes from phonenumbers' metadata of the code's main
    region: the possible lengths of a national number (local-only ones included, as
    ``is_possible_number`` counts them) and the national prefix pattern, for the browser's copy."""
    import phonenumbers
    from phonenumbers import PhoneMetadata

    table: dict[str, dict[str, object]] = {}
    for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
        region = phonenumbers.region_code_for_country_code(code)
        if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
            metadata = PhoneMetadata.metadata_for_nongeo_region(code)
        else:
            metadata = PhoneMetadata.metadata_for_region(region)
        if metadata is None or metadata.general_desc is None:
            continue
        general = metadata.general_desc
        lengths = sorted({n for n in (*general.possible_length, *general.possible_length_local_only) if n > 0})
        prefix = metadata.national_prefix_for_parsing or metadata.national_prefix or ""
        table[str(code)] = {"lengths": lengths, "prefix": prefix}
    return table
