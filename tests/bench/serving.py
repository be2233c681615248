"""What the load benchmarks share: the benchmark database, a run's figures, ports, the machine's load.

``bench_audit_overhead.py`` and ``bench_query.py`` drive gunicorn with client threads; the pieces
that are the same for both live here.
"""

import re
import socket
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DATABASE = "riskshare_bench"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
KEY_PATTERN = re.compile(r"rs_[a-z0-9]{8}\.[A-Za-z0-9_-]{43}")


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


def recreate_database() -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))


def drop_database() -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE)))


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


def machine_jiffies() -> tuple[int, int]:
    """Busy and total CPU time of the whole machine so far (Linux /proc/stat), in clock ticks."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user time
    return total - idle, total
