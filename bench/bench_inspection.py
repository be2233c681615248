"""A portfolio inspection of 1,000,000 tokens against 10,000,000 stored flags, beside the bare SQL.

Run on demand from the repository root; it is not part of the test suite:

    .venv/bin/python bench/bench_inspection.py [--flags 10000000] [--probes 1000000] [--workers 2]

It needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust authentication) and RabbitMQ at
127.0.0.1:5672. It creates the database ``riskshare_bench``, migrates it, and stores ``--flags``
flags of other members straight into the flag table with COPY (random platform tokens; a tenth of
the probes are among them), then generates a portfolio file of ``--probes`` member tokens. The
flags are stored under platform tokens computed with the run's own pepper, so probes and flags
match as they do in production. Two measurements, each on a warm table:

- ``bare SQL``: the probes' platform tokens COPYed into a temporary table and joined with the
  flags, grouped by probe and category, into a result table: the least the database must do.
- ``inspection``: POST /api/v1/inspections (in-process test client, as an analyst), then
  ``--workers`` Celery worker processes survey the file, key every token, match the parts in
  parallel and close the job; timed until the results are downloadable, and the download itself.

The summary prints the inspection's time as a multiple of the bare SQL's (target: within twice).
The database is dropped at the end.
"""

import argparse
import csv
import hashlib
import hmac
import os
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path

# Run as a script from the repository root: bench/ is on the path, the root is not.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.serving import BROKER_URL, REPO, fresh_platform

QUEUE = "riskshare-bench"
PEPPER = bytes(range(100, 132))
CATEGORIES = ("overdue_30", "overdue_60", "overdue_90", "default", "fund_misuse")


def member_token(n: int) -> bytes:
    return hashlib.sha256(f"bench subject {n}".encode()).digest()


def platform_token(member: bytes) -> bytes:
    return hmac.digest(PEPPER, member, "sha256")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flags", type=int, default=10_000_000)
    parser.add_argument("--probes", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with fresh_platform(
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

    from accounts import services as accounts
    from accounts.choices import InstitutionKind, Role
    from sharing.flags import services
    from sharing.models import Inspection, InspectionHit
    from tests.factories import flag_item, uscc_code

    call_command("migrate", verbosity=0)
    member = accounts.create_institution(code=uscc_code(1), name_zh="甲", name_en="Member", kind=InstitutionKind.MEMBER)
    others = [
        accounts.create_institution(
            code=uscc_code(n), name_zh=f"乙{n}", name_en=f"Other {n}", kind=InstitutionKind.MEMBER
        )
        for n in range(2, 6)
    ]
    analyst = accounts.create_user(
        institution=member, username="bench", email="bench@example.com", password=None, roles=[Role.ANALYST]
    )
    services.contribute(member, [flag_item(f"OWN-{category}", category=category) for category in CATEGORIES])

    # Other members' flags, straight into the table: a tenth of the probes are among them.
    started = time.perf_counter()
    hit_every = 10
    with connection.cursor() as cursor:
        with cursor.copy(
            "COPY sharing_flag (institution_id, reference, id_type, token, pepper_version, category, event_date,"
            " amount_band, status, disputed, notice_channel, withdrawal_reason, expires_on, created_at, updated_at)"
            " FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(
                [
                    "int8",
                    "varchar",
                    "varchar",
                    "bytea",
                    "int2",
                    "varchar",
                    "date",
                    "varchar",
                    "varchar",
                    "bool",
                    "varchar",
                    "varchar",
                    "date",
                    "timestamptz",
                    "timestamptz",
                ]
            )
            from datetime import date, datetime

            now = datetime.now(UTC)
            for n in range(args.flags):
                probe = n * hit_every if n * hit_every < args.probes else args.probes + n
                copy.write_row(
                    (
                        others[n % len(others)].pk,
                        f"R-{n}",
                        "cnid",
                        platform_token(member_token(probe)),
                        1,
                        CATEGORIES[n % len(CATEGORIES)],
                        date(2026, 1 + n % 9, 1),
                        "",
                        "active",
                        False,
                        "sms",
                        "",
                        date(2031, 1, 1),
                        now,
                        now,
                    )
                )
        cursor.execute("VACUUM ANALYZE sharing_flag")
    print(f"stored {args.flags:,} flags in {time.perf_counter() - started:.0f} s")

    source = work / "portfolio.csv"
    with source.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["correlation_id", "id_type", "token"])
        for n in range(args.probes):
            writer.writerow([f"L-{n}", "cnid", member_token(n).hex()])
    expected_hits = len(range(0, args.probes, hit_every))

    # The bare SQL: probes' platform tokens into a temporary table, one join, grouped into a result table.
    def bare() -> float:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("CREATE TEMP TABLE probes (row integer, correlation_id varchar(64), token bytea)")
            with cursor.copy("COPY probes FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int4", "varchar", "bytea"])
                for n in range(args.probes):
                    copy.write_row((n, f"L-{n}", platform_token(member_token(n))))
            cursor.execute("ANALYZE probes")
            cursor.execute(
                "CREATE TEMP TABLE bare_hits AS SELECT p.row, p.correlation_id, f.category,"
                " count(DISTINCT f.institution_id) AS institutions, max(f.event_date) AS latest,"
                " bool_or(f.disputed) AS disputed, bool_or(f.status = 'resolved') AS resolved"
                " FROM probes p JOIN sharing_flag f ON f.token = p.token"
                " WHERE f.status IN ('active', 'resolved') AND f.institution_id <> %s"
                " GROUP BY p.row, p.correlation_id, f.category",
                [member.pk],
            )
            cursor.execute("SELECT count(DISTINCT row) FROM bare_hits")
            assert cursor.fetchone()[0] == expected_hits
            cursor.execute("DROP TABLE probes, bare_hits")
        return time.perf_counter() - started

    bare()  # warms the flag table and its token index, for both measurements alike
    bare_seconds = bare()
    print(f"bare SQL     {bare_seconds:8.1f} s  (COPY of the probes, join, grouped into a table)")

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
    assert (
        inspection.hits_count == expected_hits == InspectionHit.objects.filter(inspection=inspection).count() == lines
    )
    print(
        f"inspection   {seconds:8.1f} s  (upload to succeeded {matched:.1f} s, then the download;"
        f" {inspection.parts} parts on {args.workers} workers; {inspection.hits_count:,} subjects hit)"
    )
    print()
    print(f"inspection: {seconds / bare_seconds:.2f} x the bare SQL's time (target: within 2 x)")


if __name__ == "__main__":
    main()
