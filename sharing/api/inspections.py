"""Post-loan self-inspections: a portfolio file matched by workers, then its results and error report."""

import csv
import json
from collections.abc import Iterator
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import caller_institution
from accounts.choices import AuditAction
from accounts.permissions import INSPECTORS
from memberkit.vocabulary import LENDING_FIGURES
from sharing import tasks
from sharing.api.base import IDEMPOTENCY_HEADER, CsvRenderer, Echo, FileJobViewSet, cell
from sharing.api.queries import NotReciprocalError
from sharing.api.serializers.inspections import InspectionCreateSerializer, InspectionSerializer
from sharing.choices import JobStatus
from sharing.matching import inspections, lending
from sharing.matching import queries as matching
from sharing.matching.inspection_lending import NO_LOAN_CONTRIBUTIONS
from sharing.messages import lazy_message
from sharing.models import Inspection, InspectionError, InspectionHit, InspectionLending


class JsonLinesRenderer(CsvRenderer):
    media_type = "application/jsonl"
    format = "jsonl"


class NotFinished(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "not_finished"
    default_detail = lazy_message("not_finished", "inspection")


@extend_schema_view(
    errors=extend_schema(
        description="The rows that were not matched and why: one line per row and field. Never the rows' values."
    )
)
class InspectionViewSet(FileJobViewSet):
    """Post-loan self-inspections: a portfolio file matched by workers in parallel parts, then its results."""

    queryset = Inspection.objects.order_by("-id")
    serializer_class = InspectionSerializer
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
    filterset_fields = ["portfolio", "status"]
    layout = inspections.INSPECTION_FILE
    endpoint = "inspections"
    error_model = InspectionError
    error_job_field = "inspection"
    task = tasks.run_inspection

    @extend_schema(
        request={"multipart/form-data": InspectionCreateSerializer},
        responses={202: InspectionSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def create(self, request: Request) -> Response:
        """Inspect a portfolio of up to 10 million subjects, each with one to five member tokens, against other
        members' flags, with each subject's multi-lender figures."""
        data = self.accepted_file(request, InspectionCreateSerializer)
        data["consent_reference"] = data.get("consent_reference", "").strip()
        thresholds = data.get("lending_thresholds", {})
        institution, now = caller_institution(request), timezone.now()
        try:
            visible = matching.visible_categories(institution, now)
        except matching.NotReciprocal:
            raise NotReciprocalError.to("inspect") from None
        # Decided now, as the categories are: no loans reported in the window, no multi-lender figures (not a 403).
        note = "" if lending.loans_reciprocal(institution, now) else NO_LOAN_CONTRIBUTIONS

        def create(sent: dict[str, Any]) -> Inspection:
            inspection = Inspection.objects.create(
                **sent,
                portfolio=data["portfolio"],
                purpose=data["purpose"],
                consent_reference=data["consent_reference"],
                visible_categories=sorted(visible) if visible is not None else None,
                lending_thresholds=thresholds,
                lending_note=note,
            )
            self.audit_details = {"purpose": inspection.purpose, "consent_reference": inspection.consent_reference}
            return inspection

        asked = "\n".join([data["portfolio"], data["purpose"], data["consent_reference"]])
        if thresholds:  # a request without them is asked as it was before they existed
            asked += "\n" + json.dumps(thresholds, sort_keys=True)
        return self.accept_once(data, create, asked)

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="one line per subject and category, each with the subject's multi-lender figures and "
                "lending_new; a subject with figures and no hit has one line with its category columns empty",
            ),
            (200, "application/jsonl"): OpenApiResponse(
                OpenApiTypes.STR,
                description="one object per subject: correlation_id, new, categories, lending (the figures, or null "
                "when the inspection has none: lending_note) and lending_new",
            ),
            409: OpenApiResponse(description="`not_finished`: the inspection has not succeeded."),
        }
    )
    @action(detail=True, methods=["get"], renderer_classes=[CsvRenderer, JsonLinesRenderer])
    def results(self, request: Request, pk: str | None = None) -> StreamingHttpResponse:
        """The subjects that other members have flagged or that have multi-lender figures: categories and
        counts, the figures, and what is new. Never a contributor."""
        inspection = self.get_object()
        if inspection.status != JobStatus.SUCCEEDED:
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


def _figures(inspection: Inspection) -> Iterator[tuple[Any, ...]]:
    rows = InspectionLending.objects.filter(inspection=inspection).order_by("row")
    return rows.values_list("row", "correlation_id", *LENDING_FIGURES, "new").iterator(chunk_size=5000)


Subject = tuple[str, list[tuple[Any, ...]], dict[str, Any] | None, bool]


def _subjects(inspection: Inspection) -> Iterator[Subject]:
    """Each subject with a hit or a figure, in the order of the file: its correlation id, its hits (category,
    institutions, latest event, disputed, resolved, new), its figures (zeros when it has none, None when the
    inspection has no figures: ``lending_note``) and whether they are new."""
    hits, figures = _hits(inspection), _figures(inspection)
    hit, figure = next(hits, None), next(figures, None)
    zeros = None if inspection.lending_note else lending.NONE
    while hit is not None or figure is not None:
        row = min(found[0] for found in (hit, figure) if found is not None)
        correlation_id = ""
        categories = []
        while hit is not None and hit[0] == row:
            correlation_id = hit[1]
            categories.append(hit[2:])
            hit = next(hits, None)
        values: dict[str, Any] | None
        if figure is not None and figure[0] == row:
            correlation_id = figure[1]
            values, new = dict(zip(LENDING_FIGURES, figure[2:-1], strict=True)), figure[-1]
            figure = next(figures, None)
        else:
            values, new = zeros, False
        yield correlation_id, categories, values, new


CSV_COLUMNS = [
    *["correlation_id", "category", "institutions", "latest_event_month", "disputed", "resolved", "new"],
    *LENDING_FIGURES,
    "lending_new",
]


def _result_rows(inspection: Inspection) -> Iterator[str]:
    writer = csv.writer(Echo())
    yield writer.writerow(CSV_COLUMNS)
    for correlation_id, categories, figures, lending_new in _subjects(inspection):
        # The subject's figures on each of its lines; empty when the inspection has none (lending_note).
        after = ["" for _ in CSV_COLUMNS[7:]] if figures is None else [*figures.values(), _flag(lending_new)]
        for category, institutions, latest, disputed, resolved, new in categories:
            flags = map(_flag, (disputed, resolved, new))
            yield writer.writerow(
                [cell(correlation_id), category, institutions, latest.strftime("%Y-%m"), *flags, *after]
            )
        if not categories:  # a subject with figures and no hit: one line, its flag columns empty
            yield writer.writerow([cell(correlation_id), "", "", "", "", "", "", *after])


def _flag(value: bool) -> str:
    return "true" if value else "false"  # as JSON writes them


def _result_objects(inspection: Inspection) -> Iterator[str]:
    for correlation_id, categories, figures, lending_new in _subjects(inspection):
        subject = {
            "correlation_id": correlation_id,
            "new": lending_new or any(new for *_, new in categories),
            "categories": [
                {
                    "category": category,
                    "institutions": institutions,
                    "latest_event_month": latest.strftime("%Y-%m"),
                    "disputed": disputed,
                    "resolved": resolved,
                    "new": new,
                }
                for category, institutions, latest, disputed, resolved, new in categories
            ],
            "lending": figures,
            "lending_new": lending_new,
        }
        yield json.dumps(subject, ensure_ascii=False) + "\n"
