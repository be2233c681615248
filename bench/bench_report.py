"""Building a monthly report over 10,000,000 flags, 1,000,000 loans and a million query events and records,
beside the raw SQL.

Run on demand from the repository root; it is not part of the test suite:

    .venv/bin/python bench/bench_report.py [--flags 10000000] [--loans 1000000] [--queries 1000000]
        [--members 50] [--rounds 3]

It needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust authentication), or the server
``BENCH_POSTGRES_URL`` names. It creates the database ``riskshare_bench``, migrates it, registers
``--members`` members in three sectors and generates, inside PostgreSQL (``generate_series``):

- ``--flags`` flags filed over twelve months (a tenth resolved, a tenth expired, a tenth withdrawn;
  events up to 400 days before filing), each with one identifier (a ``sharing_flagtoken`` row);
- ``--loans`` loans, each with one identifier, of ``--loans`` / 2 borrowers (a loan's borrower and
  member drawn by two hashes: two loans a borrower on average, some with ten or more lenders),
  opened over the three years up to the reported month (June 2026), every second one closed 1 to
  700 days later: what the report's multi-lending tables read;
- ``--queries`` query events of the audit trail and as many query records (one token each, a
  purpose in turn, two in five for lending), all in the reported month;
- a finished inspection and upload per member.

Then, alternating, ``--rounds`` times each, on warm tables:

- ``raw SQL``: the six aggregate statements a report needs, written by hand (one pass over the
  flags with every count as a FILTER, one over the month's query events, one each over
  inspections and uploads, one over the month's lending query records, and one over the loans and
  their tokens for the borrowers with three or more lenders at the month's end and the loans opened
  in it, by sector), executed and fetched: the least the database must do. Every loan has one
  identifier, so the raw SQL need not choose which names its borrower, as the report's does.
- ``report``: ``sharing.tasks.build_report`` run in process for a new report of the month:
  the same counts through the ORM and the report's own loans statement, the tables, suppression,
  CSV and XLSX files of the whole report and of every member's slice, their signatures, and
  storing it all.

The raw SQL's multi-lending counts must equal the report's (``gather_loans``, once at the end).
The summary prints the best report time as a multiple of the best raw SQL time (target: within
twice). The database is dropped at the end.
"""

import argparse
import sys
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

# Run as a script from the repository root: bench/ is on the path, the root is not.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.serving import fresh_platform

if TYPE_CHECKING:
    from accounts.models import Institution

MONTH = ("2026-06-01", "2026-06-30")
BOUNDS = {"start": "2026-06-01 00:00+08", "end": "2026-07-01 00:00+08", "first": MONTH[0], "last": MONTH[1]}

RAW = [
    # Flags: every count of the report in one pass, grouped by member and category.
    """
    SELECT institution_id, category,
      count(*) FILTER (WHERE created_at >= %(start)s AND created_at < %(end)s),
      count(*) FILTER (WHERE status = 'resolved' AND end_date BETWEEN %(first)s AND %(last)s),
      count(*) FILTER (WHERE status = 'expired' AND expires_on BETWEEN %(first)s AND %(last)s),
      count(*) FILTER (WHERE status = 'withdrawn' AND details_destroyed_at >= %(start)s
                       AND details_destroyed_at < %(end)s),
      count(*) FILTER (WHERE created_at >= %(start)s AND created_at < %(end)s AND d <= 30),
      count(*) FILTER (WHERE created_at >= %(start)s AND created_at < %(end)s AND d > 30 AND d <= 90),
      count(*) FILTER (WHERE created_at >= %(start)s AND created_at < %(end)s AND d > 90 AND d <= 180),
      count(*) FILTER (WHERE created_at >= %(start)s AND created_at < %(end)s AND d > 180 AND d <= 365),
      count(*) FILTER (WHERE created_at >= %(start)s AND created_at < %(end)s AND d > 365)
    FROM (SELECT *, (created_at AT TIME ZONE 'Asia/Shanghai')::date - event_date AS d FROM sharing_flag) f
    WHERE (created_at >= %(start)s AND created_at < %(end)s)
       OR end_date BETWEEN %(first)s AND %(last)s
       OR expires_on BETWEEN %(first)s AND %(last)s
       OR (details_destroyed_at >= %(start)s AND details_destroyed_at < %(end)s)
    GROUP BY institution_id, category
    """,
    """
    SELECT institution_id, purpose, count(*), sum(subjects_count), sum(hits_count) FROM accounts_auditevent
    WHERE action = 'match.query' AND occurred_at >= %(start)s AND occurred_at < %(end)s
    GROUP BY institution_id, purpose
    """,
    """
    SELECT institution_id, count(*), sum(rows_done - rejected_count), sum(hits_count) FROM sharing_inspection
    WHERE status = 'succeeded' AND finished_at >= %(start)s AND finished_at < %(end)s GROUP BY institution_id
    """,
    """
    SELECT institution_id, count(*), sum(rows_done), sum(rejected_count) FROM sharing_upload
    WHERE finished_at >= %(start)s AND finished_at < %(end)s GROUP BY institution_id
    """,
    # The month's query records of lending purposes, by member.
    """
    SELECT institution_id, count(*) FROM sharing_queryrecord
    WHERE day BETWEEN %(first)s AND %(last)s AND purpose IN ('loan_application', 'credit_review')
    GROUP BY institution_id
    """,
    # The loans: borrowers (by token) with three or more lenders with a loan open at the month's end, by
    # band and sector (and all), and the loans opened in the month with their borrowers, by sector (and all).
    """
    WITH borrowers AS (
      SELECT t.token, count(DISTINCT l.institution_id) AS lenders, array_agg(DISTINCT i.sector) AS sectors
      FROM sharing_loan l JOIN sharing_loantoken t ON t.loan_id = l.id
      JOIN accounts_institution i ON i.id = l.institution_id AND i.kind = 'member'
      WHERE l.opened_on <= %(last)s AND (l.closed_on IS NULL OR l.closed_on > %(last)s)
      GROUP BY t.token HAVING count(DISTINCT l.institution_id) >= 3
    ), opened AS (
      SELECT t.token, i.sector FROM sharing_loan l JOIN sharing_loantoken t ON t.loan_id = l.id
      JOIN accounts_institution i ON i.id = l.institution_id AND i.kind = 'member'
      WHERE l.opened_on BETWEEN %(first)s AND %(last)s
    )
    SELECT 'multi', CASE WHEN lenders >= 10 THEN '10+' WHEN lenders >= 5 THEN '5-9' ELSE '3-4' END, sector, count(*)
    FROM borrowers, unnest(sectors || ARRAY['all']::varchar[]) AS sector GROUP BY 2, 3
    UNION ALL
    SELECT 'opened', 'loans', sector, count(*) FROM opened GROUP BY sector
    UNION ALL
    SELECT 'opened', 'borrowers', coalesce(sector, 'all'), count(DISTINCT token) FROM opened GROUP BY ROLLUP (sector)
    """,
]

# The flags; their identifiers are SEED_FLAG_TOKENS, run after.
SEED_FLAGS = """
INSERT INTO sharing_flag (institution_id, reference, category, event_date, end_date,
  amount_band, status, disputed, notice_channel, withdrawal_reason, expires_on, details_destroyed_at,
  created_at, updated_at)
SELECT (%(members)s::bigint[])[1 + n %% cardinality(%(members)s::bigint[])], 'R-' || n,
  (ARRAY['overdue_30', 'overdue_60', 'overdue_90', 'default', 'fraud_suspected', 'fraud_confirmed',
         'identity_theft', 'fund_misuse', 'overdue_90'])[1 + n %% 9],
  (created AT TIME ZONE 'Asia/Shanghai')::date - (n %% 400),
  CASE WHEN n %% 10 = 1 THEN (created AT TIME ZONE 'Asia/Shanghai')::date + (n %% 60) END,
  '', CASE n %% 10 WHEN 1 THEN 'resolved' WHEN 2 THEN 'expired' WHEN 3 THEN 'withdrawn' ELSE 'active' END,
  false, 'sms', '',
  CASE WHEN n %% 10 = 2 THEN (created AT TIME ZONE 'Asia/Shanghai')::date + (n %% 90) ELSE date '2031-01-01' END,
  CASE WHEN n %% 10 = 3 THEN created + interval '10 days' END,
  created, created
FROM (SELECT n, timestamptz '2025-10-01 00:00+08' + (n %% 365) * interval '1 day' + (n %% 86400) * interval '1 second'
      AS created FROM generate_series(1, %(count)s) AS n) AS s
"""
# One identifier per flag (its platform token made of its reference), for every flag SEED_FLAGS made.
SEED_FLAG_TOKENS = """
INSERT INTO sharing_flagtoken (flag_id, id_type, token, pepper_version)
SELECT id, 'cnid', sha256(convert_to(reference, 'UTF8')), 1 FROM sharing_flag WHERE reference IS NOT NULL
"""
# Loan n is borrower hash(n) mod (count / 2)'s, at a member drawn by another hash; opened over the three years
# up to the reported month's end, every second one closed 1 to 700 days later (so that about half are open).
SEED_LOANS = """
INSERT INTO sharing_loan (institution_id, reference, product, opened_on, closed_on, amount_band, consent_reference,
  expires_on, created_at, updated_at)
SELECT (%(members)s::bigint[])[1 + abs(hashint4(n * 7 + 1)) %% cardinality(%(members)s::bigint[])], 'L-' || n,
  (ARRAY['cash_loan', 'instalment', 'credit_card', 'other'])[1 + n %% 4], opened,
  CASE WHEN n %% 2 = 1 THEN opened + 1 + n %% 700 END,
  (ARRAY['lt_10k', '10k_50k', '50k_200k', '200k_1m', 'gte_1m'])[1 + n %% 5], 'C-' || n,
  CASE WHEN n %% 2 = 1 THEN opened + 1 + n %% 700 + interval '5 years' END, now(), now()
FROM (SELECT n, date '2026-06-30' - (n * 37 %% 1096) AS opened FROM generate_series(1, %(count)s) AS n) AS s
"""
SEED_LOAN_TOKENS = """
INSERT INTO sharing_loantoken (loan_id, id_type, token, pepper_version)
SELECT id, 'cnid', sha256(convert_to('B-' || abs(hashint4(substr(reference, 3)::int)) %% greatest(%(count)s / 2, 1),
  'UTF8')), 1
FROM sharing_loan
"""
SEED_RECORDS = """
INSERT INTO sharing_queryrecord (token, day, institution_id, purpose, pepper_version)
SELECT sha256(convert_to('Q-' || n, 'UTF8')), date '2026-06-01' + n %% 30,
  (%(members)s::bigint[])[1 + n %% cardinality(%(members)s::bigint[])],
  (ARRAY['loan_application', 'credit_review', 'post_loan_review', 'collection', 'fraud_investigation'])[1 + n %% 5], 1
FROM generate_series(1, %(count)s) AS n
"""
SEED_QUERIES = """
INSERT INTO accounts_auditevent (occurred_at, action, outcome, reason, institution_id, actor_type, actor_name,
  target_type, target_id, purpose, consent_reference, subjects_count, hits_count, request_id)
SELECT timestamptz '2026-06-01 00:00+08' + (n %% (30 * 86400)) * interval '1 second', 'match.query', 'success', '',
  (%(members)s::bigint[])[1 + n %% cardinality(%(members)s::bigint[])], 'api_key', '', '', '',
  (ARRAY['loan_application', 'credit_review', 'post_loan_review', 'collection', 'fraud_investigation'])[1 + n %% 5],
  '', 1 + n %% 100, n %% 7, ''
FROM generate_series(1, %(count)s) AS n
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flags", type=int, default=10_000_000)
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with fresh_platform():
        run(args)


def create_members(count: int) -> list["Institution"]:
    """``count`` members, their sectors in turn (for SEED_FLAGS and SEED_QUERIES); after django.setup()."""
    from accounts import services as accounts
    from accounts.choices import InstitutionKind, Sector
    from tests.factories import uscc_code

    sectors = list(Sector.values)
    return [
        accounts.create_institution(
            code=uscc_code(n),
            name_zh=f"会员{n}",
            name_en=f"Member {n}",
            kind=InstitutionKind.MEMBER,
            sector=sectors[n % len(sectors)],
        )
        for n in range(1, count + 1)
    ]


def run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from sharing.models import Inspection, Report, Upload
    from sharing.reports.gathering import Period, gather_loans
    from sharing.tasks import build_report

    call_command("migrate", verbosity=0)
    members = create_members(args.members)
    ids = [member.pk for member in members]
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(SEED_FLAGS, {"members": ids, "count": args.flags})
        cursor.execute(SEED_FLAG_TOKENS)
        cursor.execute(SEED_LOANS, {"members": ids, "count": args.loans})
        cursor.execute(SEED_LOAN_TOKENS, {"count": args.loans})
        cursor.execute(SEED_QUERIES, {"members": ids, "count": args.queries})
        cursor.execute(SEED_RECORDS, {"members": ids, "count": args.queries})
    job = {"file_name": "f.csv", "file_format": "csv", "size_bytes": 1, "status": "succeeded"}
    for n, member in enumerate(members):
        finished = f"2026-06-{1 + n % 28:02d} 12:00+08"
        Inspection.objects.create(
            institution=member, **job, purpose="post_loan_review", portfolio="book", rows_done=10_000 + n,
            rejected_count=n, hits_count=500 + n, finished_at=finished,
        )  # fmt: skip
        Upload.objects.create(institution=member, **job, rows_done=20_000 + n, rejected_count=n, finished_at=finished)
    with connection.cursor() as cursor:
        for table in ("sharing_flag", "sharing_flagtoken", "sharing_loan", "sharing_loantoken", "sharing_queryrecord"):
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("VACUUM ANALYZE accounts_auditevent")
    print(
        f"seeded {args.flags:,} flags, {args.loans:,} loans, {args.queries:,} query events and as many query"
        f" records for {args.members} members in {time.perf_counter() - started:.0f} s"
    )
    lending: list[tuple[str, str, str, int]] = []

    def raw() -> float:
        began = time.perf_counter()
        with connection.cursor() as cursor:
            for sql in RAW:
                cursor.execute(sql, BOUNDS)
                rows = cursor.fetchall()
        lending[:] = rows  # the last statement's: the loans
        return time.perf_counter() - began

    def report() -> float:
        made = Report.objects.create(starts_on=MONTH[0], ends_on=MONTH[1], trigger="requested", steps_total=4)
        began = time.perf_counter()
        build_report(made.pk)
        seconds = time.perf_counter() - began
        made.refresh_from_db()
        assert made.status == "succeeded", made.error
        return seconds

    raw()  # warm the caches once before anything is measured
    raw_times: list[float] = []
    report_times: list[float] = []
    for round_ in range(args.rounds):
        for name, measure, times in (("raw SQL", raw, raw_times), ("report", report, report_times))[
            :: 1 if round_ % 2 == 0 else -1
        ]:
            times.append(measure())
            print(f"  {name:8} {times[-1]:7.2f} s")
    best_raw, best_report = min(raw_times), min(report_times)
    multi, opened = gather_loans(Period(date.fromisoformat(MONTH[0]), date.fromisoformat(MONTH[1])))
    theirs = {("multi", band, sector): n for (_month, sector), bands in multi.items() for band, n in bands.items()}
    theirs |= {
        ("opened", measure, sector): n for (_month, sector), counts in opened.items() for measure, n in counts.items()
    }
    assert {(table, measure, sector): n for table, measure, sector, n in lending if n} == theirs, (lending, theirs)
    borrowers = sum(n for (table, _band, sector), n in theirs.items() if table == "multi" and sector == "all")
    print(f"\nborrowers with three or more lenders at the month's end: {borrowers:,} (raw SQL and report agree)")
    print()
    print(f"raw SQL  {best_raw:7.2f} s  (best of {args.rounds}: the six aggregate statements, fetched)")
    print(f"report   {best_report:7.2f} s  (best of {args.rounds}: build_report, files and signatures included)")
    print(f"report: {best_report / best_raw:.2f}x the raw SQL's time (target: within 2x)")


if __name__ == "__main__":
    main()
