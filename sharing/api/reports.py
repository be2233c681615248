"""Regulators' reports over the API: request, list, read, and download signed files."""

import base64
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import auditproof
from accounts.api.auditing import AuditedMixin
from accounts.api.serializers import AuditPublicKeySerializer
from accounts.authentication import caller_institution
from accounts.choices import AuditAction
from accounts.models import User
from accounts.permissions import REPORT_READERS, REPORT_REQUESTERS, ActionAllowed, reads_whole_reports
from config.pagination import NewestFirstCursorPagination
from sharing import tasks
from sharing.api.serializers.reports import ReportDetailSerializer, ReportRequestSerializer, ReportSerializer
from sharing.choices import JobStatus, ReportFormat
from sharing.messages import lazy_message, message
from sharing.models import Report, ReportFile
from sharing.reports import files as report_files
from sharing.reports import publishing

MEDIA_TYPES = {
    ReportFormat.CSV: "text/csv; charset=utf-8",
    ReportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class AnyFileRenderer(BaseRenderer):
    """Lets a download be asked for with any Accept header; the view answers with the file itself."""

    media_type = "*/*"
    format = "file"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> Any:
        return data


class NotBuilt(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "not_finished"
    default_detail = lazy_message("not_finished", "report")


NOT_BUILT = OpenApiResponse(description="`not_finished`: the report has not been built yet.")


class ReportViewSet(AuditedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Report]):
    """Aggregated reports for regulators, built by workers; members read their own institution's slice."""

    queryset = Report.objects.order_by("-id")
    serializer_class = ReportSerializer
    permission_classes = [ActionAllowed]
    allow = {
        "list": REPORT_READERS,
        "retrieve": REPORT_READERS,
        "create": REPORT_REQUESTERS,
        "download": REPORT_READERS,
        "signature": REPORT_READERS,
    }
    audit_actions = {
        "list": AuditAction.REPORT_LIST,
        "retrieve": AuditAction.REPORT_VIEW,
        "create": AuditAction.REPORT_REQUEST,
        "download": AuditAction.REPORT_DOWNLOAD,
    }
    http_method_names = ["get", "post", "head", "options"]
    pagination_class = NewestFirstCursorPagination
    filterset_fields = ["status", "trigger"]

    @extend_schema(request=ReportRequestSerializer, responses={202: ReportSerializer})
    def create(self, request: Request) -> Response:
        """Ask for a report of any period; a worker builds it (poll ``links.self``)."""
        form = ReportRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        # A regulator's system asks with its key (reports:request); the audit trail names the key.
        person = request.user if isinstance(request.user, User) else None
        report = tasks.request_report(form.validated_data["starts_on"], form.validated_data["ends_on"], by=person)
        self.audit_target = report
        body = ReportSerializer(report, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["links"]["self"]})

    @extend_schema(responses=ReportDetailSerializer)
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        """The report with its figures: the whole of it for regulators and operators, else the caller's slice."""
        report = self.get_object()
        figures = None
        if report.status == JobStatus.SUCCEEDED and report.figures is not None:
            whole = reads_whole_reports(request.user)
            figures = report.figures if whole else publishing.member_slice(report.figures, self._own_code())
        context = {**self.get_serializer_context(), "figures": figures}
        return Response(ReportDetailSerializer(report, context=context).data)

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="one line per cell"),
            (200, MEDIA_TYPES[ReportFormat.XLSX]): OpenApiResponse(
                OpenApiTypes.BINARY, description="a sheet per table"
            ),
            409: NOT_BUILT,
        }
    )
    @action(
        detail=True,
        url_path=r"files/(?P<file_format>csv|xlsx)",
        renderer_classes=[AnyFileRenderer, JSONRenderer],
    )
    def download(self, request: Request, file_format: str, pk: str | None = None) -> HttpResponse:
        """The report as a file (the caller's slice for a member), signed: see ``.../signature``."""
        stored = self._file(file_format)
        response = _attachment(bytes(stored.content), MEDIA_TYPES[ReportFormat(file_format)], _file_name(stored))
        response["Riskshare-Signature"] = "ed25519=" + base64.b64encode(bytes(stored.signature)).decode()
        return response

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="the 64-byte Ed25519 signature of the file"
            ),
            409: NOT_BUILT,
        }
    )
    @action(
        detail=True,
        url_path=r"files/(?P<file_format>csv|xlsx)/signature",
        renderer_classes=[AnyFileRenderer, JSONRenderer],
    )
    def signature(self, request: Request, file_format: str, pk: str | None = None) -> HttpResponse:
        """The file's detached Ed25519 signature, for ``python -m memberkit verify`` or OpenSSL."""
        stored = self._file(file_format)
        return _attachment(bytes(stored.signature), "application/octet-stream", f"{_file_name(stored)}.sig")

    def _own_code(self) -> str:
        return caller_institution(self.request).code

    def _file(self, file_format: str) -> ReportFile:
        report = self.get_object()
        if report.status != JobStatus.SUCCEEDED:
            raise NotBuilt()
        whole = reads_whole_reports(self.request.user)
        files = ReportFile.objects.filter(report=report, file_format=file_format)
        files = files.filter(institution__isnull=True) if whole else files.filter(institution__code=self._own_code())
        stored = files.select_related("institution").first()
        if stored is None:  # an institution that was no member when the report was built has no slice
            raise exceptions.NotFound(message("not_found", "report_slice"))
        return stored


def _file_name(stored: ReportFile) -> str:
    report = stored.report
    slice_ = f"-{stored.institution.code}" if stored.institution else ""
    return f"riskshare-report-{report.pk}-{report.starts_on}-{report.ends_on}{slice_}.{stored.file_format}"


def _attachment(content: bytes, content_type: str, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


class ReportPublicKeyView(APIView):
    """The public half of the key that signs report files: anyone may fetch it to verify a file."""

    permission_classes = [AllowAny]
    authentication_classes: list[type[Any]] = []

    @extend_schema(responses=AuditPublicKeySerializer)
    def get(self, request: Request) -> Response:
        return Response(auditproof.published_key(report_files.signing_key().public_key()))
