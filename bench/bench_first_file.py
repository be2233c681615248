"""A new member's first file of flags, into a table of other members' flags, against the same member's next file.

Run on demand from the repository root; it is not part of the test suite:

    .venv/bin/python bench/bench_first_file.py [--flags 10000000] [--rows 1000000] [--second 0]
        [--give-up-after S]

It needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust authentication), or the server
``BENCH_POSTGRES_URL`` names; the worker's broker is the filesystem transport in the run's own work
folder. It creates a fresh database ``riskshare_bench_first``, migrates it, turns autovacuum off
for the flag and flag-token tables (so that nothing gathers statistics behind the run's back,
whatever the server's setting), and stores ``--flags`` flags of 20 other members with one INSERT
... SELECT over generate_series (the report benchmark's generator), then one identifier for each
(a ``sharing_flagtoken`` row, from another INSERT ... SELECT); the indexes of both tables that the
migrations make are dropped for the inserts and built again after them. Then ``VACUUM ANALYZE``:
the statistics are gathered once, before the new member has a single flag, and never again before
its first file. Two uploads of ``--rows`` rows each (the upload benchmark's generator: a distinct
reference and member token per row, ``--second`` rows in ten with a mobile token too, for the
shared-token check) go through the platform's real path, POST /api/v1/uploads as the new member's
contributor, then a Celery worker process (solo pool, ``UPLOAD_CHUNK_ROWS`` at its default), timed
from the POST until the job reads ``succeeded``:

- ``first file``: the new member's first file, with statistics that say it has no flags: the case
  of a member loading its back book;
- ``next file`` (the baseline): after ``ANALYZE`` of both tables, the same member's next file, as many new
  references: the steady state, a member that the statistics know, adding flags to the same table.

Each line prints rows per second and each chunk's time (a load that slows down chunk after chunk
shows there); the summary prints the first file's time as
a multiple of the next file's (target: within 1.2 times). With ``--give-up-after`` the first file
is abandoned after that many seconds (for code that loads it quadratically), its chunks so far are
printed and the baseline is not run. The database is dropped at the end.
"""

import argparse
import itertools
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

# Run as a script from the repository root: bench/ is on the path, the root is not.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.bench_report import SEED_FLAG_TOKENS, SEED_FLAGS, create_members
from bench.bench_upload import generate
from bench.serving import celery_worker, fresh_platform, machine_busy_share

if TYPE_CHECKING:
    from accounts.models import User

DATABASE = "riskshare_bench_first"
QUEUE = "riskshare-bench-first"
OTHER_MEMBERS = 20
# The flag and flag-token tables' secondary indexes as the migrations make them: dropped while the other
# members' flags and their tokens are inserted, built again after (a sorted build instead of ten million
# random insertions).
DROP_INDEXES = (
    "ALTER TABLE sharing_flag DROP CONSTRAINT one_flag_per_reference;"
    " ALTER TABLE sharing_flagtoken DROP CONSTRAINT one_flag_token_per_type; DROP INDEX flagtoken_token"
)
BUILD_INDEXES = (
    "ALTER TABLE sharing_flag ADD CONSTRAINT one_flag_per_reference UNIQUE (institution_id, reference);"
    " ALTER TABLE sharing_flagtoken ADD CONSTRAINT one_flag_token_per_type UNIQUE (flag_id, id_type);"
    " CREATE INDEX flagtoken_token ON sharing_flagtoken (token)"
)
TABLES = ("sharing_flag", "sharing_flagtoken")


class GaveUp(Exception):
    pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flags", type=int, default=10_000_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--second", type=int, default=0, choices=range(11), metavar="TENTHS", help="rows in ten with a mobile too"
    )
    parser.add_argument("--give-up-after", type=float, default=None, metavar="SECONDS")
    args = parser.parse_args()
    with fresh_platform(
        DATABASE, CELERY_BROKER_URL="filesystem://localhost//", CELERY_TASK_DEFAULT_QUEUE=QUEUE
    ) as work:
        run(args, work)


def run(args: argparse.Namespace, work: Path) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from accounts import services as accounts
    from accounts.choices import InstitutionKind, Role
    from tests.factories import uscc_code

    call_command("migrate", verbosity=0)
    others = [member.pk for member in create_members(OTHER_MEMBERS)]
    newcomer = accounts.create_institution(
        code=uscc_code(OTHER_MEMBERS + 1), name_zh="新会员", name_en="Newcomer", kind=InstitutionKind.MEMBER
    )
    person = accounts.create_user(
        institution=newcomer, username="bench", email="bench@example.com", password=None, roles=[Role.CONTRIBUTOR]
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        cursor.execute("SET maintenance_work_mem = '1GB'")
        cursor.execute(DROP_INDEXES)
        cursor.execute(SEED_FLAGS, {"members": others, "count": args.flags})
        cursor.execute(SEED_FLAG_TOKENS)
        cursor.execute(BUILD_INDEXES)
        for table in TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"stored {args.flags:,} flags of {OTHER_MEMBERS} other members in {time.perf_counter() - started:.0f} s")
    first, following = work / "first.csv", work / "next.csv"
    generate(first, args.rows, second=args.second)
    generate(following, args.rows, first=args.rows, second=args.second)
    connection.close()

    def analyze() -> None:
        with connection.cursor() as cursor:
            for table in TABLES:
                cursor.execute(f"ANALYZE {table}")
        connection.close()

    with celery_worker(QUEUE):
        try:
            first_seconds = upload(person, first, args.rows, "first file", args.give_up_after)
        except GaveUp:
            return
        analyze()
        next_seconds = upload(person, following, args.rows, "next file", None)
    print()
    print(
        f"first file: {first_seconds / next_seconds:.2f} x the next file's time,"
        f" {(args.rows / first_seconds) / (args.rows / next_seconds):.0%} of its rate (target: within 1.2 x)"
    )


def upload(person: "User", source: Path, rows: int, name: str, give_up_after: float | None) -> float:
    """Upload ``source`` as ``person`` and wait for the worker; print the rate and the chunks' times."""
    from django.test import Client

    from sharing.models import Flag, Upload

    background = machine_busy_share(3)
    load = os.getloadavg()[0]
    client = Client(HTTP_HOST="localhost")
    client.force_login(person)
    started = time.perf_counter()
    with source.open("rb") as raw:
        response = client.post("/api/v1/uploads", {"file": raw})
    assert response.status_code == 202, response.content
    upload_id = response.json()["id"]
    # When the checkpoint moved: each chunk's commit.
    marks: list[tuple[float, int]] = [(started, 0)]
    while True:
        job = Upload.objects.get(pk=upload_id)
        now = time.perf_counter()
        if job.rows_done != marks[-1][1]:
            marks.append((now, job.rows_done))
        if job.is_finished:
            break
        if give_up_after is not None and now - started > give_up_after:
            print(f"{name:<11} gave up after {now - started:.0f} s: {job.rows_done:,} of {rows:,} rows done")
            print_chunks(marks, running=now)
            raise GaveUp
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    assert job.status == "succeeded", job.error
    assert job.created_count == rows == Flag.objects.filter(source_upload_id=upload_id).count()
    print(
        f"{name:<11} {seconds:7.1f} s  {rows / seconds:>8,.0f} rows/s"
        f"  (machine before: {background:.0%} busy, load {load:.2f})"
    )
    print_chunks(marks)
    return seconds


def print_chunks(marks: list[tuple[float, int]], running: float | None = None) -> None:
    """Each chunk's time, from the POST for the first (which also holds the survey of the file)."""
    times = " ".join(f"{later[0] - earlier[0]:.1f}" for earlier, later in itertools.pairwise(marks))
    still = f"; the next one still running after {running - marks[-1][0]:.0f} s" if running is not None else ""
    print(f"{'':11} chunks (s): {times}{still}")


if __name__ == "__main__":
    main()
