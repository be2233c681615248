"""Storing an upload file of flags: end to end through a worker, against a bare COPY and bulk_create.

Run on demand from the repository root; it is not part of the test suite:

    .venv/bin/python bench/bench_upload.py [--rows 1000000] [--second 0]

It needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust authentication) and RabbitMQ at
127.0.0.1:5672 (guest/guest), or those ``BENCH_POSTGRES_URL`` and ``BENCH_BROKER_URL`` name. It
creates a fresh database ``riskshare_bench``, migrates it, and generates a CSV file of ``--rows``
flags (a distinct reference and resident-ID member token each, notice given, a small JSON
``details``; ``--second`` rows in ten with a distinct mobile token too, in ``id_type_2`` and
``token_2``) into a temporary directory; nothing is committed. Three ways of storing the same rows
are timed, in this order, on emptied flag and flag-token tables each time:

- ``bulk_create``: the rows read with ``csv.DictReader`` and stored as ``Flag`` objects, each with
  its ``FlagToken`` rows (one or two), with Django's ``bulk_create`` (batches of 1,000 flags): what
  an ORM implementation would do, without even checking, keying or sealing anything (baseline 1);
- ``bare COPY``: the file streamed by psycopg into a plain table with the file's columns and
  types and no index: the fastest the database itself can take the rows in (baseline 2);
- ``upload``: the platform's real path: POST /api/v1/uploads (in-process test client, as the
  contributor), then a Celery worker process (solo pool) on RabbitMQ surveys the file, checks
  every row, keys every token, seals every details object, COPYs and merges each chunk (flags and
  their tokens) with its checkpoint, and runs the shared-token check on the rows with two
  identifiers (none is reported: every token is distinct; with ``--second 0`` the check has no row
  to look at); timed from the POST until the job reads ``succeeded``.

Each line prints rows per second; the summary prints the upload's rate as a multiple of the
bulk_create rate (target: 10 times or more) and as a fraction of the bare COPY's. The database
is dropped at the end.
"""

import argparse
import csv
import hashlib
import hmac
import os
import subprocess
import sys
import time
from pathlib import Path

# Run as a script from the repository root: bench/ is on the path, the root is not.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.serving import BROKER_URL, REPO, fresh_platform

QUEUE = "riskshare-bench"
COLUMNS = [
    "reference", "id_type", "token", "id_type_2", "token_2", "category", "event_date", "notice_date", "notice_channel",
    "details",
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--second", type=int, default=0, choices=range(11), metavar="TENTHS", help="rows in ten with a mobile too"
    )
    args = parser.parse_args()
    with fresh_platform(CELERY_BROKER_URL=BROKER_URL, CELERY_TASK_DEFAULT_QUEUE=QUEUE) as work:
        run(args.rows, args.second, work)


def generate(path: Path, rows: int, first: int = 0, second: int = 0) -> None:
    """A CSV file of ``rows`` flags, numbered from ``first``: references and member tokens follow the number;
    ``second`` rows in ten have a mobile number's token as their second identifier."""
    key = bytes(range(32))
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for n in range(first, first + rows):
            token = hmac.digest(key, f"rs1:cnid:{n:018d}".encode(), hashlib.sha256).hex()
            mobile = ["mobile", hmac.digest(key, f"rs1:mobile:{n:011d}".encode(), hashlib.sha256).hex()]
            writer.writerow(
                [
                    f"LOAN-{n:09d}",
                    "cnid",
                    token,
                    *(mobile if n % 10 < second else ["", ""]),
                    ("overdue_30", "overdue_60", "overdue_90", "default", "fund_misuse")[n % 5],
                    f"2026-{n % 9 + 1:02d}-{n % 28 + 1:02d}",
                    "2026-01-01",
                    "sms",
                    f'{{"amount": {1000 + n % 90000}, "product": "consumer loan"}}',
                ]
            )


def run(rows: int, second: int, work: Path) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db import connection
    from django.test import Client

    from accounts import services as accounts
    from accounts.choices import InstitutionKind, Role
    from sharing.models import Flag, FlagToken, Upload
    from tests.factories import uscc_code

    institution = accounts.create_institution(
        code=uscc_code(1), name_zh="基准机构", name_en="Bench Ltd.", kind=InstitutionKind.MEMBER
    )
    person = accounts.create_user(
        institution=institution, username="bench", email="bench@example.com", password=None, roles=[Role.CONTRIBUTOR]
    )
    source = work / "flags.csv"
    started = time.perf_counter()
    generate(source, rows, second=second)
    size = source.stat().st_size
    print(f"generated {rows:,} rows ({size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s")

    def empty() -> None:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE sharing_flag, sharing_flagtoken, sharing_uploaderror")
            cursor.execute("DROP TABLE IF EXISTS bench_bare")
            cursor.execute("VACUUM ANALYZE sharing_flag")
            cursor.execute("VACUUM ANALYZE sharing_flagtoken")

    def report(name: str, seconds: float) -> float:
        rate = rows / seconds
        print(f"{name:<12} {seconds:8.1f} s  {rate:>10,.0f} rows/s")
        return rate

    # Baseline 1: Django bulk_create of the same rows, each flag with its tokens (one or two FlagToken rows).
    empty()

    def bulk_create(flags: list[Flag], tokens: list[list[tuple[str, bytes]]]) -> None:
        Flag.objects.bulk_create(flags)
        FlagToken.objects.bulk_create(
            FlagToken(flag_id=flag.pk, id_type=id_type, token=token, pepper_version=1)
            for flag, given in zip(flags, tokens, strict=True)
            for id_type, token in given
        )

    started = time.perf_counter()
    with source.open(newline="", encoding="utf-8") as file:
        batch = []
        tokens: list[list[tuple[str, bytes]]] = []
        for item in csv.DictReader(file):
            given = [(item["id_type"], bytes.fromhex(item["token"]))]
            if item["id_type_2"]:
                given.append((item["id_type_2"], bytes.fromhex(item["token_2"])))
            tokens.append(given)
            batch.append(
                Flag(
                    institution=institution,
                    reference=item["reference"],
                    category=item["category"],
                    event_date=item["event_date"],
                    notice_date=item["notice_date"],
                    notice_channel=item["notice_channel"],
                    details=item["details"].encode(),
                    expires_on="2031-01-01",
                )
            )
            if len(batch) == 1000:
                bulk_create(batch, tokens)
                batch, tokens = [], []
        bulk_create(batch, tokens)
    bulk = report("bulk_create", time.perf_counter() - started)
    assert Flag.objects.count() == rows
    identifiers = FlagToken.objects.count()

    # Baseline 2: a bare COPY of the file into a plain table with its columns.
    empty()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_bare (reference text, id_type text, token text, id_type_2 text, token_2 text,"
            " category text, event_date date, notice_date date, notice_channel text, details text)"
        )
        started = time.perf_counter()
        with (
            cursor.copy("COPY bench_bare FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
            source.open("rb") as raw,
        ):
            while chunk := raw.read(1 << 20):
                copy.write(chunk)
    bare = report("bare COPY", time.perf_counter() - started)

    # The platform: upload, then a worker process stores the flags.
    empty()
    connection.close()
    env = {**os.environ}
    worker = subprocess.Popen(  # noqa: S603  (our own interpreter and arguments)
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", QUEUE, "--loglevel=WARNING"],
        cwd=REPO,
        env=env,
    )
    try:
        time.sleep(5)  # the worker is up and waiting before the clock starts
        client = Client(HTTP_HOST="localhost")
        client.force_login(person)
        started = time.perf_counter()
        with source.open("rb") as raw:
            response = client.post("/api/v1/uploads", {"file": raw})
        answered = time.perf_counter() - started
        assert response.status_code == 202, response.content
        upload_id = response.json()["id"]
        while not Upload.objects.get(pk=upload_id).is_finished:
            time.sleep(0.2)
        seconds = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    upload = Upload.objects.get(pk=upload_id)
    assert upload.status == "succeeded", upload.error
    assert upload.created_count == rows == Flag.objects.count(), (upload.created_count, Flag.objects.count())
    assert FlagToken.objects.count() == identifiers, (FlagToken.objects.count(), identifiers)
    platform = report("upload", seconds)
    assert upload.started_at is not None
    assert upload.finished_at is not None
    job = (upload.finished_at - upload.started_at).total_seconds()
    print(f"{'':12} of which: the request {answered:.1f} s, the job in the worker {job:.1f} s")

    print()
    print(f"upload: {platform / bulk:.1f} x the bulk_create rate (target: 10 x or more)")
    print(f"upload: {platform / bare:.0%} of the bare COPY rate")


if __name__ == "__main__":
    main()
