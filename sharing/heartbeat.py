"""Workers' heartbeat: every Celery worker records that it is alive, so that a dead one is seen.

Without it nothing tells a job that a worker will take in a moment from one that no worker will
ever take: the job stays queued, and ``/readyz`` answered 200. Now ``/readyz`` reports
"Workers" down (the ``Workers`` check below, which config/health.py names) and the job pages
tell the member that no worker is running (portal/jobs.py) once no worker has been seen for
``WORKER_HEARTBEAT_STALE_SECONDS``.

A worker beats from a thread of its main process, started on Celery's ``worker_ready`` and
stopped on ``worker_shutdown``, every ``WORKER_HEARTBEAT_SECONDS``. Celery's own heartbeats are
events, which the filesystem broker cannot carry and ``--without-heartbeat`` turns off; a thread
beats on every broker and with every pool, ``--pool=solo`` included, whose main thread is busy
with the task it runs. The beat says that the worker process lives and reaches the database, not
that it is idle: a worker busy with a long job is seen, and the queued job waits its turn.
"""

import dataclasses
import logging
import socket
import threading
from datetime import datetime, timedelta
from typing import Any

from celery import signals
from django.conf import settings
from django.db import connection
from django.db.models import Max
from django.utils import timezone
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable

from sharing.choices import JobStatus
from sharing.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

# A worker not seen for this long is forgotten (containers get a new host name at each start).
FORGET_AFTER = timedelta(days=1)


def record_beat(node: str) -> None:
    """The worker ``node`` is alive now."""
    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(node=node, defaults={"seen_at": now})
    WorkerHeartbeat.objects.filter(seen_at__lt=now - FORGET_AFTER).delete()


def last_seen() -> datetime | None:
    """When any worker last said it was alive; None if none ever did (or not for a day)."""
    seen: datetime | None = WorkerHeartbeat.objects.aggregate(seen=Max("seen_at"))["seen"]
    return seen


def workers_running() -> bool:
    """Whether a worker has been seen within ``WORKER_HEARTBEAT_STALE_SECONDS``."""
    seen = last_seen()
    return seen is not None and timezone.now() - seen <= timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_SECONDS)


def waiting_for_a_worker(status: str) -> bool:
    """Whether a job in ``status`` (an upload's, an inspection's, a report's) waits for a worker
    that is not running: the pages and the API's job resources say so."""
    return status == JobStatus.QUEUED and not workers_running()


class Heartbeat(threading.Thread):
    """Records the worker's beat now and then every ``interval`` seconds, until stopped."""

    def __init__(self, node: str, interval: float) -> None:
        super().__init__(name="riskshare-heartbeat", daemon=True)
        self.node = node
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                record_beat(self.node)
            except Exception:  # A database down for a while must not end the beat for good.
                logger.warning("The worker could not record its heartbeat.", exc_info=True)
            finally:
                connection.close()  # This thread's own connection: none is held between beats.
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)


_running: list[Heartbeat] = []


@signals.worker_ready.connect
def start_beating(sender: Any = None, **kwargs: Any) -> None:
    node = str(getattr(sender, "hostname", "") or socket.gethostname())
    heartbeat = Heartbeat(node, settings.WORKER_HEARTBEAT_SECONDS)
    _running.append(heartbeat)
    heartbeat.start()


@signals.worker_shutdown.connect
def stop_beating(**kwargs: Any) -> None:
    while _running:
        _running.pop().stop()


@dataclasses.dataclass
class Workers(HealthCheck):  # type: ignore[misc]
    """A worker has recorded its heartbeat within ``WORKER_HEARTBEAT_STALE_SECONDS``."""

    def __repr__(self) -> str:
        return "Workers"

    def run(self) -> None:
        try:
            seen = last_seen()
        finally:
            connection.close()  # This runs in a thread of the probe's own; keep no connection in it.
        if seen is None:
            raise ServiceUnavailable("no worker has been seen")
        age = int((timezone.now() - seen).total_seconds())
        if age > settings.WORKER_HEARTBEAT_STALE_SECONDS:
            raise ServiceUnavailable(f"no worker seen for {age} s")
