"""Schemathesis against the live server: no input gives a 500, and every answer is what the schema says.

The schema is the one the server serves (``/api/schema/``). Every operation in it is called with
generated requests, valid and invalid (positive and negative generation), by three callers: a
member's API key with every scope, a regulator's API key, and a person's portal session (cookie
and CSRF token). Path ids are sometimes those of real objects of the caller, so detail answers
are checked too, not only 404s. Each answer must pass ``not_a_server_error``,
``response_schema_conformance`` and ``status_code_conformance``.

Bounded: a fixed number of examples per operation and mode, a fixed seed (``derandomize``), no
example database, no shrinking (a failure is reported as found, with the request to replay it).
"""

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
import requests
import schemathesis
from django.conf import settings as django_settings
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from accounts import services as account_services
from accounts.audit import record
from accounts.choices import SCOPES_BY_KIND, AuditAction, InstitutionKind, Role
from accounts.models import AuditEvent
from sharing.flags import services
from sharing.models import Flag
from sharing.reports import jobs as reports
from tests.conftest import Cast
from tests.factories import InspectionFactory, UploadFactory, UserFactory, flag_item

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = 12  # per operation, caller and generation mode
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)

# Operations not fuzzed, each with its reason. Empty: every operation is fuzzed by every caller.
SKIPPED: dict[str, str] = {}


@dataclass
class Caller:
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    real_ids: dict[str, int] = field(default_factory=dict)  # path template -> an object the caller may see
    statuses: dict[int, int] = field(default_factory=dict)  # answers counted by status


def _objects(cast: Cast) -> dict[str, int]:
    """Real objects for the detail operations: a member's flags, jobs and report, and an audit event."""
    services.contribute(
        cast.alpha.institution, [flag_item("FUZZ-1"), flag_item("FUZZ-2", details=None, amount_band=None)]
    )
    flag = Flag.objects.filter(institution=cast.alpha.institution).order_by("id").first()
    assert flag is not None
    upload = UploadFactory.create(institution=cast.alpha.institution)
    inspection = InspectionFactory.create(institution=cast.alpha.institution)
    report = reports.create(date(2026, 1, 1), date(2026, 1, 31), by=cast.regulator["regulator_staff"])
    reports.build(report.pk)
    record(AuditAction.ME_VIEW, actor=cast.alpha["auditor"])
    event = AuditEvent.objects.filter(institution=cast.alpha.institution).order_by("id").first()
    assert event is not None
    return {
        "/api/v1/flags/{id}": flag.pk,
        "/api/v1/uploads/{id}": upload.pk,
        "/api/v1/uploads/{id}/errors": upload.pk,
        "/api/v1/inspections/{id}": inspection.pk,
        "/api/v1/inspections/{id}/results": inspection.pk,
        "/api/v1/inspections/{id}/errors": inspection.pk,
        "/api/v1/reports/{id}": report.pk,
        "/api/v1/reports/{id}/files/csv": report.pk,
        "/api/v1/reports/{id}/files/xlsx": report.pk,
        "/api/v1/reports/{id}/files/csv/signature": report.pk,
        "/api/v1/reports/{id}/files/xlsx/signature": report.pk,
        "/api/v1/audit/events/{id}/proof": event.pk,
        "/api/v1/users/{id}": cast.alpha["analyst"].pk,
        "/api/v1/institutions/{id}": cast.alpha.institution.pk,
    }


def _key(team: Any, kind: str) -> dict[str, str]:
    _key_row, secret = account_services.issue_api_key(
        institution=team.institution, name="fuzzing", scopes=sorted(SCOPES_BY_KIND[kind])
    )
    return {"Authorization": f"Api-Key {secret}"}


def _session(cast: Cast) -> Caller:
    """A person holding every member role, signed in to the portal, with a CSRF token."""
    person = UserFactory.create(
        institution=cast.alpha.institution,
        username="alpha-everyone",
        roles=[Role.INSTITUTION_ADMIN, Role.CONTRIBUTOR, Role.ANALYST, Role.AUDITOR],
    )
    client = Client()
    client.force_login(person)
    csrf = "f" * 32  # a CSRF secret; the header may carry it unmasked
    cookies = {
        django_settings.SESSION_COOKIE_NAME: client.cookies[django_settings.SESSION_COOKIE_NAME].value,
        django_settings.CSRF_COOKIE_NAME: csrf,
    }
    return Caller(headers={"X-CSRFToken": csrf}, cookies=cookies)


CALLERS: dict[str, Callable[[Cast], Caller]] = {
    "member_key": lambda cast: Caller(headers=_key(cast.alpha, InstitutionKind.MEMBER)),
    "regulator_key": lambda cast: Caller(headers=_key(cast.regulator, InstitutionKind.REGULATOR)),
    "portal_session": _session,
}


def _fuzz(operation: Any, caller: Caller, base_url: str, session: requests.Session) -> str | None:
    """Fuzz one operation as one caller; the first failure found, as text, or None."""
    strategy = st.one_of([operation.as_strategy(mode) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)])
    real_id = caller.real_ids.get(operation.path)

    @FUZZ
    @given(case=strategy, use_real_id=st.booleans())
    def run(case: Any, use_real_id: bool) -> None:
        if real_id is not None and use_real_id and "id" in (case.path_parameters or {}):
            case.path_parameters["id"] = real_id
        response = case.call_and_validate(
            base_url=base_url, session=session, headers=caller.headers, cookies=caller.cookies, checks=CHECKS
        )
        caller.statuses[response.status_code] = caller.statuses.get(response.status_code, 0) + 1

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # schemathesis reports its findings as an exception group
        return "".join(traceback.format_exception(exc))[-4000:]
    return None


@pytest.mark.parametrize("caller_name", sorted(CALLERS))
def test_no_operation_answers_a_500_or_off_its_schema(live_server, cast, caller_name):
    caller = CALLERS[caller_name](cast)
    caller.real_ids = _objects(cast)
    session = requests.Session()
    session.trust_env = False  # straight to the live server: no proxy, no .netrc from the environment
    # One request per connection: the server's thread for it ends, and closes its database
    # connection, before the test does (a kept-alive one would outlive the test database).
    caller.headers["Connection"] = "close"
    served = session.get(f"{live_server.url}/api/schema/?format=json", headers=caller.headers, cookies=caller.cookies)
    assert served.status_code == 200
    schema = schemathesis.openapi.from_dict(served.json())

    failures: dict[str, str] = {}
    fuzzed = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the served schema holds no operation schemathesis cannot read
        operation = result.ok()
        if operation.label in SKIPPED:
            continue
        fuzzed += 1
        if (failure := _fuzz(operation, caller, live_server.url, session)) is not None:
            failures[operation.label] = failure

    print(caller_name, fuzzed, "operations", dict(sorted(caller.statuses.items())))
    session.close()
    assert fuzzed >= 30
    # The caller really got in: a run of nothing but 401s and 403s would check next to nothing.
    assert sum(count for status, count in caller.statuses.items() if status < 300) >= 20, caller.statuses
    assert failures == {}, "\n\n".join(f"{label}:\n{failure}" for label, failure in failures.items())
