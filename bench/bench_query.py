"""What the query endpoint costs beside bare statements: POST /api/v1/queries under load on gunicorn.

Run on demand from the repository root; it is not part of the test suite:

    .venv/bin/python bench/bench_query.py [--seconds 15] [--connections 8] [--rounds 3] [--tokens 1,3]
        [--patience 120]

It needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust authentication) and RabbitMQ at
127.0.0.1:5672 (guest/guest), or those ``BENCH_POSTGRES_URL`` and ``BENCH_BROKER_URL`` name. It
creates a fresh database ``riskshare_bench``, migrates it and seeds the demo cast into it, with
secrets generated into a temporary directory (never production mode) and a platform pepper of its
own, set in the environment of every step so that the benchmark can key member tokens itself.
Then, through the platform's own services (``seed``): the demo member whose API key seed_demo
prints first (Demo Consumer Finance, the asker) contributes a flag and loans, so that it may
query and gets the multi-lender figures (both reciprocity rules); ``BORROWERS`` borrowers, each
known by a resident ID, a mobile number and a passport, have flags of the other demo member (half
of them filed under the resident ID and the mobile), loans of other lenders (some filed under the
mobile only) and query records of other lenders in the last 90 days; the asker has loans of its
own for a quarter of them. The asker's query records of today on every token asked are written
too, so that in both modes every record's insert finds its row (a repeat query, ``ON CONFLICT DO
NOTHING``) and the modes write the same.

Two modes are measured, in the same server build (``bench.settings_bare_query``: the
platform's settings, persistent database connections included, with one bench-only URL
added) and the same process model (``gunicorn --config platform/gunicorn.conf.py``, two sync
workers), on a fresh gunicorn on a free loopback port per run:

* query: POST /api/v1/queries with the demo API key and one subject per query, for a loan
  application with a consent reference, through authentication, reciprocity, matching, the
  multi-lender figures, the query records, the quota counters and the audit trail, as deployed
  (the quota and rate limits are set high in the environment so that they never refuse);
* bare: GET /bench/bare-query?institution=...&token=..., a plain Django function view running
  the platform's statements for the same subject (``bench/bare_query.py``: the flags through
  their tokens, the query records' insert, the multi-lender figures), with no authentication,
  audit, quota, reciprocity or serializer, as Django runs any statement: parsed and planned on
  every request. The target is set against this view;
* prepared bare: the same view with its statement prepared once per connection and planned once
  (``GET /bench/bare-query-prepared``), as the platform prepares its own (``accounts.prepared``):
  the bare view at its best, a second, stricter baseline.

Subjects have one token (a resident ID, the old single-identifier request) or three (resident ID,
mobile, passport; ``--tokens`` says which, both by default), and alternate between borrowers
with flags, loans and records (hits) and borrowers nobody knows (misses); the bare view is given
the same tokens keyed with the pepper. Modes alternate in rounds (query, bare, prepared bare; then
the other way round; ...), so that a machine which slowly speeds up or slows down favours neither. Each run is warmed
up, then driven for ``--seconds`` by ``--connections`` client threads as fast as answers come
back. Any answer but 200 aborts with its body; before each run the first answers are checked (a
hit and its figures, a miss), and the query's figures must equal the bare view's. The medians of
each mode give the query endpoint's rate as a share of each bare view's, for each number of
tokens; the target is at least 60% of the bare view's. The audit rows written during each
measured window are counted: one per query, none for the bare views. The database is dropped at
the end.

Each run waits up to ``--patience`` seconds for a second in which the machine is idle (others'
work: anything else disturbs the figures). Its line shows how busy the whole machine was ("CPU
busy"), how much of it the load generator took ("client") and how busy it was in the second
before the run ("before"): anything there is someone else's work, and a warning says so. It
also shows the CPU time gunicorn's workers and the database server spent per request ("server
CPU", from /proc, when the server runs on this machine); the summary compares the modes' medians,
a figure that others' work disturbs much less than the rate. The load generator shares the
cores with gunicorn and PostgreSQL and takes more of them in the faster mode (bare), so the rate
share printed is, if anything, slightly overstated.
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
    postmaster_pid,
    print_run,
    quiet_machine,
    recreate_database,
    send,
    server_cpu_seconds,
)

SETTINGS_MODULE = "bench.settings_bare_query"
QUERY_PATH = "/api/v1/queries"
BARE_PATH = "/bench/bare-query"
# The bare view as Django runs any statement (parsed and planned each time), and prepared as the platform's are.
BARE_PATHS = {"bare": BARE_PATH, "prepared bare": "/bench/bare-query-prepared"}
MODES = ("query", *BARE_PATHS)
WORKERS = 2
WARMUP_SECONDS = 3.0
# The benchmark's own platform pepper (version 1): the seed step and gunicorn both get it.
PEPPER = hashlib.sha256(b"riskshare-bench-query-pepper").digest()
# Borrowers other members know, and how many of them (and as many unknown ones) are asked about.
BORROWERS = 20_000
BATCH = 1_000
ASKED = 1_000
# The identifier types of a subject of three tokens, in order; a subject of one has the first.
ID_TYPES = ("cnid", "mobile", "passport")
LENDERS = 5  # other members that report loans and query for lending: the other demo member and four more
PURPOSE = "loan_application"
CONSENT = "BENCH-CONSENT-2026"
# Far above anything a run reaches, so that the quota and the rate limit never refuse.
UNLIMITED = 1_000_000_000


def member_token(label: str) -> str:
    """A deterministic member token (64 lowercase hex) for a label."""
    return hashlib.sha256(f"riskshare-bench-query:{label}".encode()).hexdigest()


def borrower_token(n: int, id_type: str = "cnid") -> str:
    """The member token of a known borrower's identifier of ``id_type``."""
    return member_token(f"{id_type}:{n}")


def miss_token(n: int, id_type: str = "cnid") -> str:
    return member_token(f"miss:{id_type}:{n}")


def platform_token_hex(token: str) -> str:
    """The platform token the server derives from a member token under the benchmark's pepper."""
    return hmac.digest(PEPPER, bytes.fromhex(token), "sha256").hex()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per run (default 15)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent client connections (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="query/bare pairs, order reversed each round (default 3)")
    parser.add_argument("--tokens", default="1,3", help="tokens per subject, comma-separated: 1, 3 or both (default)")
    parser.add_argument(
        "--patience",
        type=float,
        default=120.0,
        help="seconds to wait for an idle machine before each run (default 120)",
    )
    args = parser.parse_args()
    try:
        sizes = sorted({int(size) for size in args.tokens.split(",")})
    except ValueError:
        sizes = []
    if not sizes or not set(sizes) <= {1, 3}:
        parser.error("--tokens takes 1, 3 or 1,3")
    if args.seconds <= 0 or args.connections < 1 or args.rounds < 1:
        parser.error("--seconds must be positive, --connections and --rounds at least 1")

    cores = os.cpu_count() or 1
    print(
        f"POST {QUERY_PATH} (one subject of {' or '.join(map(str, sizes))} tokens) vs GET {BARE_PATH} on gunicorn"
        f" ({WORKERS} sync workers), {args.connections} connections, {args.seconds:g} s per run after"
        f" {WARMUP_SECONDS:g} s warm-up, {args.rounds} rounds; {BORROWERS:,} borrowers known to other members;"
        f" {cores} cores"
    )
    with tempfile.TemporaryDirectory(prefix="riskshare-bench-") as var_dir:
        env = environment(Path(var_dir))
        recreate_database()
        try:
            key = prepare(env)
            asker = asker_id(key)
            requests = {(mode, size): requests_for(mode, size, key, asker) for mode in MODES for size in sizes}
            runs: list[Run] = []
            figures: dict[tuple[str, int], object] = {}
            for round_number in range(args.rounds):
                for size in sizes:
                    for mode in MODES if round_number % 2 == 0 else tuple(reversed(MODES)):
                        background = quiet_machine(args.patience)
                        run, figures[mode, size] = measure(
                            mode, env, Path(var_dir), requests[mode, size], args.seconds, args.connections
                        )
                        run.mode = f"{mode} {size}t"
                        runs.append(run)
                        print_run(f"{run.mode:<16}", run, cores, background)
            for size in sizes:
                for bare in BARE_PATHS:
                    if figures["query", size] != figures[bare, size]:
                        raise SystemExit(
                            f"{size} tokens: the query's figures {figures['query', size]} are not the {bare} view's"
                            f" {figures[bare, size]}: the bare view does not run what the query runs"
                        )
            for size in sizes:
                report(size, [run for run in runs if run.mode.endswith(f" {size}t")])
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
    """Migrate, seed the demo cast, the flags, loans and records; the first demo API key that seed_demo prints."""
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
        [*manage, "shell", "--verbosity", "0", "-c", "from bench.bench_query import seed; seed()"],
        cwd=REPO,
        env=env,
        check=True,
    )
    with psycopg.connect(DATABASE_URL, autocommit=True) as settle:
        counts = {
            table: settle.execute(f"SELECT count(*) FROM sharing_{table}").fetchall()[0][0]  # noqa: S608
            for table in ("flag", "flagtoken", "loan", "loantoken", "queryrecord")
        }
        # Settle the freshly written tables now, so that autovacuum does not do it during the first run.
        settle.execute("VACUUM ANALYZE")
    print(
        f"Seeded {counts['flag']:,} flags ({counts['flagtoken']:,} tokens), {counts['loan']:,} loans"
        f" ({counts['loantoken']:,} tokens), {counts['queryrecord']:,} query records"
        f" in {time.perf_counter() - started:.1f} s"
    )
    return found.group()


def asker_id(key: str) -> int:
    """The asking member's id (the API key's institution), which the bare view is given: it authenticates no one."""
    with psycopg.connect(DATABASE_URL) as connection:
        row = connection.execute(
            "SELECT institution_id FROM accounts_apikey WHERE prefix = %s", [key.partition(".")[0]]
        ).fetchone()
    assert row is not None
    return int(row[0])


def seed() -> None:
    """Run inside ``manage.py shell``: the asker's flag and loans, other members' flags, loans and query records."""
    from django.utils import timezone

    from accounts import demo
    from accounts import services as accounts
    from accounts.choices import InstitutionKind
    from accounts.models import Institution
    from sharing.flags import services as flags
    from sharing.keys.tokens import peppers, platform_token
    from sharing.loans import services as loans
    from sharing.models import QueryRecord
    from tests.factories import uscc_code

    today = timezone.localdate()
    chain = peppers()

    def identifiers(n: int, id_types: tuple[str, ...]) -> dict[str, str]:
        """The flat form: id_type and token, then id_type_2 and token_2 ..."""
        fields: dict[str, str] = {}
        for number, id_type in enumerate(id_types, 1):
            suffix = "" if number == 1 else f"_{number}"
            fields |= {f"id_type{suffix}": id_type, f"token{suffix}": borrower_token(n, id_type)}
        return fields

    def flag(reference: str, fields: dict[str, str]) -> dict[str, str]:
        return {
            "reference": reference,
            **fields,
            "category": "overdue_90",
            "event_date": (today - timedelta(days=30)).isoformat(),
            "notice_date": (today - timedelta(days=39)).isoformat(),
            "notice_channel": "sms",
            "amount_band": "10k_50k",
        }

    def loan(reference: str, fields: dict[str, str], opened: int, band: str) -> dict[str, str]:
        return {
            "reference": reference,
            **fields,
            "product": "cash_loan",
            "opened_on": (today - timedelta(days=opened)).isoformat(),
            "amount_band": band,
            "consent_reference": CONSENT,
        }

    asker = Institution.objects.get(code=demo.CAST[0].code)
    other = Institution.objects.get(code=demo.CAST[1].code)
    lenders = [other] + [
        accounts.create_institution(
            code=uscc_code(900 + n), name_zh=f"出借{n}", name_en=f"Lender {n}", kind=InstitutionKind.MEMBER
        )
        for n in range(1, LENDERS)
    ]
    flags.contribute(asker, [flag("BENCH-OWN", {"id_type": "cnid", "token": member_token("own")})])
    loans.contribute(asker, [loan("BENCH-OWN", {"id_type": "cnid", "token": member_token("own")}, 10, "10k_50k")])
    for start in range(0, BORROWERS, BATCH):
        known = range(start, start + BATCH)
        # The other demo member's flags: half under the resident ID alone, half under it and the mobile.
        flags.contribute(other, [flag(f"BENCH-{n}", identifiers(n, ID_TYPES[: 1 + n % 2])) for n in known])
        # Every other borrower owes a lender under the resident ID and the mobile, every third another under
        # the mobile alone (found only by a subject that carries it); the asker's own loan to every fourth.
        for number, lender in enumerate(lenders):
            items = [
                loan(f"BENCH-{n}", identifiers(n, ID_TYPES[:2]), 20 + n % 300, ("lt_10k", "10k_50k")[n % 2])
                for n in known
                if n % 2 == 0 and n % LENDERS == number
            ] + [
                loan(f"BENCH-M-{n}", identifiers(n, ID_TYPES[1:2]), 60 + n % 200, "50k_200k")
                for n in known
                if n % 3 == 0 and (n + 1) % LENDERS == number
            ]
            loans.contribute(lender, items)
        loans.contribute(
            asker, [loan(f"BENCH-{n}", identifiers(n, ID_TYPES[:1]), 40, "10k_50k") for n in known if n % 4 == 0]
        )
    # Other lenders' query records in the last 90 days, one to three of them per borrower, on the resident
    # ID and the mobile (a query records every token of its subject); then the asker's own of today.
    keyed = {
        (n, id_type): platform_token(borrower_token(n, id_type), chain)
        for n in range(BORROWERS)
        for id_type in ID_TYPES
    }
    QueryRecord.objects.bulk_create(
        (
            QueryRecord(
                token=keyed[n, id_type],
                day=today - timedelta(days=1 + (n * 7 + j * 13) % 85),
                institution=lenders[(n + j) % LENDERS],
                purpose=("loan_application", "credit_review")[j % 2],
                pepper_version=chain.version,
            )
            for n in range(BORROWERS)
            for j in range(1 + n % 3)
            for id_type in ID_TYPES[:2]
        ),
        batch_size=5_000,
    )
    step = BORROWERS // ASKED
    asked = [keyed[n * step, id_type] for n in range(ASKED) for id_type in ID_TYPES]
    asked += [platform_token(miss_token(n, id_type), chain) for n in range(ASKED) for id_type in ID_TYPES]
    QueryRecord.objects.bulk_create(
        [
            QueryRecord(token=token, day=today, institution=asker, purpose=PURPOSE, pepper_version=chain.version)
            for token in asked
        ],
        batch_size=5_000,
    )


def requests_for(mode: str, size: int, key: str, asker: int) -> list[Request]:
    """The requests of one mode, hits and misses alternating; every client cycles through them."""
    step = BORROWERS // ASKED
    id_types = ID_TYPES[:size]
    subjects = [
        tokens
        for n in range(ASKED)
        for tokens in (
            [(id_type, borrower_token(n * step, id_type)) for id_type in id_types],
            [(id_type, miss_token(n, id_type)) for id_type in id_types],
        )
    ]
    if mode in BARE_PATHS:
        return [
            (
                "GET",
                f"{BARE_PATHS[mode]}?institution={asker}&"
                + "&".join(f"token={platform_token_hex(t)}" for _, t in tokens),
                None,
                {},
            )
            for tokens in subjects
        ]
    headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
    requests: list[Request] = []
    for tokens in subjects:
        if size == 1:  # a request of before several identifiers, unchanged
            subject: dict[str, object] = {"correlation_id": "C", "id_type": tokens[0][0], "token": tokens[0][1]}
        else:
            subject = {
                "correlation_id": "C",
                "identifiers": [{"id_type": id_type, "token": token} for id_type, token in tokens],
            }
        body = {"purpose": PURPOSE, "consent_reference": CONSENT, "subjects": [subject]}
        requests.append(("POST", QUERY_PATH, json.dumps(body).encode(), headers))
    return requests


def measure(
    mode: str, env: dict[str, str], var_dir: Path, requests: list[Request], seconds: float, connections: int
) -> tuple[Run, object]:
    """A run of one mode, and the figures its first answer gave."""
    log = var_dir / f"gunicorn-{mode}.log"
    servers = [pid for pid in [postmaster_pid()] if pid is not None]
    with gunicorn(env, log, servers) as port:
        figures = check_answers(mode, port, requests)
        drive(port, requests, connections, WARMUP_SECONDS)
        before = audit_event_count()
        cpu = server_cpu_seconds(servers)
        load = drive(port, requests, connections, seconds)
        cpu = server_cpu_seconds(servers) - cpu
        events = audit_event_count() - before
    boots = log.read_text().count("Booting worker")
    run = Run(mode, load, events, boots - WORKERS)
    run.server_cpu = cpu / load.requests if len(servers) == 2 else None
    return run, figures


def check_answers(mode: str, port: int, requests: list[Request]) -> object:
    """The first request must find the other member's flag and figures, the second nothing: the lookups are
    real. The first one's figures, which the query's and the bare view's must share."""
    figures: object = None
    for request, expect_hit in ((requests[0], True), (requests[1], False)):
        status, body = send(port, request)
        if status != 200:
            raise SystemExit(f"{mode}: HTTP {status}: {body[:300]!r}")
        answer = json.loads(body)
        found = answer["subjects"][0] if mode == "query" else answer
        # The bare view has no row of figures where all are 0; the query has its figures (the asker reports loans).
        lending = found["lending"] if mode == "query" else found["lending"] or {"institutions_with_open_loans": 0}
        if found["hit"] is not expect_hit or not lending or (lending["institutions_with_open_loans"] > 0) != expect_hit:
            raise SystemExit(f"{mode}: expected hit={expect_hit} and figures with it, got {answer}")
        if expect_hit:
            figures = lending
    return figures


def report(size: int, runs: list[Run]) -> None:
    by_mode = {mode: [run for run in runs if run.mode.startswith(mode)] for mode in MODES}
    rates = {mode: statistics.median(run.load.rate for run in by_mode[mode]) for mode in MODES}

    def median(mode_runs: list[Run], p: int) -> float:
        return statistics.median(run.load.percentile(p) for run in mode_runs)

    print()
    print(f"Subjects of {size} token{'s' if size > 1 else ''}:")
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
    tokens = f"{size} token{'s' if size > 1 else ''}"
    for bare in BARE_PATHS:
        share = rates["query"] / rates[bare] * 100
        print(f"query endpoint, {tokens}: {share:.0f}% of the {bare} view's rate (target: at least 60%)")
    cpu = {mode: [run.server_cpu for run in by_mode[mode] if run.server_cpu is not None] for mode in MODES}
    if all(cpu.values()):
        costs = {mode: statistics.median(cpu[mode]) * 1000 for mode in MODES}
        print(
            "server CPU per request (median): "
            + ", ".join(f"{mode} {cost:.2f} ms" for mode, cost in costs.items())
            + "; each bare view's as a share of the query's: "
            + ", ".join(f"{bare} {costs[bare] / costs['query'] * 100:.0f}%" for bare in BARE_PATHS)
            + " (the rate share an idle machine would give, if CPU bound)"
        )
    wrong = [run for run in by_mode["query"] if run.events != run.load.requests] + [
        run for bare in BARE_PATHS for run in by_mode[bare] if run.events != 0
    ]
    if wrong:
        print(
            "warning: audit rows do not match one per query and none per bare lookup: "
            f"{[(run.mode, run.load.requests, run.events) for run in wrong]}"
        )


if __name__ == "__main__":
    main()
