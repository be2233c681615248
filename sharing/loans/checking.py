"""Checking one reported loan, whether it came as an item of a JSON batch or a row of a file.

``Checker.check`` is the single definition of a valid loan: the REST batch and the file upload
call it, so they accept and refuse exactly the same things, with the same field names and
reason codes. The rules it shares with flags are not restated here: the reference
(``sharing.flags.checking.reference_refusal``), the dates and retention (``parsed_date``,
``expiry``) and the borrower's identifiers (``sharing.flags.identifiers``).

A loan is positive information, reported under the borrower's consent: it carries the reference
of the borrower's written authorization (``consent_reference``), a label the platform keeps in
clear and which therefore may hold no identifier. The member tokens are keyed into platform
tokens here, at the edge; they are never kept, returned or put into an error message.
"""

from collections.abc import Mapping
from datetime import date
from itertools import islice
from typing import Any, NamedTuple

from memberkit import labels
from memberkit.labels import holds_identifier
from memberkit.text import has_control
from sharing.choices import CONSENT_MAX, AmountBand, ProductType
from sharing.flags import identifiers
from sharing.flags.checking import UNKNOWN_FIELDS_LISTED, expiry, parsed_date, reference_refusal
from sharing.flags.identifiers import Identifiers, keyed, member_identifiers
from sharing.flags.reading import shown
from sharing.keys.tokens import Keyer, Peppers
from sharing.messages import FieldError, refusal

# The columns of a file of loans: the first identifier's pair is required, the others (id_type_2 ...) not.
REQUIRED_COLUMNS = ("reference", "id_type", "token", "product", "opened_on", "amount_band", "consent_reference")
OPTIONAL_COLUMNS = ("closed_on", *identifiers.NUMBERED_FIELDS)
# A loan's own fields, and the borrower's identifiers in either form (sharing.flags.identifiers).
LOAN_FIELDS = ("reference", "product", "opened_on", "closed_on", "amount_band", "consent_reference")
FIELDS = LOAN_FIELDS + identifiers.FIELDS

_FIELD_SET = frozenset(FIELDS)
_PRODUCTS = frozenset(ProductType.values)
_AMOUNT_BANDS = frozenset(AmountBand.values)
_REQUIRED_REFERENCE = refusal("reference", "required", "loan_reference")
_REQUIRED_PRODUCT = refusal("product", "required")
_UNKNOWN_PRODUCT = refusal("product", "unknown_product")
_REQUIRED_AMOUNT_BAND = refusal("amount_band", "required")
_UNKNOWN_AMOUNT_BAND = refusal("amount_band", "unknown_amount_band")
_REQUIRED_CONSENT = refusal("consent_reference", "required")
_BAD_CONSENT = refusal("consent_reference", "bad_consent_reference")
_CONTROL_IN_CONSENT = refusal("consent_reference", labels.CONTROL_REASON)
_IDENTIFIER_IN_CONSENT = refusal("consent_reference", labels.REASON)
_CLOSED_BEFORE_OPENED = refusal("closed_on", "closed_before_opened")
_PAST_RETENTION = refusal("closed_on", "past_loan_retention")


class CheckedLoan(NamedTuple):
    """A valid loan as the platform stores it; ``expires_on`` is None while it is open."""

    reference: str
    product: str
    opened_on: date
    closed_on: date | None
    amount_band: str
    consent_reference: str
    expires_on: date | None
    identifiers: Identifiers  # (id_type, platform token) of each, in the order given


class Checker:
    """Checks loans against today's date with the platform's current peppers."""

    def __init__(self, peppers: Peppers, today: date) -> None:
        self.today = today
        self._keyer = Keyer(peppers)

    def check(self, item: Mapping[str, Any]) -> CheckedLoan | list[FieldError]:
        errors: list[FieldError] = []
        if not _FIELD_SET.issuperset(item):
            unknown = (name for name in item if name not in _FIELD_SET)
            errors.extend(
                refusal(shown(str(name)), "unknown_field", "loan") for name in islice(unknown, UNKNOWN_FIELDS_LISTED)
            )

        reference = item.get("reference")
        if reference is None or reference == "":
            errors.append(_REQUIRED_REFERENCE)
            reference = ""
        else:
            reference = reference if type(reference) is str else str(reference)
            if (refused := reference_refusal(reference)) is not None:
                errors.append(refused)

        found, wrong = member_identifiers(item)
        errors.extend(wrong)

        product = item.get("product", "")
        if product is None or product == "":
            errors.append(_REQUIRED_PRODUCT)
        elif type(product) is not str or product not in _PRODUCTS:
            errors.append(_UNKNOWN_PRODUCT)

        today = self.today
        opened_on = parsed_date(item.get("opened_on"), "opened_on", errors, today, required=True)
        closed_on = parsed_date(item.get("closed_on"), "closed_on", errors, today)
        expires_on = None
        if closed_on is not None:
            if opened_on is not None and closed_on < opened_on:
                errors.append(_CLOSED_BEFORE_OPENED)
            expires_on = expiry(closed_on)
            if expires_on <= today:
                errors.append(_PAST_RETENTION)

        amount_band = item.get("amount_band", "")
        if amount_band is None or amount_band == "":
            errors.append(_REQUIRED_AMOUNT_BAND)
        elif type(amount_band) is not str or amount_band not in _AMOUNT_BANDS:
            errors.append(_UNKNOWN_AMOUNT_BAND)

        consent = _consent(item.get("consent_reference"), errors)

        if errors:
            return errors
        assert opened_on is not None  # no errors: it was given and valid
        return CheckedLoan(
            reference, product, opened_on, closed_on, amount_band, consent, expires_on, keyed(found, self._keyer)
        )


def _consent(value: object, errors: list[FieldError]) -> str:
    """The consent reference, stripped: required, short, a label that holds no identifier nor control character.

    Surrounding whitespace does not count, as for a query's (``vocabulary.consent_refusal``): blank is none.
    """
    if value is None:
        errors.append(_REQUIRED_CONSENT)
        return ""
    if type(value) is not str:
        errors.append(_BAD_CONSENT)
        return ""
    consent = value.strip()
    if not consent:
        errors.append(_REQUIRED_CONSENT)
    elif len(consent) > CONSENT_MAX:
        errors.append(_BAD_CONSENT)
    elif has_control(consent):
        errors.append(_CONTROL_IN_CONSENT)
    elif holds_identifier(consent):
        errors.append(_IDENTIFIER_IN_CONSENT)
    return consent
