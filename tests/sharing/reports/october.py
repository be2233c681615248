"""A known October for the reports' tests: members in three sectors, and what they did."""

import secrets
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from accounts.choices import ActorType, AuditAction, Sector
from accounts.models import AuditEvent
from sharing.models import Flag, FlagToken, Inspection, Upload
from sharing.reports import gathering as reporting
from tests.factories import InstitutionFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
OCTOBER = reporting.Period(date(2026, 10, 1), date(2026, 10, 31))


def at(day: int, month: int = 10, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SHANGHAI)


def add_flags(institution, category, count, created, *, days_before=10, **fields):
    """``count`` flags filed at ``created``, their events ``days_before`` days earlier."""
    prefix = f"{category}-{created:%Y%m%d%H}-{secrets.token_hex(3)}"
    flags = Flag.objects.bulk_create(
        Flag(
            institution=institution,
            reference=f"{prefix}-{n}",
            category=category,
            event_date=created.date() - timedelta(days=days_before),
            **{"expires_on": date(2031, 1, 1), **fields},
        )
        for n in range(count)
    )
    FlagToken.objects.bulk_create(
        FlagToken(flag=flag, id_type="cnid", token=secrets.token_bytes(32), pepper_version=1) for flag in flags
    )
    Flag.objects.filter(reference__startswith=prefix).update(created_at=created)


def add_query(institution, purpose, subjects, hits, when):
    AuditEvent.objects.create(
        occurred_at=when,
        action=AuditAction.QUERY,
        institution=institution,
        actor_type=ActorType.API_KEY,
        purpose=purpose,
        subjects_count=subjects,
        hits_count=hits,
    )


def known_october(cast):
    """Alpha and beta (banks), gamma (consumer finance), delta (micro-lender): a known month."""
    a, b = cast.alpha.institution, cast.beta.institution
    c = InstitutionFactory.create(sector=Sector.CONSUMER_FINANCE, name_en="Gamma")
    d = InstitutionFactory.create(sector=Sector.MICROLENDER, name_en="Delta")
    add_flags(a, "overdue_90", 40, at(3))
    add_flags(a, "fraud_confirmed", 12, at(4))
    add_flags(b, "overdue_90", 25, at(5))
    add_flags(b, "fraud_confirmed", 3, at(6))
    add_flags(c, "overdue_90", 18, at(7))
    add_flags(c, "overdue_90", 12, at(8), status="resolved", end_date=date(2026, 10, 20))
    add_flags(d, "overdue_90", 15, at(9))
    add_flags(d, "identity_theft", 20, at(10), days_before=200)
    # Not October's: filed in September (four of them expired in October), and on 1 November.
    add_flags(a, "overdue_90", 4, at(20, 9), status="expired", expires_on=date(2026, 10, 2))
    add_flags(a, "overdue_90", 5, at(21, 9))
    add_flags(b, "overdue_90", 7, at(1, 11, hour=0))
    add_query(a, "loan_application", 30, 5, at(11))
    add_query(a, "loan_application", 20, 3, at(12))
    add_query(b, "post_loan_review", 5, 0, at(13))
    add_query(d, "fraud_investigation", 40, 12, at(14))
    add_query(d, "fraud_investigation", 99, 99, at(1, 11, hour=0))  # November's
    job = {"file_name": "f.csv", "file_format": "csv", "size_bytes": 1, "status": "succeeded"}
    inspection = {**job, "purpose": "post_loan_review", "portfolio": "book"}
    Inspection.objects.create(
        institution=a, **inspection, rows_done=1000, rejected_count=10, hits_count=37, finished_at=at(15)
    )
    Inspection.objects.create(
        institution=c, **inspection, rows_done=500, rejected_count=0, hits_count=9, finished_at=at(16)
    )
    Upload.objects.create(institution=a, **job, rows_done=2000, rejected_count=30, finished_at=at(17))
    Upload.objects.create(institution=b, **job, rows_done=100, rejected_count=2, finished_at=at(18))
    return {"a": a, "b": b, "c": c, "d": d}
