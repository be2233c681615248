"""What the benchmarks share: the benchmark database, gunicorn, the load, a run's figures, the machine's load.

``bench_audit_overhead.py`` and ``bench_query.py`` drive gunicorn with client threads; the pieces
that are the same for both live here. ``bench_inspection.py``, ``bench_upload.py``,
``bench_first_file.py``, ``bench_report.py``, ``bench_dashboard.py`` and ``bench_retention.py`` run the
platform in their own process on a fresh database (``fresh_platform``).
"""

import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DATABASE = "riskshare_bench"
# The PostgreSQL server and the broker the benchmarks use. A benchmark holds long transactions, so
# it can be sent to a server of its own (a second cluster on another port) and a RabbitMQ vhost of
# its own through these two variables; the databases on that server keep the benchmarks' names.
SERVER_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
ADMIN_URL = f"{SERVER_URL}/postgres"
DATABASE_URL = f"{SERVER_URL}/{DATABASE}"
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
KEY_PATTERN = re.compile(r"rs_[a-z0-9]{8}\.[A-Za-z0-9_-]{43}")
# How long gunicorn may take to answer its first request, and to stop after SIGTERM
# (its graceful_timeout is 30 s).
START_TIMEOUT = 60.0
STOP_TIMEOUT = 40.0
# Busier than this before a run, with nothing of ours running, and something else shares the cores.
BACKGROUND_WARNING = 0.05
# A request as the client sends it: method, path, body, headers.
Request = tuple[str, str, bytes | None, dict[str, str]]


@dataclass
class Load:
    requests: int
    seconds: float
    latencies: list[float]
    client_cpu: float
    machine_busy: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: int) -> float:
        return statistics.quantiles(self.latencies, n=100)[p - 1] * 1000


@dataclass
class Run:
    mode: str
    load: Load
    events: int
    worker_boots: int
    # CPU seconds the web server's workers and the database server spent per request, where measured.
    server_cpu: float | None = None


def recreate_database(database: str = DATABASE) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def drop_database(database: str = DATABASE) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


@contextmanager
def fresh_platform(database: str = DATABASE, *, keep: bool = False, **environment: str) -> Iterator[Path]:
    """The platform pointed at a fresh benchmark database and a work folder of its own (yielded),
    through the environment Django reads at setup; the database is dropped at the end, whatever
    happens, unless ``keep`` (to look into it afterwards). ``environment`` adds to or overrides the
    defaults (a broker, a queue, a pepper)."""
    work = Path(tempfile.mkdtemp(prefix="riskshare-bench-"))
    os.environ.update(
        {
            "DATABASE_URL": f"{SERVER_URL}/{database}",
            "RISKSHARE_VAR_DIR": str(work / "var"),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "LOG_LEVEL": "WARNING",
            **environment,
        }
    )
    sys.path.insert(0, str(REPO))
    recreate_database(database)
    try:
        yield work
    finally:
        from django.db import connections

        connections.close_all()
        if not keep:
            drop_database(database)


@contextmanager
def celery_worker(queue: str) -> Iterator[None]:
    """A Celery worker process (solo pool) on ``queue``, with the environment ``fresh_platform`` set, up
    and waiting when the block starts; stopped at its end."""
    worker = subprocess.Popen(  # noqa: S603  (our own interpreter and arguments)
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", queue, "--loglevel=WARNING"],
        cwd=REPO,
        env={**os.environ},
    )
    try:
        time.sleep(5)  # the worker is up and waiting before the caller's clock starts
        yield
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:  # still in a task that will not end soon: the caller gave up on it
            worker.kill()
            worker.wait()


def audit_event_count() -> int:
    with psycopg.connect(DATABASE_URL) as connection:
        row = connection.execute("SELECT count(*) FROM accounts_auditevent").fetchone()
    assert row is not None
    return int(row[0])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def machine_busy_share(seconds: float) -> float:
    """How busy the machine is over ``seconds`` while the benchmark itself is idle: other people's work."""
    busy_before, total_before = machine_jiffies()
    time.sleep(seconds)
    busy_after, total_after = machine_jiffies()
    return (busy_after - busy_before) / max(total_after - total_before, 1)


def quiet_machine(patience: float) -> float:
    """Wait up to ``patience`` seconds for a second in which the machine is less than
    ``BACKGROUND_WARNING`` busy with other people's work; how busy the last second was."""
    deadline = time.monotonic() + patience
    while (busy := machine_busy_share(1.0)) > BACKGROUND_WARNING and time.monotonic() < deadline:
        pass
    return busy


def postmaster_pid() -> int | None:
    """The benchmark server's postmaster, if it runs on this machine and its data directory can be read."""
    try:
        with psycopg.connect(DATABASE_URL) as connection:
            row = connection.execute("SHOW data_directory").fetchone()
        assert row is not None
        return int((Path(row[0]) / "postmaster.pid").read_text().split("\n", 1)[0])
    except (psycopg.Error, OSError, ValueError):
        return None


def server_cpu_seconds(roots: list[int]) -> float:
    """CPU time (user and system) of the processes ``roots`` and all their descendants so far, in seconds
    (Linux /proc): the web server's workers and the database's backends, whatever else the machine runs."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        parents[int(entry.name)] = int(fields[1])
        ticks[int(entry.name)] = int(fields[11]) + int(fields[12])  # utime, stime
    tree = {pid for pid in roots if pid in ticks}
    grown = True
    while grown:
        children = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= children
        grown = bool(children)
    return sum(ticks[pid] for pid in tree) / os.sysconf("SC_CLK_TCK")


def machine_jiffies() -> tuple[int, int]:
    """Busy and total CPU time of the whole machine so far (Linux /proc/stat), in clock ticks."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user time
    return total - idle, total


def send(port: int, request: Request) -> tuple[int, bytes]:
    method, path, body, headers = request
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@contextmanager
def gunicorn(env: dict[str, str], log: Path, pids: list[int] | None = None) -> Iterator[int]:
    """Gunicorn as platform/Procfile starts it, on a free loopback port; stopped with SIGTERM on exit.

    ``env`` names the settings module (DJANGO_SETTINGS_MODULE) along with the rest; the master's
    process id is added to ``pids`` if given (``server_cpu_seconds`` counts its workers).
    """
    port = free_port()
    command = [str(BIN / "gunicorn"), "--config", "platform/gunicorn.conf.py", "config.wsgi:application"]
    server_env = {**env, "RISKSHARE_BIND": f"127.0.0.1:{port}"}
    with log.open("w") as output:
        server = subprocess.Popen(  # noqa: S603  (our own gunicorn and arguments)
            command, cwd=REPO, env=server_env, stdout=output, stderr=subprocess.STDOUT
        )
    if pids is not None:
        pids.append(server.pid)
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
        try:
            if send(port, ("GET", "/healthz", None, {}))[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer /healthz within {START_TIMEOUT:g} s:\n{log.read_text()[-3000:]}")


def drive(port: int, requests: list[Request], connections: int, seconds: float) -> Load:
    """Send ``requests`` round and round from ``connections`` threads for ``seconds``; every answer must be 200.

    A request in flight at the deadline is finished and counted, and the clock stops when the
    last thread has finished, so the count matches the audit rows written exactly.
    """
    latencies: list[list[float]] = [[] for _ in range(connections)]
    failures: list[str] = []
    start = threading.Barrier(connections + 1)
    deadline = 0.0

    def client(number: int, mine: list[float]) -> None:
        # Gunicorn's sync workers close the connection after each answer ("Connection: close");
        # http.client then opens a new one for the next request, as a real client would.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        # Each thread starts elsewhere in the list, always on a hit, so hits and misses stay even.
        index = (number * len(requests) // connections) & ~1
        start.wait()
        try:
            while not failures and time.perf_counter() < deadline:
                method, path, body, headers = requests[index]
                index = (index + 1) % len(requests)
                sent = time.perf_counter()
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                answer = response.read()
                if response.status != 200:
                    failures.append(f"HTTP {response.status}: {answer[:300]!r}")
                    return
                mine.append(time.perf_counter() - sent)
        except (OSError, http.client.HTTPException) as error:
            failures.append(f"{type(error).__name__}: {error}")
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(number, mine)) for number, mine in enumerate(latencies)]
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
        raise SystemExit(f"{requests[0][0]} {requests[0][1].split('?')[0]} failed under load: {failures[0]}")
    every = [latency for mine in latencies for latency in mine]
    machine_busy = (busy_after - busy_before) / max(total_after - total_before, 1)
    return Load(len(every), elapsed, every, client_cpu / elapsed, machine_busy)


def print_run(label: str, run: Run, cores: int, background: float) -> None:
    """One run's line: ``label`` (the mode, as each benchmark names it), rate, latencies, the machine's load."""
    load = run.load
    print(
        f"  {label}  {load.requests:>6} requests  {load.rate:6.1f} req/s  "
        f"p50 {load.percentile(50):5.1f} ms  p95 {load.percentile(95):5.1f} ms  "
        f"CPU busy {load.machine_busy:4.0%} (client {load.client_cpu / cores:3.0%}, before {background:3.0%})  "
        f"audit events +{run.events}  worker restarts {run.worker_boots}"
        + (f"  server CPU {run.server_cpu * 1000:4.1f} ms/request" if run.server_cpu is not None else "")
    )
    if background > BACKGROUND_WARNING:
        print(f"    the machine was {background:.0%} busy before this run: other work disturbs its figures")
