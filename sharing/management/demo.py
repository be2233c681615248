"""The demo consortium, written through the platform's own code paths (``manage.py seed_demo_consortium``).

Five members, eighteen months of their flags (``sharing.management.history``), four years of their
loans (``sharing.management.demo_loans``), a month of their queries, a portfolio inspected twice and
last month's report: so that every page a newcomer opens has something true to show. Each part
runs in this process through the code a request or a worker runs: ``services.contribute`` and the
upload job store the flags (real tokens, sealed details), ``sharing.loans.services.contribute`` the
loans, ``queries.query`` answers the queries and counts them, the inspection's steps match the
portfolio, ``jobs.build`` builds the report. Only time is made up: what those paths stamp
with the present moment is dated back to when it happened in the history, and the audit events
they would have left are written with those dates.

The history is written once, in one transaction: a second run finds it and adds nothing. Last
month's report is built if it is missing, so a run in a later month builds that month's.
"""

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from accounts import demo
from accounts import services as people
from accounts.audit import new_event
from accounts.authentication import ApiKeyCaller
from accounts.choices import AuditAction, Role
from accounts.models import ApiKey, AuditEvent, Institution, User
from sharing.choices import CONSENT_PURPOSES, FileFormat, JobStatus, QueryPurpose, ReportTrigger
from sharing.flags import services, uploads
from sharing.flags.checking import COLUMNS
from sharing.keys.tokens import Keyer, peppers
from sharing.management import demo_loans, history
from sharing.matching import inspections, queries, quotas
from sharing.models import Flag, Inspection, Loan, Report, Upload
from sharing.reports import jobs
from sharing.reports.gathering import Period

PORTFOLIO = "retail-book"
WITHDRAWAL = "Filed in error: the instalment was paid on time."


@dataclass
class Seeded:
    """What the consortium holds, for the command to print."""

    members: list[Institution]
    written: bool  # False: the history was there already
    flags: int
    queries: int
    inspection: Inspection | None
    report: Report | None
    look_up: tuple[history.Borrower, int]  # a resident, and how many other members flagged them
    loans: int = 0


class Actor:
    """Who acts for a member in the history: its analyst and contributor if it has people, else its key."""

    def __init__(self, institution: Institution) -> None:
        self.institution = institution
        self.key = ApiKey.objects.filter(institution=institution, name=demo.KEY_NAME, revoked_at=None).first()
        staff = list(User.objects.filter(institution=institution).order_by("pk"))
        self.analyst = next((person for person in staff if Role.ANALYST in person.roles), None)
        self.contributor = next((person for person in staff if Role.CONTRIBUTOR in person.roles), None)


def seed(size: int = history.FLAGS, now: datetime | None = None) -> Seeded:
    """Write the consortium unless it is there; its members must exist (seed_demo makes the first two)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    past = history.make(today, size)
    with transaction.atomic():
        members = [_member(cast) for cast in demo.CAST[:2]] + [_member(cast, create=True) for cast in demo.CONSORTIUM]
        written = not Flag.objects.filter(reference__startswith=history.REFERENCE).exists()
        if written:
            _write(past, [Actor(member) for member in members], now)
    report = _report(today)
    return Seeded(
        members=members,
        written=written,
        flags=Flag.objects.filter(reference__startswith=history.REFERENCE).count(),
        queries=AuditEvent.objects.filter(action=AuditAction.QUERY).count(),
        inspection=Inspection.objects.filter(portfolio=PORTFOLIO, status=JobStatus.SUCCEEDED).order_by("-id").first(),
        report=report,
        look_up=past.most_flagged(by_others_than=0),
        loans=Loan.objects.filter(reference__startswith=history.LOAN_REFERENCE).count(),
    )


class MissingCast(Exception):
    """seed_demo has not run: the demo members do not exist."""


def _member(cast: demo.DemoInstitution, create: bool = False) -> Institution:
    institution = Institution.objects.filter(code=cast.code).first()
    if institution is None:
        if not create:
            raise MissingCast(cast.code)
        institution = people.create_institution(
            code=cast.code, name_zh=cast.name_zh, name_en=cast.name_en, kind=cast.kind, sector=cast.sector
        )
    if not ApiKey.objects.filter(institution=institution, name=demo.KEY_NAME).exists():
        people.issue_api_key(institution=institution, name=demo.KEY_NAME, scopes=list(cast.key_scopes))
    return institution


def _write(past: history.History, actors: list[Actor], now: datetime) -> None:
    """The history in the order it happened: weekly batches of flags, the first inspection a week
    into last month, a month of queries; then today's inspection of the same portfolio."""
    events: list[AuditEvent] = []
    # The members' loans first (their own months are in the past): queries and inspections see them.
    for member, when, count in demo_loans.write(past.loans, [actor.institution for actor in actors], now):
        actor = actors[member]
        events.append(_event(AuditAction.LOAN_CONTRIBUTE, when, actor, by=actor.contributor, subjects=count))
    last_month = Period.month_before(past.today)
    first_upload = dict.fromkeys(range(len(actors)), False)
    inspected_on = last_month.starts_on + timedelta(days=7)
    steps: list[tuple[datetime, int, Any]] = []
    for member, filed_on, batch in past.batches():  # this week's, if later today, just before now
        filed_at = min(_at(filed_on, 10 * 60 + 37 * member), now - timedelta(minutes=1))
        steps.append((filed_at, 0, (member, filed_on, batch)))
    steps.append((_at(inspected_on, 15 * 60), 1, None))  # always in last month, so in the past
    asked = ((_at(query.day, query.minutes), query) for query in past.queries)
    steps += [(when, 2, query) for when, query in asked if when < now]  # none later today
    keyer = Keyer(peppers())
    for when, kind, step in sorted(steps, key=lambda step: (step[0], step[1])):
        if kind == 0:
            member, filed_on, batch = step
            by_upload = filed_on >= last_month.starts_on and not first_upload[member]
            first_upload[member] = first_upload[member] or by_upload
            events += _file(actors[member], batch, when, now, by_upload)
        elif kind == 1:
            events += _inspect(actors[0], past.book, when, now)
        else:
            events.append(_ask(actors[step.member], step, when, keyer))
    quotas.prune(now)  # the minute counters of a month ago, as beat would have pruned them
    # Today's inspection, a few minutes ago: the book has grown, and a row of it is not a token.
    events += _inspect(actors[0], [*past.book, *past.added, "not-a-token"], now - timedelta(minutes=5), now)
    if settings.AUDIT_RECORDING:
        AuditEvent.objects.bulk_create(sorted(events, key=lambda event: event.occurred_at), batch_size=1000)


def _at(day: date, minutes: int) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone()) + timedelta(minutes=minutes)


def _file(actor: Actor, batch: list[history.Filing], when: datetime, now: datetime, by_upload: bool) -> list[Any]:
    """Store a week's flags, by a JSON batch or an upload, and date them to the day they were filed."""
    institution = actor.institution
    items = [filing.item for filing in batch]
    if by_upload:
        upload = _upload(actor, items, when)
        events = [_event(AuditAction.UPLOAD_CREATE, when, actor, by=actor.contributor, target=upload)]
    else:
        services.contribute(institution, items)
        events = [_event(AuditAction.FLAG_CONTRIBUTE, when, actor, subjects=len(items))]
    references = [item["reference"] for item in items]
    Flag.objects.filter(institution=institution, reference__in=references).update(created_at=when, updated_at=when)
    for filing in batch:
        if filing.withdrawn:
            flag = Flag.objects.get(institution=institution, reference=filing.item["reference"])
            services.withdraw(flag, WITHDRAWAL)
            later = min(when + timedelta(days=3), now)
            Flag.objects.filter(pk=flag.pk).update(details_destroyed_at=later, updated_at=later)
            events.append(_event(AuditAction.FLAG_WITHDRAW, later, actor, by=actor.contributor, target=flag))
    return events


def _upload(actor: Actor, items: list[dict[str, Any]], when: datetime) -> Upload:
    """A week's flags as a CSV file, with the two mistakes a real file has, through the upload job."""
    rows = [{**item, "details": _json(item.get("details"))} for item in items]
    first = items[0]
    rows.append({**first, "reference": f"{first['reference']}-X", "event_date": "2025-02-30", "details": ""})
    rows.append({**first, "reference": f"{first['reference']}-Y", "category": "overdue_120", "details": ""})
    text = io.StringIO()
    writer = csv.DictWriter(text, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    content = text.getvalue().encode()
    name = f"flags-{when:%Y-%m-%d}.csv"
    upload = Upload.objects.create(
        institution=actor.institution,
        created_by=actor.contributor,
        created_by_key=None if actor.contributor else actor.key,
        file=ContentFile(content, name=name),
        file_name=name,
        file_format=FileFormat.CSV,
        size_bytes=len(content),
    )
    uploads.process(upload.pk)
    done = min(when + timedelta(minutes=2), timezone.now())
    Upload.objects.filter(pk=upload.pk).update(created_at=when, started_at=when, heartbeat_at=done, finished_at=done)
    return upload


def _json(details: Any) -> str:
    return json.dumps(details, ensure_ascii=False) if details else ""


def _inspect(actor: Actor, book: Iterable[history.Borrower | str], when: datetime, now: datetime) -> list[AuditEvent]:
    """Inspect the member's portfolio through the inspection's own steps, run here one after another."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["correlation_id", "id_type", "token"])
    for number, loan in enumerate(book, start=1):
        id_type, token = (loan.id_type, loan.token) if isinstance(loan, history.Borrower) else ("cnid", loan)
        writer.writerow([f"LOAN-{number:06d}", id_type, token])
    content = text.getvalue().encode()
    visible = queries.visible_categories(actor.institution, when)
    inspection = Inspection.objects.create(
        institution=actor.institution,
        created_by=actor.analyst,
        file=ContentFile(content, name=f"{PORTFOLIO}.csv"),
        file_name=f"{PORTFOLIO}-{when:%Y-%m-%d}.csv",
        file_format=FileFormat.CSV,
        size_bytes=len(content),
        portfolio=PORTFOLIO,
        purpose=QueryPurpose.POST_LOAN_REVIEW,
        visible_categories=sorted(visible) if visible is not None else None,
    )
    for number in inspections.start(inspection.pk):
        inspections.match_part(inspection.pk, number, on_last=lambda: None)
    inspections.finish(inspection.pk)
    done = min(when + timedelta(minutes=3), now)
    Inspection.objects.filter(pk=inspection.pk).update(
        created_at=when, started_at=when, heartbeat_at=done, finished_at=done
    )
    return [_event(AuditAction.INSPECTION_CREATE, when, actor, by=actor.analyst, target=inspection)]


def _ask(actor: Actor, query: history.Query, when: datetime, keyer: Keyer) -> AuditEvent:
    """A query answered and counted as the API answers it, at its time; its event as the API records it."""
    institution = actor.institution
    subjects = [(f"Q-{number}", [keyer(token)]) for number, token in enumerate(query.subjects)]
    charge = quotas.Charge.of(institution, len(subjects), when)
    answered = queries.query(
        institution, subjects, when, charge, purpose=query.purpose, pepper_version=peppers().version
    )
    consent = f"AUTH-{when:%y%m%d%H%M}" if query.purpose in CONSENT_PURPOSES else ""
    return _event(
        AuditAction.QUERY,
        when,
        actor,
        by=actor.analyst if query.by_person else None,
        purpose=query.purpose,
        consent_reference=consent,
        subjects=len(subjects),
        hits=answered.hits,
    )


def _event(
    action: AuditAction,
    when: datetime,
    actor: Actor,
    *,
    by: User | None = None,
    target: Any = None,
    purpose: str = "",
    consent_reference: str = "",
    subjects: int | None = None,
    hits: int | None = None,
) -> AuditEvent:
    """The event ``accounts.audit.record`` writes for the action, at the time it happened in the history:
    by the person if one acted, else by the member's key."""
    caller = by if by is not None else ApiKeyCaller(actor.key) if actor.key is not None else None
    return new_event(
        action,
        occurred_at=when,
        actor=caller,
        institution=actor.institution,
        target=target,
        purpose=purpose,
        consent_reference=consent_reference,
        subjects=subjects,
        hits=hits,
    )


def _report(today: date) -> Report | None:
    """Last month's scheduled report, made as beat makes it and built here, unless a worker has built it."""
    period = Period.month_before(today)
    jobs.schedule_month_before(today)  # None if beat has made it already
    report = Report.objects.get(trigger=ReportTrigger.SCHEDULED, starts_on=period.starts_on, ends_on=period.ends_on)
    if report.status != JobStatus.SUCCEEDED:
        return jobs.build(report.pk)
    return report
