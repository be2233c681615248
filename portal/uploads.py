"""The institution's uploads of flags (contributors and auditors): the list, with the form that
sends a new file to ``POST /api/v1/uploads`` for contributors, and one upload's progress."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from accounts.authentication import person_holding
from accounts.choices import AuditAction
from accounts.permissions import FLAG_READERS, FLAG_WRITERS, admits
from portal.auditing import audit, audited
from portal.jobs import LIST_SIZE, job_context
from sharing.models import Upload


@login_required
@audited(AuditAction.UPLOAD_LIST)
def uploads(request: HttpRequest) -> HttpResponse:
    """The institution's uploads of flags, and (for contributors) the form that sends a new one."""
    person = person_holding(request, FLAG_READERS)
    recent = Upload.objects.filter(institution=person.institution).order_by("-id")[:LIST_SIZE]
    context = {"uploads": list(recent), "can_upload": admits(person, FLAG_WRITERS)}
    return render(request, "portal/uploads.html", context)


@login_required
@audited(AuditAction.UPLOAD_VIEW)
def upload_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One upload of the caller's own institution (another's is 404), following its progress."""
    person = person_holding(request, FLAG_READERS)
    upload = get_object_or_404(Upload, pk=pk, institution=person.institution)
    audit(request, target=upload)
    return render(request, "portal/upload_detail.html", {"upload": upload, **job_context(upload)})
