"""Post-loan self-inspections: a whole portfolio matched against other members' flags, in parallel parts.

``start`` surveys the file and splits it into parts of ``INSPECTION_PART_ROWS``
records; workers match the parts in parallel (``match_part``), each committing its
hits and its subjects' multi-lender figures (``inspection_lending``) together with its
part's "done" mark, so a part cut off by a dying worker is simply matched again. The
worker that commits the last part enqueues ``finish``, which counts the hits and marks
what is new since the portfolio's previous inspection. No result backend is needed:
the parts coordinate through the database.

A row is a subject with one to five identifiers (``sharing.flags.identifiers``): it is
staged as one (row, correlation id, platform token) probe per identifier, and hits a
flag when any of its tokens is one of the flag's. On PostgreSQL a part is matched
set-wise: its probes are COPYed into a staging table and joined with the flags' tokens
in one INSERT ... SELECT. Elsewhere the same answer comes from the ORM
(``_match_portable``); the tests hold both to the same result.
"""

import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from itertools import islice
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef
from django.utils import timezone

from accounts.audit import record
from accounts.choices import AuditAction, AuditOutcome
from memberkit import labels
from memberkit.labels import holds_identifier
from memberkit.text import has_control, unstorable
from sharing.choices import CORRELATION_MAX, FlagStatus, JobStatus
from sharing.flags.checking import UNPROCESSABLE
from sharing.flags.identifiers import NUMBERED_FIELDS, keyed, member_identifiers
from sharing.flags.reading import FileRefused, Layout, Record, records, survey
from sharing.jobs import log_failure
from sharing.keys.tokens import Keyer, Peppers, peppers
from sharing.matching import inspection_lending as figured
from sharing.matching.inspection_lending import Probe  # (row, correlation id, token): one per identifier of a row
from sharing.matching.queries import SHARED_STATUSES
from sharing.messages import FieldError, english
from sharing.models import FlagToken, Inspection, InspectionError, InspectionHit, InspectionLending, InspectionPart

logger = logging.getLogger(__name__)
# A CSV portfolio names a subject's first identifier in id_type and token, any others in id_type_2 and token_2 up
# to id_type_5 and token_5; JSON Lines also take the list form (sharing.flags.identifiers).
INSPECTION_FILE = Layout("portfolio file", ("correlation_id", "id_type", "token"), NUMBERED_FIELDS)
MAX_ATTEMPTS = 5


def start(inspection_id: int) -> list[int]:
    """Survey the file and make its parts; the numbers of the parts still to match."""
    with transaction.atomic():
        inspection = Inspection.objects.select_for_update().filter(pk=inspection_id).first()
        if inspection is None or inspection.is_finished:
            return []
        if inspection.parts and inspection.parts_done == inspection.parts:
            return []  # every part is matched: only closing the job is left (run_inspection does it)
        if inspection.attempts >= MAX_ATTEMPTS:
            message = english("too_many_attempts", attempts=inspection.attempts)
            finish(inspection.pk, failed=("too_many_attempts", message))
            return []
        inspection.status = JobStatus.RUNNING
        inspection.attempts += 1
        inspection.started_at = inspection.started_at or timezone.now()
        inspection.heartbeat_at = timezone.now()
        inspection.save(update_fields=["status", "attempts", "started_at", "heartbeat_at"])
    if inspection.rows_total is None:
        try:
            with inspection.file.storage.open(inspection.file.name or "", "rb") as handle:
                assert handle.file is not None
                total = survey(handle.file, inspection.file_format, INSPECTION_FILE, settings.UPLOAD_MAX_ROWS)
        except FileRefused as refusal:
            finish(inspection.pk, failed=(refusal.code, str(refusal)))
            return []
        parts = math.ceil(total / settings.INSPECTION_PART_ROWS)
        with transaction.atomic():
            InspectionPart.objects.bulk_create(
                [InspectionPart(inspection=inspection, number=number) for number in range(parts)],
                ignore_conflicts=True,
            )
            Inspection.objects.filter(pk=inspection.pk).update(rows_total=total, parts=parts)
    return list(
        InspectionPart.objects.filter(inspection_id=inspection.pk, done=False)
        .order_by("number")
        .values_list("number", flat=True)
    )


def match_part(inspection_id: int, number: int, on_last: Callable[[], None]) -> None:
    """Match one part and commit its hits with its mark; ``on_last`` runs after the commit of the last part."""
    with transaction.atomic():
        part = InspectionPart.objects.select_for_update().filter(inspection_id=inspection_id, number=number).first()
        if part is None or part.done:
            return
        inspection = Inspection.objects.get(pk=inspection_id)
        if inspection.is_finished:
            return
        size = settings.INSPECTION_PART_ROWS
        with inspection.file.storage.open(inspection.file.name or "", "rb") as handle:
            assert handle.file is not None
            source = records(handle.file, inspection.file_format, INSPECTION_FILE, skip=number * size)
            probes, refusals, rows = _probes(islice(source, size), peppers())
            source.close()
        InspectionError.objects.bulk_create(
            [
                InspectionError(
                    inspection=inspection, row=row, field=error.field, code=error.code, message=error.message
                )
                for row, error in refusals
            ],
            batch_size=1000,
        )
        visible = inspection.visible_categories
        if connection.vendor == "postgresql":
            _match_set_wise(inspection, probes, visible)
            figures = figured.set_wise(inspection, STAGING) if not inspection.lending_note else []
        else:
            _match_portable(inspection, probes, visible)
            figures = figured.portable(inspection, probes) if not inspection.lending_note else []
        figured.store(inspection, figures, {row: correlation_id for row, correlation_id, _token in probes})
        part.done = True
        part.save(update_fields=["done"])
        Inspection.objects.filter(pk=inspection_id).update(
            rows_done=F("rows_done") + rows,
            rejected_count=F("rejected_count") + len({row for row, _error in refusals}),
            parts_done=F("parts_done") + 1,
            heartbeat_at=timezone.now(),
        )
        inspection.refresh_from_db(fields=["parts", "parts_done"])
        if inspection.parts_done == inspection.parts:
            transaction.on_commit(on_last)


def _probes(source: Iterable[Record], peppers: Peppers) -> tuple[list[Probe], list[tuple[int, FieldError]], int]:
    """Valid (row, correlation id, platform token) probes, one per identifier of each valid row, the
    refusals of the other rows, and rows read."""
    keyer = Keyer(peppers)
    probes: list[Probe] = []
    refusals: list[tuple[int, FieldError]] = []
    rows = 0
    logged = False
    for line, fields, unreadable in source:
        rows += 1
        if fields is None:
            assert unreadable is not None
            refusals.append((line, unreadable))
            continue
        try:
            correlation_id = fields.get("correlation_id")
            refused = _correlation_refusal(correlation_id)
            # The one check of a record's identifiers: 1 to 5, one per type, in either form (sharing.flags.identifiers).
            identifiers, errors = member_identifiers(fields)
            if refused is not None or errors:
                refusals.extend((line, error) for error in ([refused] if refused else []) + errors)
                continue
            assert isinstance(correlation_id, str)
            probes.extend((line, correlation_id, token) for _id_type, token in keyed(identifiers, keyer))
        except Exception as error:  # whatever the row holds, it costs the row, never the part (as in uploads)
            if not logged:  # once a part: a file of such rows must not flood the log
                log_failure(logger, f"the row on line {line} was refused", error)
                logged = True
            refusals.append((line, UNPROCESSABLE))
    return probes, refusals, rows


def _correlation_refusal(correlation_id: object) -> FieldError | None:
    """Why a row's correlation id cannot be kept, if it cannot; never quoting it (it might hold an identifier)."""
    if correlation_id is None or correlation_id == "":
        return _refusal("correlation_id", "required")
    if type(correlation_id) is not str or len(correlation_id) > CORRELATION_MAX:
        return _refusal("correlation_id", "bad_correlation_id")
    if unstorable(correlation_id):  # the COPY would fail on it, and the whole part with it
        return _refusal("correlation_id", "unstorable_text")
    if has_control(correlation_id):
        return _refusal("correlation_id", labels.CONTROL_REASON)
    if holds_identifier(correlation_id):
        return _refusal("correlation_id", labels.REASON)
    return None


def _refusal(field: str, code: str) -> FieldError:
    return FieldError(field, code, english(code, field))


STAGING = "sharing_inspection_staging"
MATCH = (
    "INSERT INTO sharing_inspectionhit (inspection_id, row, correlation_id, category, institutions,"  # noqa: S608
    " latest_event_date, disputed, resolved, new)"
    " SELECT %(inspection)s, s.row, s.correlation_id, f.category, count(DISTINCT f.institution_id),"
    " max(f.event_date), bool_or(f.disputed), bool_or(f.status = %(resolved)s), false"
    # One probe of the token index per staged token, then one of the flags' primary key per token found, by
    # construction: each look-up is a LATERAL subquery on the row before it, which OFFSET 0 keeps the planner
    # from flattening into a join it could turn round (with statistics that say few flags match, it read the
    # staging table once per flag) or hash (every flag of the consortium read once per part). A flag that two
    # tokens of one subject find comes twice into its group, which counts institutions distinctly and keeps
    # only the latest date and whether any is disputed or resolved: it changes nothing.
    " FROM " + STAGING + " s CROSS JOIN LATERAL (SELECT flag_id FROM sharing_flagtoken WHERE token = s.token"
    " OFFSET 0) t CROSS JOIN LATERAL (SELECT category, institution_id, event_date, disputed, status"
    " FROM sharing_flag WHERE id = t.flag_id AND status = ANY(%(statuses)s)"
    " AND institution_id <> %(institution)s AND (%(all)s OR category = ANY(%(visible)s)) OFFSET 0) f"
    " GROUP BY s.row, s.correlation_id, f.category"
)


def _match_set_wise(inspection: Inspection, probes: Sequence[Probe], visible: list[str] | None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGING} (row integer, correlation_id varchar(64), token bytea)"
            " ON COMMIT DELETE ROWS"
        )
        cursor.execute(f"TRUNCATE {STAGING}")
        with cursor.copy(f"COPY {STAGING} (row, correlation_id, token) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "varchar", "bytea"])
            for probe in probes:
                copy.write_row(probe)
        cursor.execute(
            MATCH,
            {
                "inspection": inspection.pk,
                "resolved": FlagStatus.RESOLVED.value,
                "statuses": [status.value for status in SHARED_STATUSES],
                "institution": inspection.institution_id,
                "all": visible is None,
                "visible": visible or [],
            },
        )


def _match_portable(inspection: Inspection, probes: Sequence[Probe], visible: list[str] | None) -> None:
    """The same hits as the set-based path, through the ORM: for SQLite, and as the reference."""
    by_token: dict[bytes, list[tuple[int, str]]] = defaultdict(list)
    for row, correlation_id, token in probes:
        by_token[token].append((row, correlation_id))
    groups: dict[tuple[int, str, str], dict[str, Any]] = {}
    tokens = list(by_token)
    for start_at in range(0, len(tokens), 500):
        found = FlagToken.objects.filter(
            token__in=tokens[start_at : start_at + 500],
            flag__status__in=SHARED_STATUSES,
        ).exclude(flag__institution_id=inspection.institution_id)
        if visible is not None:
            found = found.filter(flag__category__in=visible)
        # A flag that two tokens of a subject find comes twice into its group: as in MATCH, that changes nothing.
        for stored, institution_id, category, event_date, disputed, status in found.values_list(
            "token", "flag__institution_id", "flag__category", "flag__event_date", "flag__disputed", "flag__status"
        ):
            for row, correlation_id in by_token[bytes(stored)]:
                group = groups.setdefault(
                    (row, correlation_id, category),
                    {"institutions": set(), "latest": date.min, "disputed": False, "resolved": False},
                )
                group["institutions"].add(institution_id)
                group["latest"] = max(group["latest"], event_date)
                group["disputed"] = group["disputed"] or disputed
                group["resolved"] = group["resolved"] or status == FlagStatus.RESOLVED
    InspectionHit.objects.bulk_create(
        [
            InspectionHit(
                inspection=inspection,
                row=row,
                correlation_id=correlation_id,
                category=category,
                institutions=len(group["institutions"]),
                latest_event_date=group["latest"],
                disputed=group["disputed"],
                resolved=group["resolved"],
            )
            for (row, correlation_id, category), group in groups.items()
        ],
        batch_size=1000,
    )


def finish(inspection_id: int, failed: tuple[str, str] | None = None) -> Inspection | None:
    """Count the hits, mark what is new since the portfolio's previous inspection, close the job."""
    with transaction.atomic():
        inspection = Inspection.objects.select_for_update().filter(pk=inspection_id).first()
        if inspection is None or inspection.is_finished:
            return inspection
        hits = InspectionHit.objects.filter(inspection=inspection)
        figures = InspectionLending.objects.filter(inspection=inspection)
        if failed is None:
            previous = (
                Inspection.objects.filter(
                    institution_id=inspection.institution_id,
                    portfolio=inspection.portfolio,
                    status=JobStatus.SUCCEEDED,
                    pk__lt=inspection.pk,
                )
                .order_by("-pk")
                .first()
            )
            if previous is not None:
                earlier = InspectionHit.objects.filter(
                    inspection=previous, correlation_id=OuterRef("correlation_id"), category=OuterRef("category")
                )
                hits.exclude(Exists(earlier)).update(new=True)
                figured.mark_risen(inspection, previous)
                # Subjects new by their flags or by their figures, each once.
                new = figures.filter(new=True).values("correlation_id")
                inspection.new_hits_count = hits.filter(new=True).values("correlation_id").union(new).count()
            inspection.previous = previous
            inspection.hits_count = hits.values("correlation_id").distinct().count()
            if not inspection.lending_note:
                inspection.lending_count = figured.elsewhere(figures).values("correlation_id").distinct().count()
            inspection.counts_by_category = dict(
                hits.values("category")
                .annotate(subjects=Count("correlation_id", distinct=True))
                .values_list("category", "subjects")
            )
            inspection.status = JobStatus.SUCCEEDED
        else:
            inspection.status = JobStatus.FAILED
            inspection.error_code, inspection.error = failed
        inspection.finished_at = timezone.now()
        inspection.release_file()
        inspection.save()
        record(
            AuditAction.INSPECTION_RUN,
            institution=inspection.institution,
            target=inspection,
            outcome=AuditOutcome.SUCCESS if failed is None else AuditOutcome.FAILED,
            reason=failed[0] if failed else "",
            purpose=inspection.purpose,
            consent_reference=inspection.consent_reference,
            subjects=inspection.rows_done,
            hits=inspection.hits_count,
        )
    return inspection
