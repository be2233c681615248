"""Loans as members report them, for the loan tests."""

from typing import Any

from tests.factories import PEOPLE, member_token_of

MOBILE = "+8613800138000"


def loan_item(reference: str = "LN-1", person: int = 0, **fields: Any) -> dict[str, Any]:
    """A valid open cash loan on ``PEOPLE[person]``'s resident ID; a field given as None is left out."""
    item: dict[str, Any] = {
        "reference": reference,
        "id_type": "cnid",
        "token": member_token_of(PEOPLE[person]),
        "product": "cash_loan",
        "opened_on": "2026-03-01",
        "amount_band": "10k_50k",
        "consent_reference": "AUTH-2026-0001",
    }
    item.update(fields)
    return {name: value for name, value in item.items() if value is not None}


def mobile_token(raw: str = MOBILE) -> str:
    return member_token_of(raw, "mobile")
