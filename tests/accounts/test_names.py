"""Names and labels hold no control character (C0, C1, line breaks, bidirectional marks and overrides),
however they are written: the API, the portal, the admin's model validation, the management commands.

A name is checked where it is validated once for every path (the model's ``clean``, which every
service calls through ``full_clean``); these tests send it every way and expect a field error with
the code ``control_character``. The labels a member writes for flags, queries and inspections are
tested in tests/memberkit/test_labels.py.
"""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import services
from accounts.choices import InstitutionKind, Scope
from accounts.models import ApiKey, Institution, User
from sharing.flags import services as sharing_services
from sharing.models import Inspection
from tests.factories import flag_item, member_token_of, uscc_code

pytestmark = pytest.mark.django_db

DB = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
# NUL and lone surrogates are refused earlier, as text no field can store (unstorable_text).
CONTROLS = ["\n", "\r", "\t", "\x1b", "\x07", "\x7f", "\x85", "\x9b", "\u061c", "\u200e", "\u200f", "\u202a", "\u202e"]
CONTROLS += ["\u2066", "\u2069"]


@st.composite
def with_control(draw: st.DrawFn, most: int = 60) -> str:
    """A plausible name with a control character inside it (trailing ones are trimmed by the API)."""
    before = draw(st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=most // 2 - 1))
    after = draw(st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=most // 2 - 1))
    return before + draw(st.sampled_from(CONTROLS)) + after


def field_codes(response) -> set[tuple[str, str]]:
    assert response.status_code == 400, response.content
    return {(error["field"], error["code"]) for error in response.json()["errors"]}


@given(name=with_control())
@settings(max_examples=20, deadline=None, suppress_health_check=DB)
def test_the_api_refuses_control_characters_in_institution_person_and_key_names(cast, client_for, name):
    operator, admin = client_for(cast.operator["operator"]), client_for(cast.alpha["institution_admin"])

    institution = operator.post(
        "/api/v1/institutions",
        {"code": uscc_code(9_000_001), "name_zh": name, "name_en": name, "kind": "member"},
    )
    renamed = operator.patch(f"/api/v1/institutions/{cast.beta.institution.pk}", {"name_en": name})
    person = admin.post(
        "/api/v1/users",
        {"username": "new-person", "email": "n@example.com", "roles": [], "first_name": name, "last_name": name},
    )
    changed = admin.patch(f"/api/v1/users/{cast.alpha['analyst'].pk}", {"last_name": name})
    key = admin.post("/api/v1/api-keys", {"name": name, "scopes": ["match"]})

    assert field_codes(institution) == {("name_zh", "control_character"), ("name_en", "control_character")}
    assert field_codes(renamed) == {("name_en", "control_character")}
    assert field_codes(person) == {("first_name", "control_character"), ("last_name", "control_character")}
    assert field_codes(changed) == {("last_name", "control_character")}
    assert field_codes(key) == {("name", "control_character")}
    assert not Institution.objects.filter(code=uscc_code(9_000_001)).exists()
    assert Institution.objects.get(pk=cast.beta.institution.pk).name_en == "beta Ltd."
    assert not User.objects.filter(username="new-person").exists()
    assert not ApiKey.objects.exists()


def test_a_key_name_is_a_label_and_may_not_hold_an_identifier(cast, client_for):
    admin = client_for(cast.alpha["institution_admin"])

    response = admin.post("/api/v1/api-keys", {"name": "system of 张三 13800138000", "scopes": ["match"]})

    assert field_codes(response) == {("name", "identifier_in_label")}


@pytest.mark.parametrize("control", CONTROLS)
def test_the_portal_shows_the_refusal_on_the_field(cast, control):
    browser = Client(headers={"accept-language": "en"})
    browser.force_login(cast.alpha["institution_admin"])
    name = f"Mei{control}Li"

    person = browser.post(
        "/people/", {"username": "new-person", "email": "n@example.com", "roles": ["analyst"], "first_name": name}
    )
    key = browser.post("/api-keys/", {"name": name, "scopes": ["match"]})

    for page, field in ((person, "first_name"), (key, "name")):
        assert page.status_code == 200
        error = page.text.split(f'id="id_{field}_error"', 1)[1].split("</div>", 1)[0]
        assert "Control characters" in error
    assert not User.objects.filter(username="new-person").exists()
    assert not ApiKey.objects.exists()


@pytest.mark.parametrize("control", ["\u202e", "\n", "\x9b"])
def test_the_admin_refuses_them_through_model_validation(cast, control):
    """The admin's forms validate through the model (``full_clean``), as every service does."""
    browser = Client(headers={"accept-language": "en"})
    browser.force_login(cast.operator["operator"])
    url = f"/admin/accounts/institution/{cast.beta.institution.pk}/change/"

    page = browser.post(
        url, {"name_zh": "贝塔公司", "name_en": f"Beta{control}Ltd.", "sector": "bank", "status": "active"}
    )

    assert page.status_code == 200
    assert [error.code for error in page.context["adminform"].form.errors.as_data()["name_en"]] == ["control_character"]
    assert Institution.objects.get(pk=cast.beta.institution.pk).name_en == "beta Ltd."
    key = ApiKey(institution=cast.alpha.institution, name=f"a{control}b", prefix="rs_x", scopes=["match"])
    with pytest.raises(ValidationError) as refused:
        key.full_clean()
    assert [error.code for error in refused.value.error_dict["name"]] == ["control_character"]


def call(*args: str) -> str:
    with translation.override("en"), pytest.raises(CommandError) as refused:
        call_command(*args, stdout=io.StringIO(), stderr=io.StringIO())
    return str(refused.value)


def test_the_commands_refuse_control_characters_in_names(cast):
    institution = call(
        "create_institution",
        "--code",
        uscc_code(9_000_003),
        "--name-zh",
        "会员\u202e",
        "--name-en",
        "M",
        "--kind",
        "member",
    )
    person = call(
        "create_user", "--institution", cast.alpha.institution.code, "--username", "p1", "--email", "p@example.com",
        "--last-name", "Li\nAdmin",
    )  # fmt: skip
    key = call(
        "issue_api_key", "--institution", cast.alpha.institution.code, "--name", "sys\x1b[2J", "--scope", "match"
    )

    for message in (institution, person, key):
        assert "Control characters" in message
    assert not Institution.objects.filter(code=uscc_code(9_000_003)).exists()
    assert not User.objects.filter(username="p1").exists()
    assert not ApiKey.objects.exists()


def test_names_without_control_characters_are_kept_as_written(cast):
    institution = services.create_institution(
        code=uscc_code(9_000_004), name_zh="某某小额贷款有限公司", name_en="Ünïcode & Co. (Shanghai)", kind="member"
    )
    key, _secret = services.issue_api_key(institution=institution, name="LN-2026 loan system", scopes=[Scope.MATCH])

    assert institution.name_en == "Ünïcode & Co. (Shanghai)"
    assert key.name == "LN-2026 loan system"
    assert InstitutionKind(institution.kind) == InstitutionKind.MEMBER


# --- The labels of queries and inspections: control characters (identifiers: tests/memberkit/test_labels.py) ----


@given(label=with_control(most=60))
@settings(max_examples=15, deadline=None, suppress_health_check=DB)
def test_the_api_refuses_control_characters_in_labels(cast, client_for, label):
    sharing_services.contribute(cast.alpha.institution, [flag_item("ALPHA-OWN")])
    analyst, contributor = client_for(cast.alpha["analyst"]), client_for(cast.alpha["contributor"])
    subject = {"correlation_id": label, "id_type": "cnid", "token": member_token_of("11010519491231002X")}
    flag = sharing_services.contribute(cast.alpha.institution, [flag_item("TO-WITHDRAW")])[0][0]

    query = analyst.post(
        "/api/v1/queries", {"purpose": "loan_application", "consent_reference": label, "subjects": [subject]}
    )
    inspection = analyst.post(
        "/api/v1/inspections",
        {
            "file": SimpleUploadedFile("b.csv", b"correlation_id,id_type,token\n"),
            "portfolio": label,
            "purpose": "collection",
        },
        format="multipart",
    )
    withdrawn = contributor.patch(
        f"/api/v1/flags/{_pk(cast, flag.reference)}", {"status": "withdrawn", "reason": label}, format="json"
    )

    assert field_codes(query) == {
        ("consent_reference", "control_character"),
        ("subjects[0].correlation_id", "control_character"),
    }
    assert field_codes(inspection) == {("portfolio", "control_character")}
    assert field_codes(withdrawn) == {("reason", "control_character")}
    assert not Inspection.objects.exists()


def _pk(cast, reference: str) -> int:
    from sharing.models import Flag

    return Flag.objects.get(institution=cast.alpha.institution, reference=reference).pk


@pytest.mark.parametrize("control", ["\u202e", "\x1b", "\u2066"])
def test_file_names_and_file_rows_refuse_control_characters(cast, client_for, control):
    from sharing.flags.reading import Record
    from sharing.keys.tokens import Peppers
    from sharing.matching import inspections
    from sharing.models import Upload

    contributor = client_for(cast.alpha["contributor"])
    named = SimpleUploadedFile(f"flags{control}vsc.csv", b"reference,id_type,token,category,event_date\n")
    row = {"correlation_id": f"L-1{control}", "id_type": "cnid", "token": member_token_of("11010519491231002X")}

    upload = contributor.post("/api/v1/uploads", {"file": named}, format="multipart")
    probes, refusals, _rows = inspections._probes([Record(2, row, None)], Peppers({1: bytes(32)}))

    # The name reaches no page or report with it: refused (control_character), or stripped on the way in.
    assert upload.status_code in (202, 400)
    if upload.status_code == 400:
        assert field_codes(upload) == {("file", "control_character")}
    assert not any(control in name for name in Upload.objects.values_list("file_name", flat=True))
    assert probes == []
    assert [(line, error.field, error.code) for line, error in refusals] == [(2, "correlation_id", "control_character")]
