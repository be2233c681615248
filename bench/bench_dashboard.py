"""Benchmark: a member's home page (the dashboard) on a large institution, against an empty one.

Run from the repository root with PostgreSQL at 127.0.0.1:5432:

    .venv/bin/python bench/bench_dashboard.py [--flags 2000000] [--events 2000000] [--rounds 5]

It creates a fresh database ``riskshare_bench``, migrates it, and gives one member ``--flags`` flags
and ``--events`` audit events that are not queries (the worst case for "recent queries", which
must walk past them), and a second member nothing. It then times ``GET /`` through Django's test
client for a person of each holding every member role: the empty member's page is the baseline
(the page's own cost), the large member's first visit counts the flags, and its next visits read
the counts the first one cached. The database is dropped at the end.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

# Run as a script from the repository root: bench/ is on the path, the root is not.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.serving import fresh_platform

SEED_EVENTS = """
INSERT INTO accounts_auditevent (occurred_at, action, outcome, reason, institution_id, actor_type, actor_name,
  target_type, target_id, purpose, consent_reference, request_id)
SELECT now() - (n %% (300 * 86400)) * interval '1 second', 'flag.view', 'success', '', %(member)s, 'api_key', '',
  'flag', n::text, '', '', ''
FROM generate_series(1, %(count)s) AS n
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flags", type=int, default=2_000_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with fresh_platform(ALLOWED_HOSTS="testserver"):
        run(args)


def run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from accounts import services as accounts
    from accounts.choices import InstitutionKind, Role
    from accounts.models import User
    from bench.bench_report import SEED_FLAGS
    from tests.factories import uscc_code

    call_command("migrate", verbosity=0)
    roles: list[str] = [Role.INSTITUTION_ADMIN, Role.CONTRIBUTOR, Role.ANALYST, Role.AUDITOR]
    people = []
    for n in (1, 2):
        member = accounts.create_institution(
            code=uscc_code(n), name_zh=f"会员{n}", name_en=f"Member {n}", kind=InstitutionKind.MEMBER
        )
        people.append(
            accounts.create_user(
                institution=member, username=f"staff-{n}", email=f"staff{n}@example.com", roles=roles, password=None
            )
        )
    large, empty = people
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(SEED_FLAGS, {"members": [large.institution_id], "count": args.flags})
        cursor.execute(SEED_EVENTS, {"member": large.institution_id, "count": args.events})
        cursor.execute("VACUUM ANALYZE sharing_flag")
        cursor.execute("VACUUM ANALYZE accounts_auditevent")
    print(
        f"seeded {args.flags:,} flags and {args.events:,} other audit events in {time.perf_counter() - started:.0f} s"
    )

    def visit(person: User, *, cold: bool) -> float:
        if cold:
            cache.clear()
        client = Client()
        client.force_login(person)
        began = time.perf_counter()
        response = client.get("/")
        seconds = time.perf_counter() - began
        assert response.status_code == 200, response.status_code
        return seconds

    visit(empty, cold=True)  # warm the database's caches and Django's templates
    times: dict[str, list[float]] = {"empty": [], "large, first visit": [], "large, cached": []}
    for _round in range(args.rounds):
        times["empty"].append(visit(empty, cold=True))
        times["large, first visit"].append(visit(large, cold=True))
        times["large, cached"].append(visit(large, cold=False))
    baseline = statistics.median(times["empty"])
    print()
    for name, measured in times.items():
        median = statistics.median(measured)
        print(
            f"{name:20} {median * 1000:8.1f} ms  (median of {args.rounds};"
            f" {median / baseline:5.1f}x the empty member's)"
        )


if __name__ == "__main__":
    main()
