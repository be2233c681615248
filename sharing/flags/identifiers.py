"""A borrower's identifiers on one record: a flag, a loan, a query's subject or an inspected row.

One definition, which every way in calls: one to ``IDENTIFIERS_MAX`` identifiers, at most one of
each type (docs/identifiers.md). A record gives them in one of two forms:

- flat fields, as every CSV file and today's JSON do: ``id_type`` and ``token`` for the first,
  ``id_type_2`` and ``token_2`` up to ``id_type_5`` and ``token_5`` for the others (a CSV row
  leaves a pair it does not use empty);
- a list, in JSON: ``identifiers: [{"id_type": ..., "token": ...}, ...]``; an error names the
  item by its index from 0: ``identifiers[1].token``.

An error names the field at fault and never quotes a token: it is a borrower's token, or worse,
a raw identifier sent by mistake. The member tokens are keyed into platform tokens by the caller
(``Keyer``), at the edge, as soon as they are known to be valid.
"""

from collections.abc import Mapping
from itertools import chain
from typing import Any

from memberkit.vocabulary import NUMBERED_COLUMNS
from sharing.choices import IDENTIFIERS_MAX, IdType
from sharing.flags.reading import shown
from sharing.keys.tokens import MEMBER_TOKEN, Keyer
from sharing.messages import FieldError, refusal

LIST = "identifiers"
# The flat fields, in order: (id_type, token) of the first identifier, then of the numbered ones.
PAIRS = (("id_type", "token"), *NUMBERED_COLUMNS)
NUMBERED_FIELDS = tuple(chain.from_iterable(NUMBERED_COLUMNS))
FIELDS = (LIST, "id_type", "token", *NUMBERED_FIELDS)

_ID_TYPES = frozenset(IdType.values)
_TOKEN_MATCH = MEMBER_TOKEN.fullmatch
_PAIR_FIELDS = frozenset(("id_type", "token"))
_REQUIRED_ID_TYPE = refusal("id_type", "required")
_REQUIRED_TOKEN = refusal("token", "required")
_BOTH_FORMS = refusal(LIST, "identifier_forms")
_REQUIRED_LIST = refusal(LIST, "required")
_BAD_LIST = refusal(LIST, "bad_identifiers")
_TOO_MANY = refusal(LIST, "too_many_identifiers")

# (id_type, member token) of each identifier, in the order given; valid only if no errors came with them.
MemberIdentifiers = list[tuple[str, str]]
# (id_type, platform token): what is stored and looked up.
Identifiers = tuple[tuple[str, bytes], ...]


def member_identifiers(item: Mapping[str, Any]) -> tuple[MemberIdentifiers, list[FieldError]]:
    """The identifiers ``item`` gives, checked, and the refusals of those it gives wrong."""
    listed = item.get(LIST)
    if listed is None:
        return _flat(item)
    if any(item.get(name) not in (None, "") for name in ("id_type", "token", *NUMBERED_FIELDS)):
        return [], [_BOTH_FORMS]
    if type(listed) is not list:
        return [], [_BAD_LIST]
    if not listed:
        return [], [_REQUIRED_LIST]
    if len(listed) > IDENTIFIERS_MAX:
        return [], [_TOO_MANY]
    found: MemberIdentifiers = []
    errors: list[FieldError] = []
    for index, given in enumerate(listed):
        at = f"{LIST}[{index}]"
        if type(given) is not dict:
            errors.append(refusal(at, "bad_identifiers"))
            continue
        errors.extend(
            refusal(f"{at}.{shown(str(name))}", "unknown_field", "identifier")
            for name in given
            if name not in _PAIR_FIELDS
        )
        _pair(given.get("id_type"), given.get("token"), f"{at}.id_type", f"{at}.token", found, errors)
    return found, errors


def _flat(item: Mapping[str, Any]) -> tuple[MemberIdentifiers, list[FieldError]]:
    found: MemberIdentifiers = []
    errors: list[FieldError] = []
    id_type, token = item.get("id_type"), item.get("token")
    if id_type is None or id_type == "":
        errors.append(_REQUIRED_ID_TYPE)
    if token is None or token == "":
        errors.append(_REQUIRED_TOKEN)
    if not errors:
        _pair(id_type, token, "id_type", "token", found, errors)
    elif id_type not in (None, "") and (type(id_type) is not str or id_type not in _ID_TYPES):
        errors.append(refusal("id_type", "unknown_id_type"))
    elif token not in (None, "") and (type(token) is not str or not _TOKEN_MATCH(token)):
        errors.append(refusal("token", "bad_token"))
    for type_field, token_field in NUMBERED_COLUMNS:
        id_type, token = item.get(type_field), item.get(token_field)
        if (id_type is None or id_type == "") and (token is None or token == ""):
            continue  # a pair the row does not use
        if id_type is None or id_type == "":
            errors.append(refusal(type_field, "required", "id_type"))
        elif token is None or token == "":
            errors.append(refusal(token_field, "required", "token"))
        else:
            _pair(id_type, token, type_field, token_field, found, errors)
    return found, errors


def _pair(
    id_type: object,
    token: object,
    type_field: str,
    token_field: str,
    found: MemberIdentifiers,
    errors: list[FieldError],
) -> None:
    """Check one (id_type, token) pair and add it to ``found``, or say what is wrong with it."""
    wrong = False
    if id_type is None or id_type == "":
        errors.append(refusal(type_field, "required", "id_type"))
        wrong = True
    elif type(id_type) is not str or id_type not in _ID_TYPES:
        errors.append(refusal(type_field, "unknown_id_type"))
        wrong = True
    elif any(seen == id_type for seen, _ in found):
        errors.append(refusal(type_field, "duplicate_id_type"))
        wrong = True
    if token is None or token == "":
        errors.append(refusal(token_field, "required", "token"))
        wrong = True
    elif type(token) is not str or not _TOKEN_MATCH(token):
        errors.append(refusal(token_field, "bad_token"))
        wrong = True
    if not wrong:
        assert isinstance(id_type, str)
        assert isinstance(token, str)
        found.append((id_type, token))


def keyed(identifiers: MemberIdentifiers, keyer: Keyer) -> Identifiers:
    """Platform tokens of checked member identifiers, in their order."""
    return tuple((id_type, keyer(token)) for id_type, token in identifiers)
