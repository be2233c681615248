import csv
import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.auditing import AuditedMixin
from accounts.api.scoping import InstitutionScopedMixin
from accounts.authentication import caller_institution
from accounts.choices import AuditAction, Role, Scope
from accounts.models import User
from accounts.permissions import ActionAllowed, Allow
from config.pagination import NewestFirstCursorPagination
from config.parsers import JSONParser, MultiPartParser
from sharing import tasks
from sharing.api.serializers import (
    BatchResultSerializer,
    FlagBatchSerializer,
    FlagChangeSerializer,
    FlagDetailSerializer,
    FlagSerializer,
    FlagSummarySerializer,
    InspectionCreateSerializer,
    InspectionSerializer,
    QueryAnswerSerializer,
    QueryRequestSerializer,
    UploadCreateSerializer,
    UploadSerializer,
    UploadSummarySerializer,
    plain_query,
)
from sharing.choices import FileFormat, FlagStatus, UploadStatus
from sharing.filters import FlagFilter, UploadFilter
from sharing.flags import idempotency, selectors, services, uploads
from sharing.flags import reading as files
from sharing.keys.tokens import Keyer
from sharing.matching import inspections, quotas
from sharing.matching import queries as matching
from sharing.models import Flag, Inspection, InspectionError, InspectionHit, Upload, UploadError

WRITERS = Allow.people(Role.CONTRIBUTOR, scope=Scope.FLAGS_WRITE)
READERS = Allow.people(Role.CONTRIBUTOR, Role.AUDITOR, scope=Scope.FLAGS_WRITE)
IDEMPOTENCY_HEADER = OpenApiParameter(
    idempotency.HEADER, str, OpenApiParameter.HEADER, description="Makes a retry safe: the first answer is replayed."
)


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
    default_detail = _("The file is over the size limit.")


class FlagViewSet(
    AuditedMixin,
    InstitutionScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Flag],
):
    """A member's own flags: contribute in batches, read, resolve and withdraw.

    Other institutions' flags do not exist here: they answer 404.
    """

    queryset = Flag.objects.order_by("-id")
    permission_classes = [ActionAllowed]
    allow = {"list": READERS, "retrieve": READERS, "summary": READERS, "create": WRITERS, "partial_update": WRITERS}
    audit_actions = {
        "list": AuditAction.FLAG_LIST,
        "retrieve": AuditAction.FLAG_VIEW,
        "summary": AuditAction.FLAG_SUMMARY,
        "create": AuditAction.FLAG_CONTRIBUTE,
    }
    http_method_names = ["get", "post", "patch", "head", "options"]
    pagination_class = NewestFirstCursorPagination
    filterset_class = FlagFilter

    def get_queryset(self) -> QuerySet[Flag]:
        queryset: QuerySet[Flag] = super().get_queryset()
        if self.action != "list":
            return queryset.select_related("details_key")
        # A list never decrypts: it says whether details exist without loading the ciphertext.
        has_details = ExpressionWrapper(Q(details__isnull=False), output_field=BooleanField())
        return queryset.defer("details", "token").annotate(has_details=has_details)

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        return FlagDetailSerializer if self.action == "retrieve" else FlagSerializer

    @extend_schema(request=FlagBatchSerializer, responses=BatchResultSerializer, parameters=[IDEMPOTENCY_HEADER])
    def create(self, request: Request) -> Response:
        """Contribute up to 1,000 flags, all or nothing; a known reference updates its flag."""
        batch = FlagBatchSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        items = batch.validated_data["flags"]
        return idempotency.once(
            request,
            "flags",
            lambda: hashlib.sha256(json.dumps(items, sort_keys=True, default=str).encode()).hexdigest(),
            lambda: self._contribute(request, items),
        )

    def _contribute(self, request: Request, items: list[dict[str, Any]]) -> Response:
        institution = caller_institution(request)
        try:
            flags, stored = services.contribute(institution, items)
        except services.BatchInvalid as invalid:
            by_index: dict[Any, Any] = {
                index: {error.field: [exceptions.ErrorDetail(error.message, error.code)] for error in errors}
                for index, errors in invalid.errors.items()
            }
            raise exceptions.ValidationError({"flags": by_index}) from None
        stored_flags = dict(
            Flag.objects.filter(institution=institution, reference__in=[flag.reference for flag in flags]).values_list(
                "reference", "pk"
            )
        )
        self.audit_subjects = len(flags)
        return Response(
            {
                "created": stored.created,
                "updated": stored.updated,
                "flags": [
                    {
                        "reference": flag.reference,
                        "id": stored_flags[flag.reference],
                        "status": FlagStatus.RESOLVED if flag.end_date else FlagStatus.ACTIVE,
                    }
                    for flag in flags
                ],
            }
        )

    @extend_schema(responses=FlagSummarySerializer)
    @action(detail=False, methods=["get"])
    def summary(self, request: Request) -> Response:
        """The caller's flags counted by category and status, with the list's filters (``?upload=`` for one
        upload's): a member reconciles its book with the platform without paging through every flag."""
        counts = selectors.flag_counts(self.filter_queryset(self.get_queryset()))
        self.audit_subjects = counts.total
        return Response(FlagSummarySerializer(counts).data)

    @extend_schema(request=FlagChangeSerializer, responses=FlagDetailSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        """Resolve (``status: resolved`` with ``end_date``) or withdraw (``status: withdrawn`` with ``reason``)."""
        change = FlagChangeSerializer(data=request.data)
        change.is_valid(raise_exception=True)
        data = change.validated_data
        flag, self.audit_action = services.change(
            self.get_object(), data["status"], end_date=data.get("end_date"), reason=data.get("reason", "")
        )
        return Response(FlagDetailSerializer(flag, context=self.get_serializer_context()).data)


MATCHERS = Allow.people(Role.ANALYST, scope=Scope.MATCH)


class NotReciprocalError(exceptions.PermissionDenied):
    default_code = "not_reciprocal"

    @classmethod
    def to(cls, verb: str) -> "NotReciprocalError":
        days = {"days": settings.MATCH_RECIPROCITY_DAYS}
        if verb == "inspect":
            return cls(
                gettext("Your institution has contributed no flags in the last %(days)s days; contribute to inspect.")
                % days
            )
        return cls(
            gettext("Your institution has contributed no flags in the last %(days)s days; contribute to query.") % days
        )


class QueryView(AuditedMixin, APIView):
    """Real-time query: have other members flagged these borrowers? Up to 100 subjects.

    The answer says, per subject and category, how many other members flagged it, never which.
    """

    permission_classes = [ActionAllowed]
    allow = {"post": MATCHERS}
    audit_actions = {"post": AuditAction.QUERY}
    reads_only = True  # it changes nothing but the usage counters and its own event

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        # No transaction around the request: its two writes are each one statement, the counters
        # (with the lookup, counted only if within the limits) and then the event, which must be
        # written before the answer leaves. Two round trips fewer (BEGIN, COMMIT); see architecture.md.
        return transaction.non_atomic_requests(super().as_view(**initkwargs))

    @extend_schema(
        request=QueryRequestSerializer,
        responses={
            200: QueryAnswerSerializer,
            429: OpenApiResponse(description="`rate_exceeded` or `quota_exceeded`; see Retry-After."),
        },
    )
    def post(self, request: Request) -> Response:
        data = plain_query(request.data)
        if data is None:
            form = QueryRequestSerializer(data=request.data)
            form.is_valid(raise_exception=True)
            data = form.validated_data
        institution = caller_institution(request)
        keyer = Keyer(settings.PLATFORM_PEPPERS)  # the serializer has checked every token
        subjects = [(subject["correlation_id"], keyer(subject["token"])) for subject in data["subjects"]]
        now = timezone.now()
        try:
            answers, hits = matching.query(
                institution, subjects, now, quotas.Charge.of(institution, len(subjects), now)
            )
        except matching.NotReciprocal:
            raise NotReciprocalError.to("query") from None
        consent = data.get("consent_reference", "").strip()
        self.audit_subjects = len(subjects)
        self.audit_details = {"purpose": data["purpose"], "consent_reference": consent, "hits": hits}
        return Response({"purpose": data["purpose"], "subjects": answers, "hits": hits})


class UploadViewSet(
    AuditedMixin,
    InstitutionScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Upload],
):
    """Files of flags, processed by a worker: 202 with a job to poll, then its error report."""

    queryset = Upload.objects.order_by("-id")
    serializer_class = UploadSerializer
    permission_classes = [ActionAllowed]
    allow = {"list": READERS, "retrieve": READERS, "summary": READERS, "create": WRITERS, "errors": READERS}
    audit_actions = {
        "list": AuditAction.UPLOAD_LIST,
        "retrieve": AuditAction.UPLOAD_VIEW,
        "summary": AuditAction.UPLOAD_VIEW,
        "create": AuditAction.UPLOAD_CREATE,
        "errors": AuditAction.UPLOAD_ERRORS,
    }
    http_method_names = ["get", "post", "head", "options"]
    pagination_class = NewestFirstCursorPagination
    filterset_class = UploadFilter
    parser_classes = [MultiPartParser, JSONParser]

    @extend_schema(
        request={"multipart/form-data": UploadCreateSerializer},
        responses={202: UploadSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def create(self, request: Request) -> Response:
        """Upload a CSV or JSON Lines file of up to 10 million flags; a worker stores them in chunks."""
        data = accepted_file(request, UploadCreateSerializer, uploads.FLAG_FILE)
        file, file_format = data["file"], data["format"]
        return accept_once(
            self,
            "uploads",
            lambda: _content_fingerprint(file, file_format),
            lambda: self._accept(request, file, file_format),
        )

    def _accept(self, request: Request, file: Any, file_format: str) -> Response:
        upload = Upload.objects.create(**_sent_file(request, file, file_format))
        return _accepted(self, upload, tasks.process_upload)

    @extend_schema(
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="row,field,code,message")}
    )
    @action(detail=True, methods=["get"], renderer_classes=[CsvRenderer, JSONRenderer])
    def errors(self, request: Request, pk: str | None = None) -> StreamingHttpResponse:
        """The error report: one line per refused or superseded row and field. Never the rows' values."""
        upload = self.get_object()
        return _report(UploadError.objects.filter(upload=upload), f"upload-{upload.pk}-errors.csv")

    @extend_schema(responses=UploadSummarySerializer)
    @action(detail=True, methods=["get"])
    def summary(self, request: Request, pk: str | None = None) -> Response:
        """The upload's rows reconciled: its counts, its error report counted by code, and the flags it
        wrote counted by category and status (those a later upload rewrote count there instead)."""
        upload = self.get_object()
        summary = {
            "upload": upload,
            "report_lines_by_code": selectors.report_lines_by_code(UploadError.objects.filter(upload=upload)),
            "flags": selectors.flag_counts(
                Flag.objects.filter(institution_id=upload.institution_id, source_upload=upload)
            ),
        }
        return Response(UploadSummarySerializer(summary, context=self.get_serializer_context()).data)


INSPECTORS = Allow.people(Role.ANALYST, scope=Scope.INSPECTIONS)


class JsonLinesRenderer(CsvRenderer):
    media_type = "application/jsonl"
    format = "jsonl"


class NotFinished(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "not_finished"
    default_detail = _("The inspection has not succeeded; its results exist once it has.")


class InspectionViewSet(
    AuditedMixin,
    InstitutionScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Inspection],
):
    """Post-loan self-inspections: a portfolio file matched by workers in parallel parts, then its results."""

    queryset = Inspection.objects.order_by("-id")
    serializer_class = InspectionSerializer
    permission_classes = [ActionAllowed]
    allow = {
        "list": INSPECTORS,
        "retrieve": INSPECTORS,
        "create": INSPECTORS,
        "results": INSPECTORS,
        "errors": INSPECTORS,
    }
    audit_actions = {
        "list": AuditAction.INSPECTION_LIST,
        "retrieve": AuditAction.INSPECTION_VIEW,
        "create": AuditAction.INSPECTION_CREATE,
        "results": AuditAction.INSPECTION_RESULTS,
        "errors": AuditAction.INSPECTION_ERRORS,
    }
    http_method_names = ["get", "post", "head", "options"]
    pagination_class = NewestFirstCursorPagination
    filterset_fields = ["portfolio", "status"]
    parser_classes = [MultiPartParser, JSONParser]

    @extend_schema(
        request={"multipart/form-data": InspectionCreateSerializer},
        responses={202: InspectionSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def create(self, request: Request) -> Response:
        """Inspect a portfolio of up to 10 million member tokens against other members' flags."""
        data = accepted_file(request, InspectionCreateSerializer, inspections.INSPECTION_FILE)
        data["consent_reference"] = data.get("consent_reference", "").strip()
        institution = caller_institution(request)
        try:
            visible = matching.visible_categories(institution, timezone.now())
        except matching.NotReciprocal:
            raise NotReciprocalError.to("inspect") from None

        def fingerprint() -> str:
            asked = "\n".join([data["portfolio"], data["purpose"], data["consent_reference"]])
            return _content_fingerprint(data["file"], data["format"], asked)

        return accept_once(self, "inspections", fingerprint, lambda: self._accept(request, data, visible))

    def _accept(self, request: Request, data: dict[str, Any], visible: frozenset[str] | None) -> Response:
        inspection = Inspection.objects.create(
            **_sent_file(request, data["file"], data["format"]),
            portfolio=data["portfolio"],
            purpose=data["purpose"],
            consent_reference=data["consent_reference"],
            visible_categories=sorted(visible) if visible is not None else None,
        )
        self.audit_details = {"purpose": inspection.purpose, "consent_reference": inspection.consent_reference}
        return _accepted(self, inspection, tasks.run_inspection)

    @extend_schema(
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="row,field,code,message")}
    )
    @action(detail=True, methods=["get"], renderer_classes=[CsvRenderer, JSONRenderer])
    def errors(self, request: Request, pk: str | None = None) -> StreamingHttpResponse:
        """The rows that were not matched and why: one line per row and field. Never the rows' values."""
        inspection = self.get_object()
        return _report(InspectionError.objects.filter(inspection=inspection), f"inspection-{inspection.pk}-errors.csv")

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="one line per subject and category"),
            (200, "application/jsonl"): OpenApiResponse(OpenApiTypes.STR, description="one object per subject"),
            409: OpenApiResponse(description="`not_finished`: the inspection has not succeeded."),
        }
    )
    @action(detail=True, methods=["get"], renderer_classes=[CsvRenderer, JsonLinesRenderer])
    def results(self, request: Request, pk: str | None = None) -> StreamingHttpResponse:
        """The subjects that other members have flagged: categories and counts, and what is new."""
        inspection = self.get_object()
        if inspection.status != UploadStatus.SUCCEEDED:
            raise NotFinished()
        as_json = request.accepted_renderer.format == "jsonl"
        lines = _result_objects(inspection) if as_json else _result_rows(inspection)
        response = StreamingHttpResponse(lines, content_type=request.accepted_renderer.media_type + "; charset=utf-8")
        extension = "jsonl" if as_json else "csv"
        response["Content-Disposition"] = f'attachment; filename="inspection-{inspection.pk}.{extension}"'
        return response


def _hits(inspection: Inspection) -> Iterator[tuple[Any, ...]]:
    rows = InspectionHit.objects.filter(inspection=inspection).order_by("row", "category")
    fields = ("row", "correlation_id", "category", "institutions", "latest_event_date", "disputed", "resolved", "new")
    return rows.values_list(*fields).iterator(chunk_size=5000)


def _result_rows(inspection: Inspection) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(
        ["correlation_id", "category", "institutions", "latest_event_month", "disputed", "resolved", "new"]
    )
    for _row, correlation_id, category, institutions, latest, disputed, resolved, new in _hits(inspection):
        yield writer.writerow(
            [
                _cell(correlation_id),
                category,
                institutions,
                latest.strftime("%Y-%m"),
                *map(_flag, (disputed, resolved, new)),
            ]
        )


def _flag(value: bool) -> str:
    return "true" if value else "false"  # as JSON writes them


def _result_objects(inspection: Inspection) -> Iterator[str]:
    subject: dict[str, Any] | None = None
    current = None
    for row, correlation_id, category, institutions, latest, disputed, resolved, new in _hits(inspection):
        if row != current:
            if subject is not None:
                yield json.dumps(subject, ensure_ascii=False) + "\n"
            current, subject = row, {"correlation_id": correlation_id, "new": False, "categories": []}
        assert subject is not None
        subject["new"] = subject["new"] or new
        subject["categories"].append(
            {
                "category": category,
                "institutions": institutions,
                "latest_event_month": latest.strftime("%Y-%m"),
                "disputed": disputed,
                "resolved": resolved,
                "new": new,
            }
        )
    if subject is not None:
        yield json.dumps(subject, ensure_ascii=False) + "\n"


def _content_fingerprint(file: Any, file_format: str, asked: str = "") -> str:
    """The same bytes under another name are the same request (the member client keys them by content)."""
    digest = hashlib.sha256(f"{file_format}\n{asked}\n".encode())
    for chunk in file.chunks():
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()


def _sent_file(request: Request, file: Any, file_format: str) -> dict[str, Any]:
    """What every file job (an upload, an inspection) records of its file and of who sent it."""
    caller = request.user
    return {
        "institution": caller_institution(request),
        "created_by": caller if isinstance(caller, User) else None,
        "created_by_key": getattr(caller, "key", None),
        "file": file,
        "file_name": file.name[:255],
        "file_format": file_format,
        "size_bytes": file.size,
    }


def _accepted(view: Any, job: Upload | Inspection, task: Any) -> Response:
    """202 with the job to poll, the job as the view's audit target, and its task sent once the request commits."""
    view.audit_target = job
    transaction.on_commit(lambda: task.delay(job.pk))
    body = view.get_serializer(job).data
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["links"]["self"]})


def accept_once(
    view: AuditedMixin, endpoint: str, fingerprint: Callable[[], str], accept: Callable[[], Response]
) -> Response:
    """``idempotency.once`` for a posted file that ``accept`` stores and makes the view's audit target.

    A replay audits the job it names. A request that fails after storing its
    file rolls back, so the file, which holds member tokens, is deleted here:
    nothing else would ever delete it.
    """
    try:
        response = idempotency.once(view.request, endpoint, fingerprint, accept)
    except BaseException:
        stored = getattr(view.audit_target, "file", None)
        if stored:
            stored.storage.delete(stored.name or "")
        raise
    if response.get("Idempotent-Replayed"):
        model = view.get_queryset().model  # type: ignore[attr-defined]
        view.audit_target = model.objects.filter(pk=response.data["id"]).first()
        response["Location"] = response.data["links"]["self"]
    return response


def accepted_file(
    request: Request, form_class: type[serializers.Serializer[dict[str, Any]]], layout: files.Layout
) -> dict[str, Any]:
    """A posted file's form, checked before the file is stored: size, fields, and a CSV file's header.

    An over-long body is refused from its Content-Length, before it is read.
    """
    limit = settings.UPLOAD_MAX_BYTES
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit + 64 * 1024:
        raise FileTooLarge(gettext("A file may have at most %(limit)s bytes.") % {"limit": f"{limit:,}"})
    form = form_class(data=request.data)
    form.is_valid(raise_exception=True)
    data: dict[str, Any] = form.validated_data
    if data["file"].size > limit:
        raise FileTooLarge(gettext("A file may have at most %(limit)s bytes.") % {"limit": f"{limit:,}"})
    if data["format"] == FileFormat.CSV:
        check_header(data["file"], layout)
    return data


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


class _Echo:
    def write(self, value: str) -> str:
        return value


def _report(errors: QuerySet[Any], file_name: str) -> StreamingHttpResponse:
    """A file's error report, streamed: row, field, code, message. Never the rows' values."""
    response = StreamingHttpResponse(_report_lines(errors), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{file_name}"'
    return response


def _report_lines(errors: QuerySet[Any]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(["row", "field", "code", "message"])
    rows = errors.order_by("row", "id").values_list("row", "field", "code", "message")
    for row, field, code, message in rows.iterator(chunk_size=5000):
        yield writer.writerow([row, _cell(field), code, message])


def _cell(value: str) -> str:
    """A spreadsheet never runs what a member put into a field name (CSV formula injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
