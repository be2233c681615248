"""Uploads: files of flags or of loans, stored by a worker in chunks; 202 with a job to poll, then its error report."""

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.choices import AuditAction
from accounts.permissions import FLAG_WRITERS, LOAN_WRITERS, UPLOAD_READERS, UPLOAD_SENDERS, check
from sharing import tasks
from sharing.api.base import IDEMPOTENCY_HEADER, FileJobViewSet
from sharing.api.serializers.uploads import UploadCreateSerializer, UploadSerializer, UploadSummarySerializer
from sharing.choices import UploadKind
from sharing.filters import UploadFilter
from sharing.flags import reading, selectors, uploads
from sharing.models import Flag, Upload, UploadError

# Who may send a file of each kind: those who may contribute its records over REST.
KIND_WRITERS = {UploadKind.FLAGS: FLAG_WRITERS, UploadKind.LOANS: LOAN_WRITERS}


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
        "create": UPLOAD_SENDERS,  # and the rule of the file's kind, once the form is read (KIND_WRITERS)
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
        data = self.accepted_file(request, UploadCreateSerializer)
        kind = data["kind"]
        check(request.user, KIND_WRITERS[kind])
        # The same bytes sent as another kind are another request; a file of flags keys as it always has.
        asked = "" if kind == UploadKind.FLAGS else kind
        return self.accept_once(data, lambda sent: Upload.objects.create(**sent, kind=kind), asked)

    def file_layout(self, data: dict[str, Any]) -> reading.Layout:
        return tasks.CONTRIBUTIONS[data["kind"]].layout

    @extend_schema(responses=UploadSummarySerializer)
    @action(detail=True, methods=["get"])
    def summary(self, request: Request, pk: str | None = None) -> Response:
        """The upload's rows reconciled: its counts, its error report counted by code, and the flags it
        wrote counted by category and status (those a later upload rewrote count there instead)."""
        upload = self.get_object()
        summary: dict[str, Any] = {
            "upload": upload,
            "report_lines_by_code": selectors.report_lines_by_code(UploadError.objects.filter(upload=upload)),
            "flags": selectors.flag_counts(
                Flag.objects.filter(institution_id=upload.institution_id, source_upload=upload)
            ),
        }
        return Response(UploadSummarySerializer(summary, context=self.get_serializer_context()).data)
