"""Every endpoint's role and scope checks, in one table.

Each row names an endpoint and who may use it; every person of the cast and a
key with every scope is tried against it, and everyone not named must be refused.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.permissions import AllowAny

from accounts import services
from accounts.audit import record
from accounts.choices import SCOPES_BY_KIND, AuditAction, InstitutionKind, Role, Scope
from accounts.permissions import ActionAllowed, DenyAll
from sharing.flags import services as sharing_services
from sharing.loans import services as loans
from sharing.models import Flag, Inspection, Loan, Report, Upload
from tests.factories import flag_item
from tests.sharing.loans.items import loan_item

pytestmark = pytest.mark.django_db

# A key of each kind of institution that may have keys, with every scope its kind may hold.
KEY_SCOPES = {
    "key": sorted(SCOPES_BY_KIND[InstitutionKind.MEMBER]),
    "regulator:key": sorted(SCOPES_BY_KIND[InstitutionKind.REGULATOR]),
}
PEOPLE = [
    ("alpha", Role.INSTITUTION_ADMIN),
    ("alpha", Role.CONTRIBUTOR),
    ("alpha", Role.ANALYST),
    ("alpha", Role.AUDITOR),
    ("regulator", Role.INSTITUTION_ADMIN),
    ("regulator", Role.REGULATOR_STAFF),
    ("operator", Role.OPERATOR),
]
EVERYONE = {f"{team}:{role}" for team, role in PEOPLE} | set(KEY_SCOPES)
ADMINS = {"alpha:institution_admin", "regulator:institution_admin"}
FLAG_WRITERS = {"alpha:contributor", "key"}
FLAG_READERS = {"alpha:contributor", "alpha:auditor", "key"}
REPORT_READERS = {
    "alpha:analyst",
    "alpha:auditor",
    "regulator:regulator_staff",
    "operator:operator",
    "key",
    "regulator:key",
}
AUDIT_READERS = {"alpha:auditor", "regulator:regulator_staff", "key", "regulator:key"}

# (method, path, who may, status when allowed)
MATRIX = [
    ("get", "/api/v1/me", EVERYONE, 200),
    ("get", "/api/v1/institutions", EVERYONE, 200),
    ("get", "/api/v1/institutions/{own_institution}", EVERYONE, 200),
    ("post", "/api/v1/institutions", {"operator:operator"}, 400),
    ("patch", "/api/v1/institutions/{own_institution}", {"operator:operator"}, 200),
    ("get", "/api/v1/users", ADMINS, 200),
    ("post", "/api/v1/users", ADMINS, 400),
    ("get", "/api/v1/users/{own_user}", ADMINS, 200),
    ("patch", "/api/v1/users/{own_user}", ADMINS, 200),
    ("get", "/api/v1/api-keys", ADMINS, 200),
    ("post", "/api/v1/api-keys", ADMINS, 400),
    ("get", "/api/v1/api-keys/{own_key}", ADMINS, 200),
    ("patch", "/api/v1/api-keys/{own_key}", ADMINS, 200),
    ("post", "/api/v1/api-keys/{own_key}/revoke", ADMINS, 200),
    ("get", "/api/v1/audit/events", AUDIT_READERS, 200),
    # Allowed callers learn the event is not sealed yet (409); the others are refused first.
    ("get", "/api/v1/audit/events/{own_event}/proof", AUDIT_READERS, 409),
    # Only member institutions have flags; the matrix's flag and upload are alpha's.
    ("get", "/api/v1/flags", FLAG_READERS, 200),
    ("post", "/api/v1/flags", FLAG_WRITERS, 400),
    ("get", "/api/v1/flags/{alpha_flag}", FLAG_READERS, 200),
    ("get", "/api/v1/flags/summary", FLAG_READERS, 200),
    ("patch", "/api/v1/flags/{alpha_flag}", FLAG_WRITERS, 400),
    ("get", "/api/v1/uploads", FLAG_READERS, 200),
    ("post", "/api/v1/uploads", FLAG_WRITERS, 400),
    ("get", "/api/v1/uploads/{alpha_upload}", FLAG_READERS, 200),
    ("get", "/api/v1/uploads/{alpha_upload}/errors", FLAG_READERS, 200),
    ("get", "/api/v1/uploads/{alpha_upload}/summary", FLAG_READERS, 200),
    # Loans, like flags, are a member's own (sharing.loans); the matrix's loan is alpha's.
    ("get", "/api/v1/loans", FLAG_READERS, 200),
    ("post", "/api/v1/loans", FLAG_WRITERS, 400),
    ("get", "/api/v1/loans/{alpha_loan}", FLAG_READERS, 200),
    ("post", "/api/v1/queries", {"alpha:analyst", "key"}, 400),
    ("get", "/api/v1/inspections", {"alpha:analyst", "key"}, 200),
    ("post", "/api/v1/inspections", {"alpha:analyst", "key"}, 400),
    ("get", "/api/v1/inspections/{alpha_inspection}", {"alpha:analyst", "key"}, 200),
    # Allowed callers learn the inspection has not finished (409); the others are refused first.
    ("get", "/api/v1/inspections/{alpha_inspection}/results", {"alpha:analyst", "key"}, 409),
    ("get", "/api/v1/inspections/{alpha_inspection}/errors", {"alpha:analyst", "key"}, 200),
    ("get", "/api/v1/reports", REPORT_READERS, 200),
    ("post", "/api/v1/reports", {"regulator:regulator_staff", "operator:operator", "regulator:key"}, 400),
    ("get", "/api/v1/reports/{report}", REPORT_READERS, 200),
    # Allowed callers learn the report is not built yet (409); the others are refused first.
    ("get", "/api/v1/reports/{report}/files/csv", REPORT_READERS, 409),
    ("get", "/api/v1/reports/{report}/files/xlsx/signature", REPORT_READERS, 409),
]
PUBLIC_VIEWS = {"AuditPublicKeyView", "ReportPublicKeyView"}


def callers(cast, client_for, key_client):
    for team, role in PEOPLE:
        user = getattr(cast, team)[role]
        yield f"{team}:{role}", user.institution, client_for(user)
    for name, scopes in KEY_SCOPES.items():
        institution = cast.regulator.institution if name.startswith("regulator") else cast.alpha.institution
        client, _key = key_client(institution, scopes)
        yield name, institution, client


@pytest.mark.parametrize(("method", "path", "allowed", "ok_status"), MATRIX)
def test_endpoint_admits_exactly_the_roles_and_scopes_in_the_matrix(
    cast, client_for, key_client, method, path, allowed, ok_status
):
    outcomes = {}
    sharing_services.contribute(cast.alpha.institution, [flag_item("MATRIX-1")])
    alpha_flag = Flag.objects.get(reference="MATRIX-1")
    loans.contribute(cast.alpha.institution, [loan_item("MATRIX-1")])
    alpha_loan = Loan.objects.get(reference="MATRIX-1")
    alpha_upload = Upload.objects.create(
        institution=cast.alpha.institution, file_name="flags.csv", file_format="csv", size_bytes=0
    )
    alpha_inspection = Inspection.objects.create(
        institution=cast.alpha.institution,
        portfolio="book",
        purpose="post_loan_review",
        file_name="book.csv",
        file_format="csv",
        size_bytes=0,
    )
    report = Report.objects.create(starts_on="2026-10-01", ends_on="2026-10-31", trigger="requested")
    for name, institution, client in callers(cast, client_for, key_client):
        own_user = institution.users.order_by("id").first()
        own_key, _secret = services.issue_api_key(institution=institution, name="target", scopes=[Scope.AUDIT_READ])
        own_event = record(AuditAction.ME_VIEW, actor=own_user)
        assert own_event is not None
        url = path.format(
            own_institution=institution.pk,
            own_user=own_user.pk,
            own_key=own_key.pk,
            own_event=own_event.pk,
            alpha_flag=alpha_flag.pk,
            alpha_loan=alpha_loan.pk,
            alpha_upload=alpha_upload.pk,
            alpha_inspection=alpha_inspection.pk,
            report=report.pk,
        )
        response = getattr(client, method)(url, {}, format="json")
        outcomes[name] = response.status_code
        if name in allowed:
            assert response.status_code == ok_status, (name, response.content)
        else:
            assert response.status_code == 403, (name, response.content)
            assert response.json()["code"] in {"role_required", "people_only", "missing_scope"}
    assert set(outcomes) == EVERYONE


def test_every_api_view_names_its_permissions_and_who_may_use_each_action():
    """A view that forgot its permissions would fall back to DenyAll: closed, but a bug."""
    checked = 0
    for route, callback in _walk(get_resolver().url_patterns):
        view = getattr(callback, "cls", None)
        if view is None or not route.startswith("api/v1/"):
            continue
        assert view.permission_classes, view
        assert DenyAll not in view.permission_classes, view
        if view.__name__ in PUBLIC_VIEWS:
            assert view.permission_classes == [AllowAny]
            checked += 1
            continue
        assert view.permission_classes == [ActionAllowed], view
        methods = set(view.http_method_names) - {"head", "options"}
        handlers = {method: method for method in methods if hasattr(view, method)}
        actions = getattr(callback, "actions", None) or handlers
        for method, action in actions.items():
            if method in methods:
                assert action in view.allow, f"{view.__name__}.{action} has no entry in its allow table"
        checked += 1
    assert checked >= 5


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "/api/v1/institutions/{own_institution}"),
        ("delete", "/api/v1/users/{own_user}"),
        ("delete", "/api/v1/api-keys/{own_key}"),
        ("post", "/api/v1/me"),
        ("delete", "/api/v1/flags/1"),
        ("put", "/api/v1/flags/1"),
        ("patch", "/api/v1/uploads/1"),
    ],
)
def test_methods_an_endpoint_does_not_have_answer_405(cast, client_for, method, path):
    admin = cast.alpha["institution_admin"]
    key, _secret = services.issue_api_key(institution=admin.institution, name="target", scopes=[Scope.MATCH])
    url = path.format(own_institution=admin.institution.pk, own_user=admin.pk, own_key=key.pk)

    response = getattr(client_for(cast.operator["operator"] if "institutions" in path else admin), method)(url, {})

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_a_person_without_roles_still_knows_who_they_are(cast, client_for):
    person = cast.alpha["analyst"]
    person.roles = []
    person.save()

    response = client_for(person).get("/api/v1/me")

    assert response.status_code == 200
    assert response.json()["roles"] == []
    assert client_for(person).get("/api/v1/users").json()["code"] == "role_required"


def test_options_describes_an_endpoint_to_any_caller(cast, client_for):
    response = client_for(cast.alpha["analyst"]).options("/api/v1/users")

    assert response.status_code == 200
    assert "POST" not in response.json().get("actions", {})  # an analyst may not create people
