"""What the query endpoint costs beside a bare lookup: POST /api/v1/queries under load on gunicorn.

Run on demand from the repository root; it is not part of the test suite:

    .venv/bin/python bench/bench_query.py [--seconds 15] [--connections 8] [--rounds 3]

It needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust authentication) and RabbitMQ at
127.0.0.1:5672 (guest/guest). It creates a fresh database ``riskshare_bench``, migrates it and
seeds the demo cast into it, with secrets generated into a temporary directory (never
production mode) and a platform pepper of its own, set in the environment of every step so
that the benchmark can key member tokens itself. The demo member whose API key seed_demo
prints first (Demo Consumer Finance) contributes one flag, so that it may query
(reciprocity); the other demo member contributes ``OTHER_FLAGS`` flags in batches of 1,000
through ``sharing.flags.services.contribute``, so that lookups hit an index of realistic shape.

Two modes are measured, in the same server build (``bench.settings_bare_query``: the
platform's settings, persistent database connections included, with one bench-only URL
added) and the same process model (``gunicorn --config platform/gunicorn.conf.py``, two sync
workers), on a fresh gunicorn on a free loopback port per run:

* query: POST /api/v1/queries with the demo API key and one subject per query, through
  authentication, reciprocity, matching, the quota counters and the audit trail, as deployed
  (the quota and rate limits are set high in the environment so that they never refuse);
* bare: GET /bench/bare-query?token=..., a plain Django function view doing the same single
  indexed lookup of one platform token, with no authentication, audit or quota.

Queries alternate between tokens the other member flagged (hits) and tokens nobody flagged
(misses); the bare view is given the same tokens keyed with the pepper. Modes alternate in
rounds (query, bare; then bare, query; ...), so that a machine which slowly speeds up or slows
down favours neither. Each run is warmed up, then driven for ``--seconds`` by
``--connections`` client threads as fast as answers come back. Any answer but 200 aborts
with its body. The medians of each mode give the query endpoint's rate as a share of the
bare view's; the target is at least 60%. The audit rows written during each measured window
are counted: one per query, none for the bare view. The database is dropped at the end.

Each run's line shows how busy the whole machine was ("CPU busy"), how much of it the load
generator took ("client") and how busy it was in the second before the run ("before"):
anything there is someone else's work, which disturbs the figures, and a warning says so.
The load generator shares the cores with gunicorn and PostgreSQL and takes more of them in
the faster mode (bare), so the share printed is, if anything, slightly overstated.
"""

import argparse
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import psycopg

# Run as a script from the repository root: bench/ is on the path, the root is not.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.serving import (
    BIN,
    BROKER_URL,
    DATABASE_URL,
    KEY_PATTERN,
    REPO,
    Request,
    Run,
    audit_event_count,
    drive,
    drop_database,
    gunicorn,
    machine_busy_share,
    print_run,
    recreate_database,
    send,
)

SETTINGS_MODULE = "bench.settings_bare_query"
QUERY_PATH = "/api/v1/queries"
BARE_PATH = "/bench/bare-query"
MODES = ("query", "bare")
WORKERS = 2
WARMUP_SECONDS = 3.0
# The benchmark's own platform pepper (version 1): the seed step and gunicorn both get it.
PEPPER = hashlib.sha256(b"riskshare-bench-query-pepper").digest()
# Other members' flags stored before the runs, and how many of them (and as many misses) are asked about.
OTHER_FLAGS = 20_000
BATCH = 1_000
ASKED = 1_000
# Far above anything a run reaches, so that the quota and the rate limit never refuse.
UNLIMITED = 1_000_000_000


def member_token(label: str) -> str:
    """A deterministic member token (64 lowercase hex) for a label."""
    return hashlib.sha256(f"riskshare-bench-query:{label}".encode()).hexdigest()


def other_token(n: int) -> str:
    return member_token(f"other:{n}")


def miss_token(n: int) -> str:
    return member_token(f"miss:{n}")


def platform_token_hex(token: str) -> str:
    """The platform token the server derives from a member token under the benchmark's pepper."""
    return hmac.digest(PEPPER, bytes.fromhex(token), "sha256").hex()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per run (default 15)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent client connections (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="query/bare pairs, order reversed each round (default 3)")
    args = parser.parse_args()
    if args.seconds <= 0 or args.connections < 1 or args.rounds < 1:
        parser.error("--seconds must be positive, --connections and --rounds at least 1")

    cores = os.cpu_count() or 1
    print(
        f"POST {QUERY_PATH} (one subject) vs GET {BARE_PATH} on gunicorn ({WORKERS} sync workers), "
        f"{args.connections} connections, {args.seconds:g} s per run after {WARMUP_SECONDS:g} s warm-up, "
        f"{args.rounds} rounds; {OTHER_FLAGS:,} other members' flags; {cores} cores"
    )
    with tempfile.TemporaryDirectory(prefix="riskshare-bench-") as var_dir:
        env = environment(Path(var_dir))
        recreate_database()
        try:
            key = prepare(env)
            requests = {mode: requests_for(mode, key) for mode in MODES}
            runs: list[Run] = []
            for round_number in range(args.rounds):
                for mode in MODES if round_number % 2 == 0 else tuple(reversed(MODES)):
                    background = machine_busy_share(1.0)
                    run = measure(mode, env, Path(var_dir), requests[mode], args.seconds, args.connections)
                    runs.append(run)
                    print_run(f"{run.mode:<5}", run, cores, background)
            report(runs)
        finally:
            drop_database()


def environment(var_dir: Path) -> dict[str, str]:
    """A clean environment: only what the platform needs, so the caller's own settings do not leak in."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
    env.update(
        DATABASE_URL=DATABASE_URL,
        CELERY_BROKER_URL=BROKER_URL,
        RISKSHARE_VAR_DIR=str(var_dir),
        RISKSHARE_PRODUCTION="false",
        DEBUG="false",
        WEB_CONCURRENCY=str(WORKERS),
        DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
        PLATFORM_PEPPER=f"1 {PEPPER.hex()}",
        MATCH_DAILY_QUOTA=str(UNLIMITED),
        MATCH_RATE_PER_MINUTE=str(UNLIMITED),
    )
    return env


def prepare(env: dict[str, str]) -> str:
    """Migrate, seed the demo cast and the flags; the first demo API key that seed_demo prints."""
    manage = [str(BIN / "python"), "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "--verbosity", "0"], cwd=REPO, env=env, check=True)  # noqa: S603
    seeded = subprocess.run(  # noqa: S603  (our own interpreter and arguments)
        [*manage, "seed_demo"], cwd=REPO, env=env, check=True, capture_output=True, text=True
    )
    found = KEY_PATTERN.search(seeded.stdout)
    if found is None:
        raise SystemExit(f"seed_demo printed no API key:\n{seeded.stdout}")
    started = time.perf_counter()
    subprocess.run(  # noqa: S603  (our own interpreter and arguments)
        [*manage, "shell", "--verbosity", "0", "-c", "from bench.bench_query import seed_flags; seed_flags()"],
        cwd=REPO,
        env=env,
        check=True,
    )
    print(f"Seeded 1 own flag and {OTHER_FLAGS:,} other members' flags in {time.perf_counter() - started:.1f} s")
    # Settle the freshly written tables now, so that autovacuum does not do it during the first run.
    with psycopg.connect(DATABASE_URL, autocommit=True) as settle:
        settle.execute("VACUUM ANALYZE")
    return found.group()


def seed_flags() -> None:
    """Run inside ``manage.py shell``: the querying member's own flag, then the other member's flags."""
    from django.utils import timezone

    from accounts import demo
    from accounts.models import Institution
    from sharing.flags import services

    today = timezone.localdate()

    def item(reference: str, token: str) -> dict[str, str]:
        return {
            "reference": reference,
            "id_type": "cnid",
            "token": token,
            "category": "overdue_90",
            "event_date": (today - timedelta(days=30)).isoformat(),
            "notice_date": (today - timedelta(days=39)).isoformat(),
            "notice_channel": "sms",
            "amount_band": "10k_50k",
        }

    asker = Institution.objects.get(code=demo.CAST[0].code)
    other = Institution.objects.get(code=demo.CAST[1].code)
    services.contribute(asker, [item("BENCH-OWN", member_token("own"))])
    for start in range(0, OTHER_FLAGS, BATCH):
        services.contribute(other, [item(f"BENCH-{n}", other_token(n)) for n in range(start, start + BATCH)])


def requests_for(mode: str, key: str) -> list[Request]:
    """The requests of one mode, hits and misses alternating; every client cycles through them."""
    step = OTHER_FLAGS // ASKED
    tokens = [token for n in range(ASKED) for token in (other_token(n * step), miss_token(n))]
    if mode == "bare":
        return [("GET", f"{BARE_PATH}?token={platform_token_hex(token)}", None, {}) for token in tokens]
    headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
    requests: list[Request] = []
    for token in tokens:
        subject = {"correlation_id": "C", "id_type": "cnid", "token": token}
        body = json.dumps({"purpose": "post_loan_review", "subjects": [subject]}).encode()
        requests.append(("POST", QUERY_PATH, body, headers))
    return requests


def measure(
    mode: str, env: dict[str, str], var_dir: Path, requests: list[Request], seconds: float, connections: int
) -> Run:
    log = var_dir / f"gunicorn-{mode}.log"
    with gunicorn(env, log) as port:
        check_answers(mode, port, requests)
        drive(port, requests, connections, WARMUP_SECONDS)
        before = audit_event_count()
        load = drive(port, requests, connections, seconds)
        events = audit_event_count() - before
    boots = log.read_text().count("Booting worker")
    return Run(mode, load, events, boots - WORKERS)


def check_answers(mode: str, port: int, requests: list[Request]) -> None:
    """The first request must find the other member's flag and the second nothing: the lookups are real."""
    for request, expect_hit in ((requests[0], True), (requests[1], False)):
        status, body = send(port, request)
        if status != 200:
            raise SystemExit(f"{mode}: HTTP {status}: {body[:300]!r}")
        answer = json.loads(body)
        hit = answer["subjects"][0]["hit"] if mode == "query" else answer["hit"]
        if hit is not expect_hit:
            raise SystemExit(f"{mode}: expected hit={expect_hit}, got {answer}")


def report(runs: list[Run]) -> None:
    by_mode = {mode: [run for run in runs if run.mode == mode] for mode in MODES}
    rates = {mode: statistics.median(run.load.rate for run in by_mode[mode]) for mode in MODES}

    def median(mode_runs: list[Run], p: int) -> float:
        return statistics.median(run.load.percentile(p) for run in mode_runs)

    print()
    print(f"| mode | req/s (median of {len(by_mode['query'])}) | p50 ms | p95 ms | audit events / requests |")
    print("|---|---:|---:|---:|---|")
    for mode in MODES:
        mode_runs = by_mode[mode]
        events = sum(run.events for run in mode_runs)
        requests = sum(run.load.requests for run in mode_runs)
        print(
            f"| {mode} | {rates[mode]:.1f} | {median(mode_runs, 50):.1f} | {median(mode_runs, 95):.1f} "
            f"| {events} / {requests} |"
        )
    print()
    share = rates["query"] / rates["bare"] * 100
    print(f"query endpoint: {share:.0f}% of the bare view's rate (target: at least 60%)")
    wrong = [run for run in by_mode["query"] if run.events != run.load.requests] + [
        run for run in by_mode["bare"] if run.events != 0
    ]
    if wrong:
        print(
            "warning: audit rows do not match one per query and none per bare lookup: "
            f"{[(run.mode, run.load.requests, run.events) for run in wrong]}"
        )


if __name__ == "__main__":
    main()
