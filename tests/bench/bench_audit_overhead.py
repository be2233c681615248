"""What recording the audit trail costs: GET /api/v1/me under load on gunicorn, recording on and off.

Run on demand from the repository root; it is not part of the test suite:

    .venv/bin/python tests/bench/bench_audit_overhead.py [--seconds 20] [--connections 8] [--rounds 3]

It needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust authentication) and RabbitMQ at
127.0.0.1:5672 (guest/guest). It creates a fresh database ``riskshare_bench``, migrates it and
seeds the demo cast into it, with secrets generated into a temporary directory (never
production mode). Then it starts the web process as deployed (``gunicorn --config
platform/gunicorn.conf.py``, two sync workers) on a free loopback port, once per run, with
recording on (``config.settings``) or off (``tests.bench.settings_no_audit``): on, off, then
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
import http.client
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Run as a script from the repository root: tests/bench is on the path, the root is not.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.bench.serving import (
    BIN,
    BROKER_URL,
    DATABASE_URL,
    KEY_PATTERN,
    REPO,
    Load,
    Run,
    audit_event_count,
    drop_database,
    free_port,
    machine_busy_share,
    machine_jiffies,
    recreate_database,
)

PATH = "/api/v1/me"
SETTINGS = {"on": "config.settings", "off": "tests.bench.settings_no_audit"}
WORKERS = 2
WARMUP_SECONDS = 3.0
# Busier than this before a run, with nothing of ours running, and something else shares the cores.
BACKGROUND_WARNING = 0.05
# How long gunicorn may take to answer its first request, and to stop after SIGTERM
# (its graceful_timeout is 30 s).
START_TIMEOUT = 60.0
STOP_TIMEOUT = 40.0


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
                    print_run(run, cores, background)
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
    with gunicorn(SETTINGS[mode], env, log) as port:
        drive(port, key, connections, WARMUP_SECONDS)
        before = audit_event_count()
        load = drive(port, key, connections, seconds)
        events = audit_event_count() - before
    # Every start boots WORKERS workers; more boots are max_requests recycling workers mid-run.
    boots = log.read_text().count("Booting worker")
    return Run(mode, load, events, boots - WORKERS)


@contextmanager
def gunicorn(settings_module: str, env: dict[str, str], log: Path) -> Iterator[int]:
    """Gunicorn as platform/Procfile starts it, on a free loopback port; stopped with SIGTERM on exit."""
    port = free_port()
    command = [str(BIN / "gunicorn"), "--config", "platform/gunicorn.conf.py", "config.wsgi:application"]
    server_env = {**env, "DJANGO_SETTINGS_MODULE": settings_module, "RISKSHARE_BIND": f"127.0.0.1:{port}"}
    with log.open("w") as output:
        server = subprocess.Popen(  # noqa: S603  (our own gunicorn and arguments)
            command, cwd=REPO, env=server_env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_until_serving(server, port, log)
        yield port
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            raise SystemExit(f"gunicorn did not stop within {STOP_TIMEOUT:g} s of SIGTERM; killed it") from None


def wait_until_serving(server: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with status {server.returncode}:\n{log.read_text()[-3000:]}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer /healthz within {START_TIMEOUT:g} s:\n{log.read_text()[-3000:]}")


def drive(port: int, key: str, connections: int, seconds: float) -> Load:
    """GET /api/v1/me from ``connections`` threads for ``seconds``; every answer must be 200.

    A request in flight at the deadline is finished and counted, and the clock stops when the
    last thread has finished, so the count matches the audit rows written exactly.
    """
    headers = {"Authorization": f"Api-Key {key}"}
    latencies: list[list[float]] = [[] for _ in range(connections)]
    failures: list[str] = []
    start = threading.Barrier(connections + 1)
    deadline = 0.0

    def client(mine: list[float]) -> None:
        # Gunicorn's sync workers close the connection after each answer ("Connection: close");
        # http.client then opens a new one for the next request, as a real client would.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        start.wait()
        try:
            while not failures and time.perf_counter() < deadline:
                sent = time.perf_counter()
                connection.request("GET", PATH, headers=headers)
                response = connection.getresponse()
                body = response.read()
                if response.status != 200:
                    failures.append(f"HTTP {response.status}: {body[:300]!r}")
                    return
                mine.append(time.perf_counter() - sent)
        except (OSError, http.client.HTTPException) as error:
            failures.append(f"{type(error).__name__}: {error}")
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(mine,)) for mine in latencies]
    for thread in threads:
        thread.start()
    busy_before, total_before = machine_jiffies()
    cpu_before = time.process_time()
    began = time.perf_counter()
    deadline = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    client_cpu = time.process_time() - cpu_before
    busy_after, total_after = machine_jiffies()
    if failures:
        raise SystemExit(f"GET {PATH} failed under load: {failures[0]}")
    every = [latency for mine in latencies for latency in mine]
    machine_busy = (busy_after - busy_before) / max(total_after - total_before, 1)
    return Load(len(every), elapsed, every, client_cpu / elapsed, machine_busy)


def print_run(run: Run, cores: int, background: float) -> None:
    load = run.load
    print(
        f"  recording {run.mode:<3}  {load.requests:>6} requests  {load.rate:6.1f} req/s  "
        f"p50 {load.percentile(50):5.1f} ms  p95 {load.percentile(95):5.1f} ms  "
        f"CPU busy {load.machine_busy:4.0%} (client {load.client_cpu / cores:3.0%}, before {background:3.0%})  "
        f"audit events +{run.events}  worker restarts {run.worker_boots}"
    )
    if background > BACKGROUND_WARNING:
        print(f"    the machine was {background:.0%} busy before this run: other work disturbs its figures")


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
