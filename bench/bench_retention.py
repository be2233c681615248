"""Benchmark: the daily retention run of flags (``services.apply_retention``) against the same steps in bare SQL.

Run from the repository root with PostgreSQL at 127.0.0.1:5432, or the server ``BENCH_POSTGRES_URL`` names:

    .venv/bin/python bench/bench_retention.py [--flags 5000000] [--members 50] [--rounds 3]

It creates a fresh database ``riskshare_bench``, migrates it, and seeds ``--flags`` flags for
``--members`` members with the report benchmark's generator (a tenth expired, a tenth withdrawn, a
tenth resolved; one in five with sealed details), each with one identifier (a ``sharing_flagtoken``
row); one flag in a hundred reaches its expiry date today. Two runs are timed, each inside a
transaction that is rolled back, so every round starts from the same state:

- *first run after the upgrade*: the expired tenth still has its tokens and references, so the
  erase step reaches all of them;
- *a daily run*: those were erased the night before (committed before these rounds), so only
  today's expiries are expired, shredded and erased.

The baseline is the same steps written by hand, with no per-institution counting, no audit events
and no batches: an ``UPDATE`` that expires, one that destroys details, and the erase: a ``DELETE``
of the erased flags' ``sharing_flagtoken`` rows and an ``UPDATE`` of their references, timed the
same way in the same rounds. The loans' and the query records' retention (``sharing.tasks``
runs them after the flags') are not part of it. The database is dropped at the end.
"""

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

# Run as a script from the repository root: bench/ is on the path, the root is not.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.serving import fresh_platform

TODAY = date(2026, 11, 29)
DUE_TODAY = "UPDATE sharing_flag SET expires_on = %(today)s WHERE id %% 100 = 0 AND status IN ('active', 'resolved')"
# Sealed details (200 bytes, as a typical note) on one flag in five.
SEALED = "UPDATE sharing_flag SET details = decode(repeat('ab', 200), 'hex') WHERE id %% 5 = 0"
# The three steps by hand, each a list of statements; a step's count is its last statement's rows.
BARE = (
    [
        "UPDATE sharing_flag SET status = 'expired', updated_at = now()"
        " WHERE status IN ('active', 'resolved') AND expires_on <= %(today)s"
    ],
    [
        "UPDATE sharing_flag SET details = NULL, details_key_id = NULL, details_destroyed_at = now()"
        " WHERE status IN ('expired', 'withdrawn') AND details IS NOT NULL"
    ],
    [
        # The flags' tokens first, then their references: expired flags, and withdrawn ones past expiry.
        "DELETE FROM sharing_flagtoken WHERE flag_id IN (SELECT id FROM sharing_flag WHERE reference IS NOT NULL"
        " AND (status = 'expired' OR (status = 'withdrawn' AND expires_on <= %(today)s)))",
        "UPDATE sharing_flag SET reference = NULL, source_upload_id = NULL, source_row = NULL, updated_at = now()"
        " WHERE reference IS NOT NULL AND (status = 'expired' OR (status = 'withdrawn' AND expires_on <= %(today)s))",
    ],
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flags", type=int, default=5_000_000)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with fresh_platform():
        run(args)


def run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from bench.bench_report import SEED_FLAG_TOKENS, SEED_FLAGS, create_members
    from sharing.flags import services

    call_command("migrate", verbosity=0)
    members = [member.pk for member in create_members(args.members)]
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(SEED_FLAGS, {"members": members, "count": args.flags})
        cursor.execute(SEED_FLAG_TOKENS)
        cursor.execute(DUE_TODAY, {"today": TODAY})
        cursor.execute(SEALED, {})
        cursor.execute("VACUUM ANALYZE sharing_flag")
        cursor.execute("VACUUM ANALYZE sharing_flagtoken")
        cursor.execute(
            "SELECT count(*) FILTER (WHERE status = 'expired'),"
            " count(*) FILTER (WHERE status IN ('active', 'resolved') AND expires_on <= %s) FROM sharing_flag",
            [TODAY],
        )
        expired, due = cursor.fetchone()
    print(
        f"seeded {args.flags:,} flags ({expired:,} expired, {due:,} due today) in {time.perf_counter() - started:.0f} s"
    )

    def bare() -> tuple[int, ...]:
        with connection.cursor() as cursor:
            counts = []
            for step in BARE:
                for statement in step:
                    cursor.execute(statement, {"today": TODAY})
                counts.append(cursor.rowcount)
            return tuple(counts)

    def platform() -> tuple[int, ...]:
        return tuple(services.apply_retention(today=TODAY))

    def timed(step: Callable[[], tuple[int, ...]]) -> tuple[float, tuple[int, ...]]:
        with transaction.atomic():
            began = time.perf_counter()
            counts = step()
            seconds = time.perf_counter() - began
            transaction.set_rollback(True)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM sharing_flag")
            cursor.execute("VACUUM sharing_flagtoken")
        return seconds, counts

    for scenario in ("first run after the upgrade", "a daily run"):
        if scenario == "a daily run":
            with connection.cursor() as cursor:
                for statement in BARE[2]:  # last night's run erased what had expired before
                    cursor.execute(statement, {"today": TODAY})
                cursor.execute("VACUUM ANALYZE sharing_flag")
                cursor.execute("VACUUM ANALYZE sharing_flagtoken")
        times: dict[str, list[float]] = {"bare SQL": [], "apply_retention": []}
        done: dict[str, tuple[int, ...]] = {}
        for _round in range(args.rounds):
            for name, step in (("bare SQL", bare), ("apply_retention", platform)):
                seconds, done[name] = timed(step)
                times[name].append(seconds)
        assert done["bare SQL"] == done["apply_retention"], done
        expired_now, shredded, erased = done["apply_retention"]
        baseline = min(times["bare SQL"])
        print(f"\n{scenario}: {expired_now:,} expired, {shredded:,} details destroyed, {erased:,} erased")
        for name, measured in times.items():
            best = min(measured)
            rounds = ", ".join(f"{value:.2f}" for value in measured)
            print(f"  {name:16} best {best:6.2f} s  ({best / baseline:4.2f}x the bare SQL; rounds {rounds})")
        print(f"  median of apply_retention: {statistics.median(times['apply_retention']):.2f} s")


if __name__ == "__main__":
    main()
