"""Uploads: files of flags or of loans, stored by a worker in chunks; 202 with a job to poll, then its error report."""

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.choices import AuditAction
from accounts.permissions import FLAG_WRITERS, LOAN_WRITERS, UPLOAD_READERS, UPLOAD_SENDERS, Allow, check
from sharing import tasks
from sharing.api.base import IDEMPOTENCY_HEADER, FileJobViewSet
from sharing.api.serializers.uploads import UploadCreateSerializer, UploadSerializer, UploadSummarySerializer
from sharing.choices import UploadKind
from sharing.filters import UploadFilter
from sharing.flags import reading, selectors, uploads
from sharing.loans.selectors import LoanCounts, loan_counts
from sharing.models import Flag, Loan, Upload, UploadError

# Who may send a file of each kind: those who may contribute its records over REST.
KIND_WRITERS: dict[str, Allow] = {UploadKind.FLAGS: FLAG_WRITERS, UploadKind.LOANS: LOAN_WRITERS}


@extend_schema_view(
    errors=extend_schema(
        description="The error report: one line per refused or superseded row and field. Never the rows' values."
    )
)
class UploadViewSet(FileJobViewSet):
    """Files of flags or of loans (``kind``), processed by a worker: 202 with a job to poll, then its error report."""

    queryset = Upload.objects.order_by("-id")
    serializer_class = UploadSerializer
    allow = {
        "list": UPLOAD_READERS,
        "retrieve": UPLOAD_READERS,
        "summary": UPLOAD_READERS,
        "create": UPLOAD_SENDERS,  # and the rule of the file's kind, as soon as it is read (sender_form)
        "errors": UPLOAD_READERS,
    }
    audit_actions = {
        "list": AuditAction.UPLOAD_LIST,
        "retrieve": AuditAction.UPLOAD_VIEW,
        "summary": AuditAction.UPLOAD_VIEW,
        "create": AuditAction.UPLOAD_CREATE,
        "errors": AuditAction.UPLOAD_ERRORS,
    }
    filterset_class = UploadFilter
    layout = uploads.FLAG_FILE
    endpoint = "uploads"
    error_model = UploadError
    error_job_field = "upload"
    task = tasks.process_upload

    @extend_schema(
        request={"multipart/form-data": UploadCreateSerializer},
        responses={202: UploadSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def create(self, request: Request) -> Response:
        """Upload a CSV or JSON Lines file of up to 10 million flags (or loans, with ``kind=loans``); a worker
        stores them in chunks."""
        data = self.accepted_file(request, sender_form(request.user))
        kind = data["kind"]
        # The same bytes sent as another kind are another request; a file of flags keys as it always has.
        asked = "" if kind == UploadKind.FLAGS else kind
        return self.accept_once(data, lambda sent: Upload.objects.create(**sent, kind=kind), asked)

    def file_layout(self, data: dict[str, Any]) -> reading.Layout:
        return tasks.CONTRIBUTIONS[data["kind"]].layout

    @extend_schema(responses=UploadSummarySerializer)
    @action(detail=True, methods=["get"])
    def summary(self, request: Request, pk: str | None = None) -> Response:
        """The upload's rows reconciled: its counts, its error report counted by code, and what it wrote: flags
        counted by category and status, or loans by product type, open and closed (those a later upload or
        batch rewrote count there instead)."""
        upload = self.get_object()
        # Only the records of the upload's kind: a file of flags writes no loans, and one of loans no flags.
        written = {"institution_id": upload.institution_id, "source_upload": upload}
        summary: dict[str, Any] = {
            "upload": upload,
            "report_lines_by_code": selectors.report_lines_by_code(UploadError.objects.filter(upload=upload)),
            "flags": selectors.flag_counts(Flag.objects.filter(**written))
            if upload.kind == UploadKind.FLAGS
            else selectors.FlagCounts(),
            "loans": loan_counts(Loan.objects.filter(**written)) if upload.kind == UploadKind.LOANS else LoanCounts(),
        }
        return Response(UploadSummarySerializer(summary, context=self.get_serializer_context()).data)


def sender_form(caller: Any) -> type[UploadCreateSerializer]:
    """The upload form for ``caller``: the rule of the file's kind (``KIND_WRITERS``) is checked as soon as the
    kind is read and found valid, before the rest of the form, the file's size or its CSV header, so that a caller
    who may not send files of that kind is answered 403 whatever else is wrong. (Only a body whose
    Content-Length is already too large is refused first, with 413: its form is never read.)"""

    class SenderForm(UploadCreateSerializer):
        def validate_kind(self, kind: str) -> str:
            check(caller, KIND_WRITERS[kind])
            return kind

    return SenderForm
