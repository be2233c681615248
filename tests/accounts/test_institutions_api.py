"""Operators manage institutions; members and regulators read what they may see."""

import pytest

from accounts.choices import InstitutionStatus
from accounts.models import Institution
from tests.factories import uscc_code

pytestmark = pytest.mark.django_db


def test_member_sees_only_its_own_institution(cast, client_for):
    response = client_for(cast.alpha["analyst"]).get("/api/v1/institutions")

    assert response.status_code == 200
    assert [row["code"] for row in response.json()["results"]] == [cast.alpha.institution.code]


def test_another_institution_answers_404_to_a_member(cast, client_for, key_client):
    url = f"/api/v1/institutions/{cast.beta.institution.pk}"
    assert client_for(cast.alpha["institution_admin"]).get(url).status_code == 404
    key_client_, _key = key_client(cast.alpha.institution)
    assert key_client_.get(url).status_code == 404


def test_regulator_and_operator_see_every_institution(cast, client_for):
    every = sorted(Institution.objects.values_list("code", flat=True))
    for person in (cast.regulator["regulator_staff"], cast.operator["operator"]):
        response = client_for(person).get("/api/v1/institutions", {"page_size": 100})
        assert sorted(row["code"] for row in response.json()["results"]) == every


def test_list_filters_by_kind(cast, client_for):
    response = client_for(cast.operator["operator"]).get("/api/v1/institutions", {"kind": "regulator"})

    assert [row["code"] for row in response.json()["results"]] == [cast.regulator.institution.code]


def test_operator_registers_an_institution(cast, client_for):
    code = uscc_code(9_000_001)
    response = client_for(cast.operator["operator"]).post(
        "/api/v1/institutions",
        {"code": code.lower(), "name_zh": "新会员", "name_en": "New Member", "kind": "member"},
    )

    assert response.status_code == 201, response.content
    assert response.json()["code"] == code
    assert response.json()["status"] == "active"
    assert Institution.objects.filter(code=code).exists()


def test_operators_set_a_members_sector_and_only_a_members(cast, client_for):
    operator = client_for(cast.operator["operator"])

    member = operator.patch(f"/api/v1/institutions/{cast.beta.institution.pk}", {"sector": "microlender"})
    regulator = operator.patch(f"/api/v1/institutions/{cast.regulator.institution.pk}", {"sector": "bank"})
    unknown = operator.patch(f"/api/v1/institutions/{cast.beta.institution.pk}", {"sector": "pawnshop"})

    assert member.status_code == 200, member.content
    assert member.json()["sector"] == "microlender"
    assert regulator.status_code == 400
    assert regulator.json()["errors"][0]["field"] == "sector"
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["field"] == "sector"
    cast.regulator.institution.refresh_from_db()
    assert cast.regulator.institution.sector == ""


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("91310000MA1FL0D01J", "bad_checksum"),
        ("91310000MA1FL0D01", "bad_length"),
        ("91310000MA1FL0DO1K", "bad_characters"),
    ],
)
def test_registration_with_a_bad_code_names_the_field_and_the_reason(cast, client_for, code, error):
    response = client_for(cast.operator["operator"]).post(
        "/api/v1/institutions", {"code": code, "name_zh": "x", "name_en": "x", "kind": "member"}
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert {"field": "code", "code": error} == {k: body["errors"][0][k] for k in ("field", "code")}


def test_registration_of_a_known_code_is_refused(cast, client_for):
    response = client_for(cast.operator["operator"]).post(
        "/api/v1/institutions",
        {"code": cast.alpha.institution.code, "name_zh": "x", "name_en": "x", "kind": "member"},
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "code"


def test_operator_suspends_and_reactivates_a_member(cast, client_for):
    operator = client_for(cast.operator["operator"])
    url = f"/api/v1/institutions/{cast.beta.institution.pk}"

    assert operator.patch(url, {"status": "suspended"}).json()["status"] == "suspended"
    # The session no longer authenticates: the person is signed out, not told about the suspension.
    assert client_for(cast.beta["analyst"]).get("/api/v1/me").status_code == 401
    assert operator.patch(url, {"status": "active"}).json()["status"] == "active"
    assert client_for(cast.beta["analyst"]).get("/api/v1/me").status_code == 200


def test_code_and_kind_cannot_be_changed(cast, client_for):
    institution = cast.beta.institution
    code = institution.code
    url = f"/api/v1/institutions/{institution.pk}"

    response = client_for(cast.operator["operator"]).patch(url, {"code": uscc_code(9_000_002), "kind": "regulator"})

    assert response.status_code == 200
    assert (response.json()["code"], response.json()["kind"]) == (code, "member")
    institution.refresh_from_db()
    assert (institution.code, institution.kind) == (code, "member")


def test_operator_cannot_suspend_its_own_institution(cast, client_for):
    url = f"/api/v1/institutions/{cast.operator.institution.pk}"
    response = client_for(cast.operator["operator"]).patch(url, {"status": InstitutionStatus.SUSPENDED})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "status"
    assert response.json()["errors"][0]["code"] == "self_lockout"
    cast.operator.institution.refresh_from_db()
    assert cast.operator.institution.is_active
