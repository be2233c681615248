"""A change made from a copy read earlier never undoes what another request committed meanwhile."""

import pytest
from django.core.exceptions import ValidationError

from accounts import services
from accounts.choices import InstitutionStatus, Scope
from accounts.models import ApiKey, Institution, User

pytestmark = pytest.mark.django_db


def test_renaming_a_key_read_before_its_revocation_leaves_it_revoked(cast):
    key, _secret = services.issue_api_key(institution=cast.alpha.institution, name="batch", scopes=[Scope.MATCH])
    stale = ApiKey.objects.get(pk=key.pk)
    services.revoke_api_key(key, by=cast.alpha["institution_admin"])

    with pytest.raises(ValidationError) as refused:
        services.update_api_key(stale, name="renamed")

    assert refused.value.code == "api_key_revoked"
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None


def test_renaming_an_institution_read_before_its_suspension_leaves_it_suspended(cast):
    stale = Institution.objects.get(pk=cast.beta.institution.pk)
    services.update_institution(cast.beta.institution, by=None, status=InstitutionStatus.SUSPENDED)

    services.update_institution(stale, by=cast.operator["operator"], name_en="Renamed Ltd.")

    fresh = Institution.objects.get(pk=stale.pk)
    assert (fresh.name_en, fresh.status) == ("Renamed Ltd.", InstitutionStatus.SUSPENDED)


def test_renaming_a_person_read_before_their_deactivation_leaves_them_inactive(cast):
    admin, analyst = cast.alpha["institution_admin"], cast.alpha["analyst"]
    stale = User.objects.get(pk=analyst.pk)
    services.update_user(analyst, by=admin, is_active=False)

    services.update_user(stale, by=admin, first_name="Renamed")

    fresh = User.objects.get(pk=analyst.pk)
    assert (fresh.first_name, fresh.is_active) == ("Renamed", False)


def test_a_second_revocation_keeps_the_first_time_and_person(cast):
    key, _secret = services.issue_api_key(institution=cast.alpha.institution, name="batch", scopes=[Scope.MATCH])
    first = services.revoke_api_key(ApiKey.objects.get(pk=key.pk), by=cast.alpha["institution_admin"])

    second = services.revoke_api_key(key, by=cast.operator["operator"])

    assert (second.revoked_at, second.revoked_by) == (first.revoked_at, cast.alpha["institution_admin"])
