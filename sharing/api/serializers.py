from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.validators import validate_file_name, validate_label
from memberkit.labels import holds_identifier
from sharing import heartbeat
from sharing.choices import (
    CONSENT_MAX,
    CONSENT_PURPOSES,
    CORRELATION_MAX,
    FLAG_CHANGES,
    AmountBand,
    Category,
    FileFormat,
    FlagStatus,
    IdType,
    NoticeChannel,
    QueryPurpose,
    ReportFormat,
)
from sharing.flags.selectors import FlagCounts
from sharing.keys import datakeys as keys
from sharing.keys.tokens import MEMBER_TOKEN
from sharing.messages import message
from sharing.models import Flag, Inspection, Report, Upload
from sharing.reports import jobs as reports

# A JSON object, or null (details destroyed or never sent; figures not built yet).
OBJECT_OR_NULL = {"type": "object", "additionalProperties": {}, "nullable": True}


def links(context: Mapping[str, Any], routes: dict[str, str], pk: int) -> dict[str, str]:
    """A job's links by name, absolute when the serializer has the request."""
    return absolute(context, {name: reverse(route, args=[pk]) for name, route in routes.items()})


def absolute(context: Mapping[str, Any], paths: dict[str, str]) -> dict[str, str]:
    """Paths by name, made absolute URLs when the serializer has the request."""
    request = context.get("request")
    if request is None:
        return paths
    return {name: request.build_absolute_uri(path) for name, path in paths.items()}


class FlagInputSerializer(serializers.Serializer[dict[str, Any]]):
    """One flag as a member sends it. ``sharing.flags.checking`` checks it; these fields document it."""

    reference = serializers.CharField(max_length=64, help_text="The member's own id for the case; unique per member.")
    id_type = serializers.ChoiceField(choices=IdType.choices)
    token = serializers.CharField(min_length=64, max_length=64, help_text="The member token: 64 lowercase hex.")
    category = serializers.ChoiceField(choices=Category.choices)
    event_date = serializers.DateField()
    end_date = serializers.DateField(required=False, allow_null=True, help_text="When the event ended; resolves it.")
    amount_band = serializers.ChoiceField(choices=AmountBand.choices, required=False, allow_blank=True)
    notice_date = serializers.DateField(required=False, allow_null=True, help_text="Required for negative categories.")
    notice_channel = serializers.ChoiceField(choices=NoticeChannel.choices, required=False, allow_blank=True)
    details = serializers.JSONField(required=False, help_text="A JSON object, sealed at rest; only you read it.")


class FlagBatchSerializer(serializers.Serializer[dict[str, Any]]):
    """``{"flags": [...]}``. Each item is checked by ``sharing.flags.checking`` in the service, not here."""

    flags = FlagInputSerializer(many=True, help_text="1 to 1,000 flags.")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict) or not isinstance(data.get("flags"), list):
            raise serializers.ValidationError(
                {"flags": [serializers.ErrorDetail('Send {"flags": [...]}, a list of flags.', code="required")]}
            )
        flags = data["flags"]
        if not 1 <= len(flags) <= settings.FLAG_BATCH_MAX:
            message = _("Send 1 to %(most)s flags per request; this one has %(sent)s.") % {
                "most": f"{settings.FLAG_BATCH_MAX:,}",
                "sent": f"{len(flags):,}",
            }
            raise serializers.ValidationError({"flags": [serializers.ErrorDetail(message, code="batch_size")]})
        for index, item in enumerate(flags):
            if not isinstance(item, dict):
                message = _("Each flag is a JSON object.")
                by_index: dict[Any, Any] = {index: [serializers.ErrorDetail(message, code="invalid")]}
                raise serializers.ValidationError({"flags": by_index})
        return {"flags": flags}


class StoredFlagSerializer(serializers.Serializer[dict[str, Any]]):
    reference = serializers.CharField()
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=FlagStatus.choices)


class BatchResultSerializer(serializers.Serializer[dict[str, Any]]):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    flags = StoredFlagSerializer(many=True)


class FlagSerializer(serializers.ModelSerializer[Flag]):
    """A flag as its own institution sees it. The token is never returned."""

    has_details = serializers.SerializerMethodField()

    class Meta:
        model = Flag
        fields = [
            "id",
            "reference",
            "id_type",
            "category",
            "event_date",
            "end_date",
            "amount_band",
            "status",
            "disputed",
            "notice_date",
            "notice_channel",
            "has_details",
            "details_destroyed_at",
            "withdrawal_reason",
            "expires_on",
            "source_upload",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_has_details(self, flag: Flag) -> bool:
        annotated = getattr(flag, "has_details", None)
        return annotated if annotated is not None else flag.details is not None


class FlagDetailSerializer(FlagSerializer):
    details = serializers.SerializerMethodField()

    class Meta(FlagSerializer.Meta):
        fields = [*FlagSerializer.Meta.fields, "details"]
        read_only_fields = fields

    @extend_schema_field(OBJECT_OR_NULL)
    def get_details(self, flag: Flag) -> dict[str, object] | None:
        return keys.details_of(flag)


class FlagChangeSerializer(serializers.Serializer[dict[str, Any]]):
    """Resolve a flag (the event ended on ``end_date``) or withdraw it (with a ``reason``)."""

    status = serializers.ChoiceField(choices=FLAG_CHANGES)
    end_date = serializers.DateField(required=False)
    reason = serializers.CharField(required=False, max_length=500, validators=[validate_label])

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["status"] == FlagStatus.RESOLVED and "end_date" not in attrs:
            raise serializers.ValidationError({"end_date": _("Resolving a flag needs the date its event ended.")})
        return attrs


class UploadCreateSerializer(serializers.Serializer[dict[str, Any]]):
    file = serializers.FileField(
        help_text="CSV with a header line, or JSON Lines; UTF-8.", validators=[validate_file_name]
    )
    format = serializers.ChoiceField(
        choices=FileFormat.choices, required=False, help_text="Taken from the file name (.csv, .jsonl) if omitted."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return with_file_format(attrs)


def check_consent(attrs: dict[str, Any], *, portfolio: bool = False) -> None:
    """Loan applications and credit reviews need the borrowers' written authorization (art. 18)."""
    if attrs["purpose"] in CONSENT_PURPOSES and not attrs.get("consent_reference", "").strip():
        said = message("consent_required", "portfolio" if portfolio else "")
        raise serializers.ValidationError({"consent_reference": serializers.ErrorDetail(said, code="consent_required")})


def with_file_format(attrs: dict[str, Any]) -> dict[str, Any]:
    """The format named, or else the one the file's name ends with."""
    if "format" not in attrs:
        name = attrs["file"].name.lower()
        if name.endswith(".csv"):
            attrs["format"] = FileFormat.CSV
        elif name.endswith((".jsonl", ".ndjson")):
            attrs["format"] = FileFormat.JSONL
        else:
            raise serializers.ValidationError(
                {"format": serializers.ErrorDetail("Name the format: csv or jsonl.", code="required")}
            )
    return attrs


WAITING_FOR_WORKER = (
    "True while the job is queued and no worker has recorded its heartbeat lately "
    "(WORKER_HEARTBEAT_STALE_SECONDS): no worker is running, and the job starts when one does."
)


def waiting_for_worker(context: Mapping[str, Any], status: str) -> bool:
    """``heartbeat.waiting_for_a_worker``, with the heartbeat read at most once per answer (lists)."""
    if not isinstance(context, dict):
        return heartbeat.waiting_for_a_worker(status)
    answers: dict[str, bool] = context.setdefault("waiting_for_worker", {})
    if status not in answers:
        answers[status] = heartbeat.waiting_for_a_worker(status)
    return answers[status]


class UploadSerializer(serializers.ModelSerializer[Upload]):
    links = serializers.SerializerMethodField()
    waiting_for_worker = serializers.SerializerMethodField(help_text=WAITING_FOR_WORKER)

    class Meta:
        model = Upload
        fields = [
            "id",
            "file_name",
            "file_format",
            "size_bytes",
            "status",
            "rows_total",
            "rows_done",
            "created_count",
            "updated_count",
            "superseded_count",
            "rejected_count",
            "error_code",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "waiting_for_worker",
            "links",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "object", "properties": {"self": {"type": "string"}, "errors": {"type": "string"}}})
    def get_links(self, upload: Upload) -> dict[str, str]:
        return links(self.context, {"self": "upload-detail", "errors": "upload-errors"}, upload.pk)

    def get_waiting_for_worker(self, upload: Upload) -> bool:
        return waiting_for_worker(self.context, upload.status)


class QuerySubjectSerializer(serializers.Serializer[dict[str, Any]]):
    correlation_id = serializers.CharField(
        max_length=CORRELATION_MAX, help_text="Your own id for the subject; echoed back.", validators=[validate_label]
    )
    id_type = serializers.ChoiceField(choices=IdType.choices)
    token = serializers.CharField(help_text="The member token: 64 lowercase hex. Never echoed back.")

    def validate_token(self, value: str) -> str:
        if not MEMBER_TOKEN.fullmatch(value):
            # Never echo the value: it is a borrower's token, or a raw identifier sent by mistake.
            raise serializers.ValidationError(message("bad_token"), code="bad_token")
        return value


class QueryRequestSerializer(serializers.Serializer[dict[str, Any]]):
    purpose = serializers.ChoiceField(choices=QueryPurpose.choices)
    consent_reference = serializers.CharField(
        max_length=CONSENT_MAX,
        required=False,
        allow_blank=True,
        help_text="The borrower's written authorization; required for loan_application and credit_review.",
        validators=[validate_label],
    )
    subjects = QuerySubjectSerializer(many=True, min_length=1, max_length=settings.QUERY_SUBJECTS_MAX)  # type: ignore[call-arg]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        check_consent(attrs)
        return attrs


_PURPOSES = frozenset(QueryPurpose.values)
_ID_TYPES = frozenset(IdType.values)


def plain_query(data: Any) -> dict[str, Any] | None:
    """The validated data of a plain, valid query without building ``QueryRequestSerializer``, or None.

    Every query passes through here, and building a nested serializer costs more than
    the lookup it guards. This accepts only requests the serializer accepts, and gives
    what it gives (a test holds the two together); anything else, every invalid request
    included, returns None and goes to the serializer, which stays the definition of a
    valid query and the only source of error messages.
    """
    if type(data) is not dict or type(purpose := data.get("purpose")) is not str or purpose not in _PURPOSES:
        return None
    plain: dict[str, Any] = {"purpose": purpose}
    if "consent_reference" in data:
        consent = data["consent_reference"]
        if (
            type(consent) is not str
            or len(consent) > CONSENT_MAX
            or not consent.isprintable()
            or holds_identifier(consent)
        ):
            return None
        plain["consent_reference"] = consent.strip()
    if purpose in CONSENT_PURPOSES and not plain.get("consent_reference"):
        return None
    subjects = data.get("subjects")
    if type(subjects) is not list or not 1 <= len(subjects) <= settings.QUERY_SUBJECTS_MAX:
        return None
    plain["subjects"] = checked = []
    for subject in subjects:
        if type(subject) is not dict:
            return None
        correlation_id, id_type, token = subject.get("correlation_id"), subject.get("id_type"), subject.get("token")
        if (
            type(correlation_id) is not str
            or not 0 < len(correlation_id) <= CORRELATION_MAX
            or not correlation_id.isprintable()
            or correlation_id != correlation_id.strip()
            or holds_identifier(correlation_id)
            or type(id_type) is not str
            or id_type not in _ID_TYPES
            or type(token) is not str
            or not MEMBER_TOKEN.fullmatch(token)
        ):
            return None
        checked.append({"correlation_id": correlation_id, "id_type": id_type, "token": token})
    return plain


class CategoryHitSerializer(serializers.Serializer[dict[str, Any]]):
    category = serializers.ChoiceField(choices=Category.choices)
    institutions = serializers.IntegerField(help_text="How many distinct other members flagged it.")
    latest_event_month = serializers.CharField(help_text="YYYY-MM of the most recent event.")
    disputed = serializers.BooleanField()
    resolved = serializers.BooleanField()


class OwnHitSerializer(serializers.Serializer[dict[str, Any]]):
    category = serializers.ChoiceField(choices=Category.choices)
    flags = serializers.IntegerField(help_text="How many of your own flags.")
    latest_event_month = serializers.CharField()
    disputed = serializers.BooleanField()
    resolved = serializers.BooleanField()


class SubjectAnswerSerializer(serializers.Serializer[dict[str, Any]]):
    correlation_id = serializers.CharField()
    hit = serializers.BooleanField(help_text="Whether another member has flagged the subject (in what you may see).")
    categories = CategoryHitSerializer(many=True)
    own = OwnHitSerializer(many=True)


class QueryAnswerSerializer(serializers.Serializer[dict[str, Any]]):
    purpose = serializers.ChoiceField(choices=QueryPurpose.choices)
    subjects = SubjectAnswerSerializer(many=True)
    hits = serializers.IntegerField()


class InspectionCreateSerializer(serializers.Serializer[dict[str, Any]]):
    file = serializers.FileField(
        help_text="CSV (correlation_id, id_type, token) or JSON Lines; UTF-8.", validators=[validate_file_name]
    )
    format = serializers.ChoiceField(
        choices=FileFormat.choices, required=False, help_text="Taken from the file name (.csv, .jsonl) if omitted."
    )
    portfolio = serializers.CharField(
        max_length=100,
        help_text="Names the portfolio: results say what is new since its last inspection.",
        validators=[validate_label],
    )
    purpose = serializers.ChoiceField(choices=QueryPurpose.choices)
    consent_reference = serializers.CharField(
        max_length=CONSENT_MAX, required=False, allow_blank=True, validators=[validate_label]
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        check_consent(attrs, portfolio=True)
        return with_file_format(attrs)


class InspectionSerializer(serializers.ModelSerializer[Inspection]):
    links = serializers.SerializerMethodField()
    waiting_for_worker = serializers.SerializerMethodField(help_text=WAITING_FOR_WORKER)

    class Meta:
        model = Inspection
        fields = [
            "id",
            "portfolio",
            "purpose",
            "consent_reference",
            "file_name",
            "file_format",
            "size_bytes",
            "status",
            "rows_total",
            "rows_done",
            "rejected_count",
            "parts",
            "parts_done",
            "hits_count",
            "new_hits_count",
            "counts_by_category",
            "previous",
            "error_code",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "waiting_for_worker",
            "links",
        ]
        read_only_fields = fields

    @extend_schema_field(
        {
            "type": "object",
            "properties": {"self": {"type": "string"}, "results": {"type": "string"}, "errors": {"type": "string"}},
        }
    )
    def get_links(self, inspection: Inspection) -> dict[str, str]:
        names = {"self": "inspection-detail", "results": "inspection-results", "errors": "inspection-errors"}
        return links(self.context, names, inspection.pk)

    def get_waiting_for_worker(self, inspection: Inspection) -> bool:
        return waiting_for_worker(self.context, inspection.status)


class ReportSerializer(serializers.ModelSerializer[Report]):
    """A report job: its period, progress and links; the figures only in ``ReportDetailSerializer``."""

    links = serializers.SerializerMethodField()
    waiting_for_worker = serializers.SerializerMethodField(help_text=WAITING_FOR_WORKER)

    class Meta:
        model = Report
        fields = [
            "id",
            "starts_on",
            "ends_on",
            "trigger",
            "status",
            "steps_done",
            "steps_total",
            "error_code",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "waiting_for_worker",
            "links",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
    def get_links(self, report: Report) -> dict[str, str]:
        paths = {"self": reverse("report-detail", args=[report.pk])}
        for file_format in ReportFormat.values:
            paths[file_format] = reverse("report-download", args=[report.pk, file_format])
            paths[f"{file_format}_signature"] = reverse("report-signature", args=[report.pk, file_format])
        return absolute(self.context, paths)

    def get_waiting_for_worker(self, report: Report) -> bool:
        return waiting_for_worker(self.context, report.status)


class ReportDetailSerializer(ReportSerializer):
    figures = serializers.SerializerMethodField(
        help_text="The tables as published (suppressed cells null); a member sees only its own rows."
    )

    class Meta(ReportSerializer.Meta):
        fields = [*ReportSerializer.Meta.fields, "figures"]
        read_only_fields = fields

    @extend_schema_field(OBJECT_OR_NULL)
    def get_figures(self, report: Report) -> dict[str, Any] | None:
        figures: dict[str, Any] | None = self.context["figures"]
        return figures


class ReportRequestSerializer(serializers.Serializer[dict[str, Any]]):
    starts_on = serializers.DateField(help_text="The period's first day.")
    ends_on = serializers.DateField(help_text="The period's last day, included; today at the latest.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        reports.check_period(attrs["starts_on"], attrs["ends_on"])
        return attrs


class FlagCountSerializer(serializers.Serializer[dict[str, Any]]):
    category = serializers.ChoiceField(choices=Category.choices)
    status = serializers.ChoiceField(choices=FlagStatus.choices)
    count = serializers.IntegerField(min_value=1)


class FlagSummarySerializer(serializers.Serializer[FlagCounts]):
    """The caller's flags (as filtered) counted by category and status, to reconcile a book."""

    total = serializers.IntegerField(min_value=0)
    by_category = serializers.DictField(child=serializers.IntegerField(min_value=1))
    by_status = serializers.DictField(child=serializers.IntegerField(min_value=1))
    cells = FlagCountSerializer(many=True, help_text="Every (category, status) pair that has flags.")


class UploadSummarySerializer(serializers.Serializer[dict[str, Any]]):
    """An upload's rows reconciled: what became of them, the report by code, and the flags it wrote."""

    upload = UploadSerializer()
    report_lines_by_code = serializers.DictField(
        child=serializers.IntegerField(min_value=1),
        help_text="The error report's lines counted by code; a refused row has a line per field at fault.",
    )
    flags = FlagSummarySerializer(help_text="Flags whose latest write came from this upload.")
