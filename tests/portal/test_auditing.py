"""@audited: the portal's pages record their audit events as the API's views do (AuditedMixin)."""

import pytest
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory

from accounts.choices import AuditAction
from accounts.models import Institution
from portal import auditing
from portal.auditing import audit, audited, skip_audit


@pytest.fixture
def recorded(monkeypatch):
    calls = []
    monkeypatch.setattr(auditing, "record", lambda action, **kwargs: calls.append((action, kwargs)))
    return calls


@pytest.fixture
def request_():
    return RequestFactory().get("/somewhere/")


def test_a_page_records_its_read_after_answering_and_the_read_does_not_wait_for_the_flush(recorded, request_):
    target = Institution(pk=7)

    @audited(AuditAction.FLAG_VIEW)
    def page(request):
        audit(request, target=target)
        return HttpResponse("ok")

    page(request_)

    assert [(action, kwargs["target"], kwargs["durable"]) for action, kwargs in recorded] == [
        (AuditAction.FLAG_VIEW, target, False)
    ]


def test_a_change_the_page_names_is_recorded_instead_durably_with_its_subjects(recorded, request_):
    @audited(AuditAction.FLAG_LIST)
    def page(request):
        audit(request, action=AuditAction.FLAG_CONTRIBUTE, subjects=1)
        return HttpResponse(status=302)

    page(request_)

    assert [(action, kwargs["subjects"], kwargs["durable"]) for action, kwargs in recorded] == [
        (AuditAction.FLAG_CONTRIBUTE, 1, True)
    ]


def test_a_page_declared_as_a_change_records_durably(recorded, request_):
    @audited(AuditAction.APIKEY_REVOKE, changes=True)
    def page(request):
        return HttpResponse(status=302)

    page(request_)

    assert recorded[0][1]["durable"] is True


@pytest.mark.parametrize("status", [400, 403, 404, 500])
def test_an_answer_that_fails_records_nothing(recorded, request_, status):
    @audited(AuditAction.FLAG_LIST)
    def page(request):
        return HttpResponse(status=status)

    page(request_)

    assert recorded == []


def test_a_page_that_raises_records_nothing(recorded, request_):
    @audited(AuditAction.FLAG_LIST)
    def page(request):
        raise PermissionDenied

    with pytest.raises(PermissionDenied):
        page(request_)
    assert recorded == []


def test_a_page_that_did_nothing_records_nothing(recorded, request_):
    @audited(AuditAction.APIKEY_LIST)
    def page(request):
        skip_audit(request)
        return HttpResponse(status=302)

    page(request_)

    assert recorded == []


def test_a_page_without_an_action_records_only_what_it_names(recorded, request_):
    @audited()
    def page(request):
        return HttpResponse("the form again")

    page(request_)

    assert recorded == []


def test_naming_a_target_outside_an_audited_page_is_a_mistake(request_):
    with pytest.raises(RuntimeError, match="not @audited"):
        audit(request_, target=None)
