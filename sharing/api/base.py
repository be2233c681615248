"""What every file job of the API (an upload, an inspection) does alike: take a file, once, and report its errors.

A file job is posted as a multipart form, checked before its file is stored (size, fields, a CSV
file's header), accepted with 202 and a job to poll, replayed from its Idempotency-Key, and read
back with its error report: one line per refused row and field, never the rows' values.
"""

import csv
import hashlib
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from django.conf import settings
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.auditing import AuditedMixin
from accounts.api.scoping import InstitutionScopedMixin
from accounts.authentication import caller_institution
from accounts.models import User
from accounts.permissions import ActionAllowed
from config.pagination import NewestFirstCursorPagination
from config.parsers import JSONParser, MultiPartParser
from sharing.choices import FileFormat
from sharing.flags import idempotency
from sharing.flags import reading as files
from sharing.messages import lazy_message, message

Form = serializers.Serializer[dict[str, Any]]
IDEMPOTENCY_HEADER = OpenApiParameter(
    idempotency.HEADER, str, OpenApiParameter.HEADER, description="Makes a retry safe: the first answer is replayed."
)
ERROR_REPORT = {(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="row,field,code,message")}


class CsvRenderer(BaseRenderer):
    """Lets a caller ask for the error report with ``Accept: text/csv``; the view streams it itself."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return b"" if data is None else str(data).encode()


class FileTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "file_too_large"
    default_detail = lazy_message("file_too_large", "default")


class FileJobViewSet(
    AuditedMixin,
    InstitutionScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Any],
):
    """A kind of file job: the caller's own jobs, each posted with its file and read back with its error report.

    A subclass names its model, the layout of its file (``layout``), the idempotency scope of its posts
    (``endpoint``), the model of its error report and the field of it that names the job, and the task
    that works the job.
    """

    permission_classes = [ActionAllowed]
    http_method_names = ["get", "post", "head", "options"]
    pagination_class = NewestFirstCursorPagination
    parser_classes = [MultiPartParser, JSONParser]
    layout: ClassVar[files.Layout]
    endpoint: ClassVar[str]
    error_model: ClassVar[type[Model]]
    error_job_field: ClassVar[str]
    task: ClassVar[Any]

    @extend_schema(responses=ERROR_REPORT)
    @action(detail=True, methods=["get"], renderer_classes=[CsvRenderer, JSONRenderer])
    def errors(self, request: Request, pk: str | None = None) -> StreamingHttpResponse:
        job = self.get_object()
        lines = self.error_model._default_manager.filter(**{self.error_job_field: job})
        return _report(lines, f"{self.basename}-{job.pk}-errors.csv")

    def accepted_file(
        self, request: Request, form_class: type[serializers.Serializer[dict[str, Any]]]
    ) -> dict[str, Any]:
        """A posted file's form, checked before the file is stored: size, fields, and a CSV file's header.

        An over-long body is refused from its Content-Length, before it is read.
        """
        limit = settings.UPLOAD_MAX_BYTES
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit + 64 * 1024:
            raise FileTooLarge(message("file_too_large", limit=f"{limit:,}"))
        form = form_class(data=request.data)
        form.is_valid(raise_exception=True)
        data: dict[str, Any] = form.validated_data
        if data["file"].size > limit:
            raise FileTooLarge(message("file_too_large", limit=f"{limit:,}"))
        if data["format"] == FileFormat.CSV:
            check_header(data["file"], self.file_layout(data))
        return data

    def file_layout(self, data: dict[str, Any]) -> files.Layout:
        """The layout the posted file must have; a job that takes several kinds of file picks it from ``data``."""
        return self.layout

    def accept_once(self, data: dict[str, Any], create: Callable[[dict[str, Any]], Model], asked: str = "") -> Response:
        """The job that ``create`` makes of the sent file, answered 202, once per Idempotency-Key.

        The same bytes under another name, with the same ``asked``, are the same request (the
        member client keys them by content). A replay audits the job it names. A request that
        fails after storing its file rolls back, so the file, which holds member tokens, is
        deleted here: nothing else would ever delete it.
        """
        file, file_format = data["file"], data["format"]
        try:
            response = idempotency.once(
                self.request,
                self.endpoint,
                lambda: _content_fingerprint(file, file_format, asked),
                lambda: self._accepted(create(self._sent_file(file, file_format))),
            )
        except BaseException:
            stored = getattr(self.audit_target, "file", None)
            if stored:
                stored.storage.delete(stored.name or "")
            raise
        if response.get("Idempotent-Replayed"):
            self.audit_target = self.get_queryset().model._default_manager.filter(pk=response.data["id"]).first()
            response["Location"] = response.data["links"]["self"]
        return response

    def _sent_file(self, file: Any, file_format: str) -> dict[str, Any]:
        """What every file job records of its file and of who sent it."""
        caller = self.request.user
        return {
            "institution": caller_institution(self.request),
            "created_by": caller if isinstance(caller, User) else None,
            "created_by_key": getattr(caller, "key", None),
            "file": file,
            "file_name": file.name[:255],
            "file_format": file_format,
            "size_bytes": file.size,
        }

    def _accepted(self, job: Model) -> Response:
        """202 with the job to poll, the job as the audit target, and its task sent once the request commits."""
        self.audit_target = job
        transaction.on_commit(lambda: self.task.delay(job.pk))
        body = self.get_serializer(job).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["links"]["self"]})


def _content_fingerprint(file: Any, file_format: str, asked: str = "") -> str:
    """The same bytes under another name are the same request (the member client keys them by content)."""
    digest = hashlib.sha256(f"{file_format}\n{asked}\n".encode())
    for chunk in file.chunks():
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()


def check_header(file: Any, layout: files.Layout) -> None:
    """Refuse a CSV file whose header lacks a required column or names an unknown one, before storing it."""
    file.seek(0)
    try:
        columns = files.read_header(file)
    except files.FileRefused as refusal:
        raise exceptions.ValidationError({"file": [exceptions.ErrorDetail(str(refusal), refusal.code)]}) from None
    finally:
        file.seek(0)
    errors = files.header_errors(columns, layout)
    if errors:
        raise exceptions.ValidationError(
            {"columns": {error.field: [exceptions.ErrorDetail(error.message, error.code)] for error in errors}}
        )


class Echo:
    """A file that hands back what is written to it: csv.writer makes lines to stream with it."""

    def write(self, value: str) -> str:
        return value


def _report(errors: QuerySet[Any], file_name: str) -> StreamingHttpResponse:
    """A file's error report, streamed: row, field, code, message. Never the rows' values."""
    response = StreamingHttpResponse(_report_lines(errors), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{file_name}"'
    return response


def _report_lines(errors: QuerySet[Any]) -> Iterator[str]:
    writer = csv.writer(Echo())
    yield writer.writerow(["row", "field", "code", "message"])
    rows = errors.order_by("row", "id").values_list("row", "field", "code", "message")
    for row, field, code, said in rows.iterator(chunk_size=5000):
        yield writer.writerow([row, cell(field), code, said])


def cell(value: str) -> str:
    """A spreadsheet never runs what a member put into a field name (CSV formula injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
