"""What recording the audit trail costs: GET /api/v1/me under load on gunicorn, recording on and off.

Run on demand from the repository root; it is not part of the test suite:

    .venv/bin/python bench/bench_audit_overhead.py [--seconds 20] [--connections 8] [--rounds 3]

It needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust authentication) and RabbitMQ at
127.0.0.1:5672 (guest/guest). It creates a fresh database ``riskshare_bench``, migrates it and
seeds the demo cast into it, with secrets generated into a temporary directory (never
production mode). Then it starts the web process as deployed (``gunicorn --config
platform/gunicorn.conf.py``, two sync workers) on a free loopback port, once per run, with
recording on (``config.settings``) or off (``bench.settings_no_audit``): on, off, then
off, on, and so on, so that a machine which slowly speeds up or slows down favours neither mode.
Each run is warmed up, then driven for ``--seconds`` by ``--connections`` client threads that
call GET /api/v1/me with a demo API key as fast as answers come back. Any answer but 200
aborts. The audit rows are counted around each measured window: a run with recording on must
have written exactly one per request, a run with it off none. Medians over the runs of each
mode give the overhead, ``1 - on/off``. The database is dropped at the end.

Each run's line shows how busy the whole machine was ("CPU busy"), how much of it the load
generator took ("client") and how busy it was in the second before the run, with nothing of
the benchmark running ("before"): anything there is someone else's work, which disturbs the
figures, and a warning says so.

The load generator runs on the same cores as gunicorn and PostgreSQL. It is one process of
threads (the GIL holds it to one core at most). It spends the same CPU per request in both
modes, so it takes a little more of the machine in the faster mode (off): that slows the off
runs slightly more than the on runs, and the overhead printed is, if anything, understated by
about the difference between the two "client" figures.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

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
)

PATH = "/api/v1/me"
SETTINGS = {"on": "config.settings", "off": "bench.settings_no_audit"}
WORKERS = 2
WARMUP_SECONDS = 3.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per run (default 20)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent client connections (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="on/off pairs, order reversed each round (default 3)")
    args = parser.parse_args()
    if args.seconds <= 0 or args.connections < 1 or args.rounds < 1:
        parser.error("--seconds must be positive, --connections and --rounds at least 1")

    cores = os.cpu_count() or 1
    print(
        f"GET {PATH} on gunicorn ({WORKERS} sync workers), {args.connections} connections, "
        f"{args.seconds:g} s per run after {WARMUP_SECONDS:g} s warm-up, {args.rounds} rounds on/off; {cores} cores"
    )
    with tempfile.TemporaryDirectory(prefix="riskshare-bench-") as var_dir:
        env = environment(Path(var_dir))
        recreate_database()
        try:
            key = prepare(env)
            runs: list[Run] = []
            # On, off; then off, on; and so on: a machine that slowly speeds up or slows down
            # during the benchmark favours neither mode.
            for round_number in range(args.rounds):
                for mode in ("on", "off") if round_number % 2 == 0 else ("off", "on"):
                    background = machine_busy_share(1.0)
                    run = measure(mode, env, Path(var_dir), key, args.seconds, args.connections)
                    runs.append(run)
                    print_run(f"recording {run.mode:<3}", run, cores, background)
            report(runs, args.connections)
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
    )
    return env


def prepare(env: dict[str, str]) -> str:
    """Migrate and seed the benchmark database; the first demo API key that seed_demo prints."""
    manage = [str(BIN / "python"), "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "--verbosity", "0"], cwd=REPO, env=env, check=True)  # noqa: S603
    seeded = subprocess.run(  # noqa: S603  (our own interpreter and arguments)
        [*manage, "seed_demo"], cwd=REPO, env=env, check=True, capture_output=True, text=True
    )
    found = KEY_PATTERN.search(seeded.stdout)
    if found is None:
        raise SystemExit(f"seed_demo printed no API key:\n{seeded.stdout}")
    return found.group()


def measure(mode: str, env: dict[str, str], var_dir: Path, key: str, seconds: float, connections: int) -> Run:
    log = var_dir / f"gunicorn-{mode}.log"
    requests: list[Request] = [("GET", PATH, None, {"Authorization": f"Api-Key {key}"})]
    with gunicorn({**env, "DJANGO_SETTINGS_MODULE": SETTINGS[mode]}, log) as port:
        drive(port, requests, connections, WARMUP_SECONDS)
        before = audit_event_count()
        load = drive(port, requests, connections, seconds)
        events = audit_event_count() - before
    # Every start boots WORKERS workers; more boots are max_requests recycling workers mid-run.
    boots = log.read_text().count("Booting worker")
    return Run(mode, load, events, boots - WORKERS)


def report(runs: list[Run], connections: int) -> None:
    on = [run for run in runs if run.mode == "on"]
    off = [run for run in runs if run.mode == "off"]
    rate_on = statistics.median(run.load.rate for run in on)
    rate_off = statistics.median(run.load.rate for run in off)
    overhead = (1 - rate_on / rate_off) * 100

    def median(mode_runs: list[Run], p: int) -> float:
        return statistics.median(run.load.percentile(p) for run in mode_runs)

    print()
    print(f"| recording | req/s (median of {len(on)}) | p50 ms | p95 ms | audit events written / requests |")
    print("|---|---:|---:|---:|---|")
    for mode, mode_runs, rate in (("on", on, rate_on), ("off", off, rate_off)):
        events = sum(run.events for run in mode_runs)
        requests = sum(run.load.requests for run in mode_runs)
        print(
            f"| {mode} | {rate:.1f} | {median(mode_runs, 50):.1f} | {median(mode_runs, 95):.1f} "
            f"| {events} / {requests} |"
        )
    print()
    print(f"Overhead of recording (1 - on/off, medians): {overhead:.1f}%  (target: under 15%)")

    wrong = [run for run in on if run.events != run.load.requests] + [run for run in off if run.events != 0]
    if wrong:
        raise SystemExit(
            "Audit rows do not match: every request with recording on must write exactly one event, "
            f"and none with it off. Runs: {[(run.mode, run.load.requests, run.events) for run in wrong]}"
        )
    print("Audit rows: one per request in every run with recording on, none with it off.")
    print(
        f"Client: one process of {connections} threads on the same cores; its CPU share is in the per-run lines "
        "(more in the faster mode, so the overhead is if anything understated by about their difference)."
    )


if __name__ == "__main__":
    main()
