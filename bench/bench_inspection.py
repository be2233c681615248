"""A portfolio inspection of 1,000,000 subjects against 10,000,000 flags, 10,000,000 loans and the query
records of 5,000,000 tokens, beside the bare SQL computing the same answer.

Run on demand from the repository root; it is not part of the test suite:

    .venv/bin/python bench/bench_inspection.py [--flags 10000000] [--loans 10000000]
        [--record-tokens 5000000] [--probes 1000000] [--workers 2] [--keep]

It needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust authentication) and RabbitMQ at
127.0.0.1:5672, or those ``BENCH_POSTGRES_URL`` and ``BENCH_BROKER_URL`` name. It creates the
database ``riskshare_bench`` and migrates it; the inspecting member contributes a flag of each
category and a loan through the platform's services (both reciprocity rules), and ``OTHERS`` other
members are created. The portfolio has ``--probes`` subjects: each has a resident ID, three in ten
a mobile number too, and one in ten a passport as well (``identifiers``). Their platform
tokens, computed here with the run's own pepper as the platform computes them, are COPYed into a
scratch table, and the data is generated from it by the database itself (``seed``), straight into
the platform's tables, with their secondary indexes and unique constraints dropped during the load
and built again after it (as a bulk load does), so that ten million rows of each take minutes:

- flags (``--flags``): one subject in eleven flagged by another member, filed under its resident ID
  or, for half of those that have one, its mobile alone, a third of these under both; one in 44
  flagged by a second member; one in 101 by the inspecting member itself (its own: not a hit); the
  rest about other people (random tokens, one in ten with a second);
- loans (``--loans``): the inspecting member's own loan to every second subject, other members'
  loans to one subject in three, a second lender for one in nine and a third for one in 27 (some
  filed under the mobile alone, some under both), opened over the last three years, a quarter of
  the older ones closed; the rest to other people;
- query records (``--record-tokens`` tokens): other members' lending queries of two subjects in
  five in the last 120 days (one to three members each, on every token of the subject), the
  inspecting member's own of one in ten; the rest on other people's tokens over two years.

Two measurements, each on warm tables:

- ``bare SQL``: the probes' platform tokens COPYed into a temporary table; the join with the flag
  tokens and flags, grouped by probe and category, into a result table; the multi-lender figures
  (``sharing.matching.lending.figures_sql``) over the same temporary table into another: the least
  the database must do for the same answer. Run twice; the second run is the figure.
- ``inspection``: POST /api/v1/inspections (in-process test client, as an analyst), then
  ``--workers`` Celery worker processes survey the file, key every token, match the parts in
  parallel (hits and figures) and close the job; timed until the results are downloadable, and
  the download itself.

The two answers must agree (hits, subjects hit, subjects with figures and every figure's sum).
The summary prints the inspection's time as a multiple of the bare SQL's (target: within twice).
The database is dropped at the end, unless ``--keep``.
"""

import argparse
import csv
import hashlib
import hmac
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

# Run as a script from the repository root: bench/ is on the path, the root is not.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.serving import BROKER_URL, REPO, fresh_platform

QUEUE = "riskshare-bench"
PEPPER = bytes(range(100, 132))
CATEGORIES = ("overdue_30", "overdue_60", "overdue_90", "default", "fund_misuse")
BANDS = ("lt_10k", "10k_50k", "50k_200k", "200k_1m", "gte_1m")
KINDS = ("cnid", "mobile", "passport")  # a subject's identifier types, in the file's order
OTHERS = 8  # other members, whose flags, loans and query records the portfolio meets
TABLES = ("sharing_flag", "sharing_flagtoken", "sharing_loan", "sharing_loantoken", "sharing_queryrecord")
FIGURE_SUMS = (
    "count(*), sum(institutions_queried_7d), sum(institutions_queried_30d), sum(institutions_queried_90d),"
    " sum(institutions_with_open_loans), sum(loans_opened_90d), sum(loans_opened_180d),"
    " count(*) FILTER (WHERE open_amount_band <> ''), sum(own_queries_90d), sum(own_open_loans),"
    " sum(own_loans_opened_180d)"
)


def member_token(kind: int, n: int) -> bytes:
    """Subject ``n``'s member token of identifier type ``KINDS[kind]``."""
    return hashlib.sha256(f"bench subject {KINDS[kind]} {n}".encode()).digest()


def platform_token(member: bytes) -> bytes:
    return hmac.digest(PEPPER, member, "sha256")


def identifiers(n: int) -> range:
    """Subject ``n``'s identifier types (indexes of ``KINDS``): a resident ID; three in ten a mobile too, one
    in ten a passport as well. The SQL of ``seed`` says the same with ``n % 10``."""
    return range(3 if n % 10 == 2 else 2 if n % 10 < 3 else 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flags", type=int, default=10_000_000)
    parser.add_argument("--loans", type=int, default=10_000_000)
    parser.add_argument("--record-tokens", type=int, default=5_000_000)
    parser.add_argument("--probes", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="leave the database riskshare_bench, to look into")
    args = parser.parse_args()
    with fresh_platform(
        keep=args.keep,
        CELERY_BROKER_URL=BROKER_URL,
        CELERY_TASK_DEFAULT_QUEUE=QUEUE,
        PLATFORM_PEPPER=f"1 {PEPPER.hex()}",
        INSPECTION_PART_ROWS=str(max(args.probes // (args.workers * 4), 1)),
    ) as work:
        run(args, work)


def run(args: argparse.Namespace, work: Path) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from accounts import services as accounts
    from accounts.choices import InstitutionKind, Role
    from sharing.flags import services
    from sharing.loans import services as loans
    from sharing.matching import lending
    from sharing.models import Inspection, InspectionHit, InspectionLending
    from tests.factories import flag_item, uscc_code

    call_command("migrate", verbosity=0)
    member = accounts.create_institution(code=uscc_code(1), name_zh="甲", name_en="Member", kind=InstitutionKind.MEMBER)
    others = [
        accounts.create_institution(
            code=uscc_code(n), name_zh=f"乙{n}", name_en=f"Other {n}", kind=InstitutionKind.MEMBER
        )
        for n in range(2, 2 + OTHERS)
    ]
    analyst = accounts.create_user(
        institution=member, username="bench", email="bench@example.com", password=None, roles=[Role.ANALYST]
    )
    services.contribute(member, [flag_item(f"OWN-{category}", category=category) for category in CATEGORIES])
    today = timezone.localdate()
    own_loan = {
        "reference": "OWN-LOAN",
        "id_type": "cnid",
        "token": hashlib.sha256(b"bench own loan").hexdigest(),
        "product": "cash_loan",
        "opened_on": today.isoformat(),
        "amount_band": "10k_50k",
        "consent_reference": "BENCH-CONSENT",
    }
    loans.contribute(member, [own_loan])

    # The portfolio file (member tokens) and the scratch table of its platform tokens, in one pass.
    started = time.perf_counter()
    source = work / "portfolio.csv"
    url = os.environ["DATABASE_URL"]  # set by fresh_platform
    with psycopg.connect(url, autocommit=True) as scratch, source.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["correlation_id", "id_type", "token", "id_type_2", "token_2", "id_type_3", "token_3"])
        scratch.execute("CREATE UNLOGGED TABLE bench_subject (n integer, kind smallint, token bytea)")
        with scratch.cursor().copy("COPY bench_subject FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "int2", "bytea"])
            for n in range(args.probes):
                row = [f"L-{n}"]
                for kind in identifiers(n):
                    member_side = member_token(kind, n)
                    row += [KINDS[kind], member_side.hex()]
                    copy.write_row((n, kind, platform_token(member_side)))
                writer.writerow(row + [""] * (7 - len(row)))
        scratch.execute("ANALYZE bench_subject")
        seed(url, args, member.pk, [other.pk for other in others], today)
        scratch.execute("DROP TABLE bench_subject")
    print(f"seeded in {time.perf_counter() - started:.0f} s: {counts(url)}")

    # The bare SQL: the probes into a temporary table, the hits and the figures into result tables.
    def bare() -> tuple[float, tuple[Any, ...], str]:
        started = time.perf_counter()
        steps = []
        with connection.cursor() as cursor:
            cursor.execute("CREATE TEMP TABLE probes (row integer, correlation_id varchar(64), token bytea)")
            with cursor.copy("COPY probes FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int4", "varchar", "bytea"])
                for n in range(args.probes):
                    for kind in identifiers(n):
                        copy.write_row((n, f"L-{n}", platform_token(member_token(kind, n))))
            cursor.execute("ANALYZE probes")
            steps.append(time.perf_counter())
            cursor.execute(
                "CREATE TEMP TABLE bare_hits AS SELECT p.row, p.correlation_id, f.category,"
                " count(DISTINCT f.institution_id) AS institutions, max(f.event_date) AS latest,"
                " bool_or(f.disputed) AS disputed, bool_or(f.status = 'resolved') AS resolved"
                " FROM probes p JOIN sharing_flagtoken t ON t.token = p.token JOIN sharing_flag f ON f.id = t.flag_id"
                " WHERE f.status IN ('active', 'resolved') AND f.institution_id <> %s"
                " GROUP BY p.row, p.correlation_id, f.category",
                [member.pk],
            )
            steps.append(time.perf_counter())
            cursor.execute(
                f"CREATE TEMP TABLE bare_figures AS {lending.figures_sql('probes')}",
                lending.params(member.pk, timezone.localdate()),
            )
            steps.append(time.perf_counter())
            cursor.execute(
                f"SELECT (SELECT count(*) FROM bare_hits), (SELECT count(DISTINCT row) FROM bare_hits),"  # noqa: S608
                f" {FIGURE_SUMS} FROM bare_figures"
            )
            answer = cursor.fetchone()
            cursor.execute("DROP TABLE probes, bare_hits, bare_figures")
        assert answer is not None
        copied, hit, figured = (step - before for step, before in zip(steps, [started, *steps], strict=False))
        return steps[-1] - started, tuple(answer), f"COPY {copied:.1f} s, hits {hit:.1f} s, figures {figured:.1f} s"

    bare()  # warms the tables and their indexes, for both measurements alike
    print(f"load average {load()} before the bare SQL's measured run")
    bare_seconds, expected, split = bare()
    print(
        f"bare SQL     {bare_seconds:8.1f} s  ({split}: COPY of the probes, the hits and the figures, each into a"
        f" table; {expected[1]:,} subjects hit, {expected[2]:,} with figures)"
    )

    workers = [
        subprocess.Popen(  # noqa: S603  (our own interpreter and arguments)
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "-Q",
                QUEUE,
                "-n",
                f"bench{n}@%h",
                "--loglevel=WARNING",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=REPO,
            env={**os.environ},
        )
        for n in range(args.workers)
    ]
    connection.close()
    try:
        time.sleep(6)  # the workers are up and waiting before the clock starts
        print(f"load average {load()} before the inspection")
        client = Client(HTTP_HOST="localhost")
        client.force_login(analyst)
        started = time.perf_counter()
        with source.open("rb") as raw:
            response = client.post(
                "/api/v1/inspections", {"file": raw, "portfolio": "bench", "purpose": "post_loan_review"}
            )
        assert response.status_code == 202, response.content
        inspection_id = response.json()["id"]
        while not Inspection.objects.get(pk=inspection_id).is_finished:
            time.sleep(0.1)
        matched = time.perf_counter() - started
        download = client.get(f"/api/v1/inspections/{inspection_id}/results", HTTP_ACCEPT="text/csv")
        lines = sum(chunk.count(b"\n") for chunk in getattr(download, "streaming_content")) - 1  # noqa: B009
        seconds = time.perf_counter() - started
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
    inspection = Inspection.objects.get(pk=inspection_id)
    assert inspection.status == "succeeded", inspection.error
    hits = InspectionHit.objects.filter(inspection=inspection).count()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {FIGURE_SUMS} FROM {InspectionLending._meta.db_table} WHERE inspection_id = %s",  # noqa: S608
            [inspection.pk],
        )
        figures = cursor.fetchone()
    assert figures is not None
    found = (hits, inspection.hits_count, *figures)
    assert found == expected, f"the inspection found {found}, the bare SQL {expected}"
    print(
        f"inspection   {seconds:8.1f} s  (upload to succeeded {matched:.1f} s, then the download of {lines:,} lines;"
        f" {inspection.parts} parts on {args.workers} workers; {inspection.hits_count:,} subjects hit,"
        f" {figures[0]:,} with figures)"
    )
    print()
    print(f"inspection: {seconds / bare_seconds:.2f} x the bare SQL's time (target: within 2 x)")


def load() -> str:
    """The machine's load averages over 1, 5 and 15 minutes: other work disturbs the figures."""
    return ", ".join(f"{average:.2f}" for average in os.getloadavg())


def seed(url: str, args: argparse.Namespace, member: int, others: list[int], today: Any) -> None:
    """Generate the flags, loans and query records from ``bench_subject``, in the database, in two
    connections at once (flags in one, loans then records in the other), the tables' secondary
    indexes and unique constraints dropped during the load and built again after it."""
    probes = args.probes
    # Flags: ids base+1 ... in blocks: a subject in 11 (first flags), in 44 (second), in 101 (own), the rest.
    first, second, own = math.ceil(probes / 11), math.ceil(probes / 44), math.ceil(probes / 101)
    if args.flags < first + second + own:
        raise SystemExit(f"--flags must be at least {first + second + own:,} for {probes:,} probes")
    flag_subject = (
        f"CASE WHEN i < {first} THEN 11 * i WHEN i < {first + second} THEN 44 * (i - {first})"
        f" WHEN i < {first + second + own} THEN 101 * (i - {first + second}) END"
    )
    flag_institution = (
        f"CASE WHEN i < {first} THEN o[1 + i %% {OTHERS}] WHEN i < {first + second}"
        f" THEN o[1 + (4 * (i - {first}) + 1) %% {OTHERS}] WHEN i < {first + second + own} THEN {member}"
        f" ELSE o[1 + i %% {OTHERS}] END"
    )
    # Loans: the member's own to a subject in 2, others' to one in 3, 9 and 27 (first, second, third lender).
    blocks = [(2, None), (3, 0), (9, 1), (27, 2)]  # (every how many subjects, which other lender; None: own)
    bounds: list[tuple[int, int, int | None]] = []  # (start, every, lender)
    start = 0
    for every, lender in blocks:
        bounds.append((start, every, lender))
        start += math.ceil(probes / every)
    if args.loans < start:
        raise SystemExit(f"--loans must be at least {start:,} for {probes:,} probes")
    loan_subject = "CASE " + " ".join(
        f"WHEN i < {s + math.ceil(probes / e)} THEN {e} * (i - {s})" for s, e, _ in bounds
    )
    loan_subject += " END"
    loan_institution = "CASE " + " ".join(
        f"WHEN i < {s + math.ceil(probes / e)} THEN "
        + (str(member) if lender is None else f"o[1 + ({e} * (i - {s}) + {lender}) %% {OTHERS}]")
        for s, e, lender in bounds
    )
    loan_institution += f" ELSE o[1 + i %% {OTHERS}] END"
    now = datetime.now(UTC)
    values = {"o": others, "today": today, "now": now}

    def flags(cursor: psycopg.Cursor[Any]) -> None:
        base = next_id(cursor, "sharing_flag")
        cursor.execute(
            "INSERT INTO sharing_flag (id, institution_id, reference, category, event_date, amount_band, status,"  # noqa: S608
            " disputed, notice_channel, withdrawal_reason, expires_on, created_at, updated_at)"
            f" SELECT {base} + i, {flag_institution}, 'R-' || i, (%(categories)s::text[])[1 + i %% 5],"
            " %(today)s::date - (20 + i %% 700), (%(bands)s::text[])[1 + i %% 5],"
            " CASE WHEN i %% 10 = 9 THEN 'resolved' ELSE 'active' END, i %% 20 = 7, 'sms', '',"
            " %(today)s::date - (20 + i %% 700) + 1826, %(now)s, %(now)s"
            f" FROM generate_series(0, {args.flags - 1}) i, (SELECT %(o)s::bigint[] AS o) o",
            values | {"categories": list(CATEGORIES), "bands": list(BANDS)},
        )
        # Each flag's first token: a first flag of a subject with a mobile is filed under it alone one time in two.
        tokens(
            cursor,
            "sharing_flagtoken",
            "flag_id",
            base,
            f"SELECT i, {flag_subject} AS s, CASE WHEN i < {first} AND (11 * i) %% 10 < 3 AND i %% 2 = 1 THEN 1"  # noqa: S608
            f" ELSE 0 END AS kind FROM generate_series(0, {args.flags - 1}) i",
            "flag",
        )
        # A second token: a third of the first flags of subjects with a mobile carry both; a tenth of the rest.
        tokens(
            cursor,
            "sharing_flagtoken",
            "flag_id",
            base,
            f"SELECT i, {flag_subject} AS s, CASE WHEN i < {first} THEN 1 - i %% 2 ELSE 1 END AS kind"  # noqa: S608
            f" FROM generate_series(0, {args.flags - 1}) i WHERE CASE WHEN i < {first}"
            f" THEN (11 * i) %% 10 < 3 AND i %% 3 = 0 ELSE i >= {first + second + own} AND i %% 10 = 0 END",
            "flag 2",
        )

    def loans_and_records(cursor: psycopg.Cursor[Any]) -> None:
        base = next_id(cursor, "sharing_loan")
        age = "(20 + (i * 37) %% 1000)"  # days since it opened: over the last three years or so
        closed = f"CASE WHEN i %% 4 = 3 AND {age} > 200 THEN %(today)s::date - {age} + 180 END"
        cursor.execute(
            "INSERT INTO sharing_loan (id, institution_id, reference, product, opened_on, closed_on, amount_band,"  # noqa: S608
            " consent_reference, expires_on, created_at, updated_at)"
            f" SELECT {base} + i, {loan_institution}, 'L-' || i, (%(products)s::text[])[1 + i %% 4],"
            f" %(today)s::date - {age}, {closed}, (%(bands)s::text[])[1 + i %% 5], 'BENCH-CONSENT',"
            f" ({closed}) + 1826, %(now)s, %(now)s"
            f" FROM generate_series(0, {args.loans - 1}) i, (SELECT %(o)s::bigint[] AS o) o",
            values | {"products": ["cash_loan", "instalment", "credit_card", "other"], "bands": list(BANDS)},
        )
        # A loan to a subject with a mobile is filed under the mobile alone one time in five, under both one in two.
        mobile = f"({loan_subject}) %% 10 < 3 AND i < {start}"
        tokens(
            cursor,
            "sharing_loantoken",
            "loan_id",
            base,
            f"SELECT i, {loan_subject} AS s, CASE WHEN {mobile} AND i %% 5 = 1 THEN 1 ELSE 0 END AS kind"  # noqa: S608
            f" FROM generate_series(0, {args.loans - 1}) i",
            "loan",
        )
        tokens(
            cursor,
            "sharing_loantoken",
            "loan_id",
            base,
            f"SELECT i, {loan_subject} AS s, 1 AS kind FROM generate_series(0, {args.loans - 1}) i"  # noqa: S608
            f" WHERE CASE WHEN i < {start} THEN {mobile} AND i %% 5 <> 1 AND i %% 2 = 0 ELSE i %% 10 = 0 END",
            "loan 2",
        )
        # Query records: other members' of two subjects in five (one to three each, every token of the
        # subject), the member's own of one in ten; then other people's tokens up to --record-tokens.
        cursor.execute(
            "INSERT INTO sharing_queryrecord (token, day, institution_id, purpose, pepper_version)"  # noqa: S608
            f" SELECT b.token, %(today)s::date - 1 - (b.n * 7 + j * 13) %% 120, o[1 + (b.n + j) %% {OTHERS}],"
            " (ARRAY['loan_application', 'credit_review'])[1 + j %% 2], 1"
            " FROM bench_subject b, generate_series(0, 2) j, (SELECT %(o)s::bigint[] AS o) o"
            " WHERE b.n %% 5 < 2 AND j <= b.n %% 3"
            " UNION ALL SELECT b.token, %(today)s::date - 1 - b.n %% 60, %(member)s, 'loan_application', 1"
            " FROM bench_subject b WHERE b.n %% 10 = 0",
            values | {"member": member},
        )
        cursor.execute("SELECT count(DISTINCT token) FROM sharing_queryrecord")
        recorded = cursor.fetchall()[0][0]
        cursor.execute(
            "INSERT INTO sharing_queryrecord (token, day, institution_id, purpose, pepper_version)"  # noqa: S608
            f" SELECT sha256(('query ' || t)::bytea), %(today)s::date - 1 - (t * 7 + j * 11) %% 700,"
            f" o[1 + (t + j) %% {OTHERS}], (ARRAY['loan_application', 'credit_review'])[1 + (t + j) %% 2], 1"
            f" FROM generate_series(0, {max(args.record_tokens - recorded, 0) - 1}) t, generate_series(0, 1) j,"
            " (SELECT %(o)s::bigint[] AS o) o WHERE j <= t %% 2",
            values,
        )

    started = time.perf_counter()
    dropped = in_parallel(url, [drop_indexes(table) for table in TABLES])
    in_parallel(url, [flags, loans_and_records])
    loaded = time.perf_counter()
    in_parallel(url, [rebuild(dropped[:2]), rebuild(dropped[2:])])
    indexed = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as settle:
        for table in TABLES:
            settle.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}")  # noqa: S608
            settle.execute(f"VACUUM ANALYZE {table}")
    print(
        f"generated in {loaded - started:.0f} s, indexed in {indexed - loaded:.0f} s,"
        f" vacuumed and analyzed in {time.perf_counter() - indexed:.0f} s"
    )


def next_id(cursor: psycopg.Cursor[Any], table: str) -> int:
    """The first id free in ``table``: the rows generated take ids from it on, explicitly."""
    cursor.execute(f"SELECT COALESCE(max(id), 0) + 1 FROM {table}")  # noqa: S608
    return int(cursor.fetchall()[0][0])


def tokens(cursor: psycopg.Cursor[Any], table: str, owner: str, base: int, plan: str, label: str) -> None:
    """Insert a token for each row of ``plan`` (i, s: the subject or NULL, kind): the subject's platform
    token of that kind, or for no subject a random one made of ``label`` and i."""
    cursor.execute(
        f"INSERT INTO {table} ({owner}, id_type, token, pepper_version)"  # noqa: S608
        f" SELECT {base} + p.i, (%(kinds)s::text[])[1 + p.kind],"
        f" COALESCE(b.token, sha256(('{label} ' || p.i)::bytea)), 1"
        f" FROM ({plan}) p LEFT JOIN bench_subject b ON b.n = p.s AND b.kind = p.kind",
        {"kinds": list(KINDS)},
    )


def drop_indexes(table: str) -> Callable[[psycopg.Cursor[Any]], list[str]]:
    """A step that drops ``table``'s indexes and unique constraints but its primary key, and gives the
    statements that build them again."""

    def step(cursor: psycopg.Cursor[Any]) -> list[str]:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass"
            " AND contype = 'u'",
            [table],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
            " WHERE x.indrelid = %s::regclass AND NOT x.indisprimary"
            " AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
            [table],
        )
        indexes = cursor.fetchall()
        for name, _ in constraints:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        return [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for name, definition in constraints] + [
            definition for _, definition in indexes
        ]

    return step


def rebuild(dropped: list[list[str]]) -> Callable[[psycopg.Cursor[Any]], None]:
    def step(cursor: psycopg.Cursor[Any]) -> None:
        cursor.execute("SET maintenance_work_mem = '1GB'")
        for statements in dropped:
            for statement in statements:
                cursor.execute(statement)

    return step


def in_parallel(url: str, steps: list[Callable[[psycopg.Cursor[Any]], Any]]) -> list[Any]:
    """Run each step on a connection of its own, at once; their results, in order. A failure fails the run."""
    results: list[Any] = [None] * len(steps)
    errors: list[BaseException] = []

    def work(number: int, step: Callable[[psycopg.Cursor[Any]], Any]) -> None:
        try:
            with psycopg.connect(url, autocommit=True) as connection, connection.cursor() as cursor:
                results[number] = step(cursor)
        except BaseException as error:  # re-raised in the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(number, step)) for number, step in enumerate(steps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def counts(url: str) -> str:
    with psycopg.connect(url) as connection:
        found = {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]  # noqa: S608
            for table in TABLES
        }
        records = connection.execute("SELECT count(DISTINCT token) FROM sharing_queryrecord").fetchall()[0][0]
    return (
        f"{found['sharing_flag']:,} flags ({found['sharing_flagtoken']:,} tokens), {found['sharing_loan']:,} loans"
        f" ({found['sharing_loantoken']:,} tokens), {found['sharing_queryrecord']:,} query records"
        f" ({records:,} tokens)"
    )


if __name__ == "__main__":
    main()
