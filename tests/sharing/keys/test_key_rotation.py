"""Rotating the master key (re-wrap data keys) and the pepper (re-key tokens), with nothing else needed."""

import io
from datetime import date

import pytest
from django.core.management import call_command

from accounts.choices import AuditAction
from accounts.models import AuditEvent
from sharing.flags import services
from sharing.keys import datakeys as keys
from sharing.keys.envelope import MasterKeys
from sharing.keys.tokens import Peppers, platform_token
from sharing.models import DataKey, Flag, FlagToken, Loan, LoanToken, QueryRecord
from tests.factories import flag_item, member_token_of, stored_token, stored_tokens

pytestmark = pytest.mark.django_db


def with_new_version(keyring, cls):
    return cls({**keyring.by_version, keyring.version + 1: bytes(range(32, 64))})


def test_rewrapping_moves_every_data_key_to_the_new_master_key_and_details_still_open(cast, settings):
    services.contribute(cast.alpha.institution, [flag_item("A-1")])
    services.contribute(cast.beta.institution, [flag_item("B-1", details={"note": "beta"})])
    old = settings.DETAILS_MASTER_KEYS
    settings.DETAILS_MASTER_KEYS = with_new_version(old, MasterKeys)
    out = io.StringIO()

    call_command("rewrap_data_keys", stdout=out)

    assert set(DataKey.objects.values_list("master_version", flat=True)) == {old.version + 1}
    assert "re-wrapped 2 data keys" in out.getvalue()
    # The old master key is retired from the keyring; the details open with the new one alone.
    new = old.version + 1
    settings.DETAILS_MASTER_KEYS = MasterKeys.parse(f"{new} {settings.DETAILS_MASTER_KEYS.by_version[new].hex()}")
    keys._cache.clear()
    assert keys.details_of(Flag.objects.get(reference="B-1")) == {"note": "beta"}
    assert AuditEvent.objects.get(action=AuditAction.DATA_KEY_REWRAP).subjects_count == 2


def test_rewrapping_again_does_nothing(cast, settings):
    services.contribute(cast.alpha.institution, [flag_item("A-1")])

    out = io.StringIO()
    call_command("rewrap_data_keys", stdout=out)

    assert "re-wrapped 0 data keys" in out.getvalue()


def test_rekeying_chains_stored_tokens_to_what_new_arrivals_get(cast, settings):
    services.contribute(
        cast.alpha.institution, [flag_item("A-1"), flag_item("A-2", token=member_token_of("11010519491231002X"))]
    )
    settings.PLATFORM_PEPPERS = with_new_version(settings.PLATFORM_PEPPERS, Peppers)
    out = io.StringIO()

    call_command("rekey_tokens", stdout=out)

    expected = platform_token(member_token_of("11010519491231002X"), settings.PLATFORM_PEPPERS)
    assert {stored_token(flag) for flag in Flag.objects.all()} == {expected}
    assert set(FlagToken.objects.values_list("pepper_version", flat=True)) == {settings.PLATFORM_PEPPERS.version}
    assert "re-keyed 2 tokens" in out.getvalue()
    # A flag contributed now, under the new pepper, carries the same token for the same person.
    services.contribute(cast.alpha.institution, [flag_item("A-3")])
    assert stored_token(Flag.objects.get(reference="A-3")) == expected
    assert AuditEvent.objects.get(action=AuditAction.TOKEN_REKEY).subjects_count == 2


def test_rekeying_moves_every_table_of_tokens_flags_loans_and_query_records(cast, settings):
    """A flag with two identifiers, a loan and query records, all on pepper v: each moves to v+1 as a new
    arrival would key it; a record whose new-pepper twin was written after the rotation is merged into it."""
    mobile = member_token_of("+8613800138000", "mobile")
    services.contribute(cast.alpha.institution, [flag_item("A-1", id_type_2="mobile", token_2=mobile)])
    old = settings.PLATFORM_PEPPERS
    resident = member_token_of("11010519491231002X")
    loan = Loan.objects.create(
        institution=cast.beta.institution,
        reference="L-1",
        product="cash_loan",
        opened_on=date(2026, 1, 5),
        amount_band="10k_50k",
        consent_reference="AUTH-1",
    )
    LoanToken.objects.create(loan=loan, id_type="cnid", token=platform_token(resident, old), pepper_version=old.version)
    for day in (date(2026, 11, 1), date(2026, 11, 2)):
        QueryRecord.objects.create(
            token=platform_token(resident, old),
            day=day,
            institution=cast.beta.institution,
            purpose="loan_application",
            pepper_version=old.version,
        )
    settings.PLATFORM_PEPPERS = new = with_new_version(old, Peppers)
    # The borrower queried again on 2 November after the rotation: that day's record is already under v+1.
    QueryRecord.objects.create(
        token=platform_token(resident, new),
        day=date(2026, 11, 2),
        institution=cast.beta.institution,
        purpose="loan_application",
        pepper_version=new.version,
    )

    moved, left = services.rekey_tokens(batch=1)

    assert (moved, left) == (2 + 1 + 2, 0)
    assert stored_tokens(Flag.objects.get()) == {
        "cnid": platform_token(resident, new),
        "mobile": platform_token(mobile, new),
    }
    assert [(bytes(t), v) for t, v in LoanToken.objects.values_list("token", "pepper_version")] == [
        (platform_token(resident, new), new.version)
    ]
    records = QueryRecord.objects.order_by("day").values_list("token", "day", "pepper_version")
    assert [(bytes(t), day, v) for t, day, v in records] == [
        (platform_token(resident, new), date(2026, 11, 1), new.version),
        (platform_token(resident, new), date(2026, 11, 2), new.version),
    ]
    assert AuditEvent.objects.get(action=AuditAction.TOKEN_REKEY).subjects_count == 5
