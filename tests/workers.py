"""Worker processes of the tests' own, which a test may kill, and waiting for what they do."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import signals
from django.conf import settings
from django.db import connection
from django.db.models import Model
from django.utils import timezone

from tests.conftest import TEST_QUEUE

ROOT = Path(__file__).resolve().parent.parent


def wait_for(condition: Callable[[], bool], seconds: float = 120.0) -> None:
    """Poll ``condition`` until it holds, or fail the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


@contextmanager
def finishing(name: str, seconds: float = 60.0) -> Iterator[dict[str, Any]]:
    """Wait, when the block ends, until the tests' in-process worker has finished a task named ``name``.

    Waits for the task's end (Celery's ``task_postrun``, sent after the task returned or raised and
    its transactions closed), never for some state a job passes through on the way. The block
    sends the task, directly or through other tasks; what it returned is yielded's ``retval``.
    """
    finished = threading.Event()
    outcome: dict[str, Any] = {}

    def on_postrun(task: Any, retval: Any = None, state: str = "", **kwargs: Any) -> None:
        if task.name == name and not finished.is_set():
            outcome.update(retval=retval, state=state)
            finished.set()

    signals.task_postrun.connect(on_postrun, weak=False)
    try:
        yield outcome
        if not finished.wait(seconds):
            raise AssertionError(f"the worker did not finish {name} within {seconds:.0f} s")
    finally:
        signals.task_postrun.disconnect(on_postrun)
    assert outcome["state"] == "SUCCESS", outcome


def run_on_worker(task: Any, *args: Any, seconds: float = 60.0, **options: Any) -> Any:
    """Send ``task`` through the broker to the tests' in-process worker; what it returned, once it has finished."""
    with finishing(task.name, seconds) as outcome:
        task.apply_async(args, **options)
    return outcome["retval"]


def database_url() -> str:
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    host = f"{config['HOST'] or '127.0.0.1'}:{config['PORT'] or 5432}"
    return f"postgres://{config['USER']}{password}@{host}/{config['NAME']}"


def start_worker(log: Path, environment: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A worker process of its own on the test database and queue, so that a test can kill it."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_DEFAULT_QUEUE": TEST_QUEUE,
        "UPLOAD_CHUNK_ROWS": "500",
        **(environment or {}),
    }
    return subprocess.Popen(  # noqa: S603  (our own interpreter and arguments)
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "-Q",
            TEST_QUEUE,
            "--without-gossip",
            "--without-mingle",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def kill_worker_when(condition: Callable[[], bool], log: Path, environment: dict[str, str] | None = None) -> None:
    """Start a worker of the tests' own and kill it (SIGKILL, no goodbye) as soon as ``condition`` holds."""
    worker = start_worker(log, environment)
    try:
        wait_for(condition)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()


@contextmanager
def second_worker(log: Path, environment: dict[str, str] | None = None) -> Iterator[None]:
    """A fresh worker of the tests' own for the block, stopped when it ends."""
    worker = start_worker(log, environment)
    try:
        yield
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def hands_on_at_once() -> bool:
    """Whether the broker hands a dead worker's unacknowledged task to the next one at once (RabbitMQ);
    with other brokers the stall sweep does it."""
    return settings.CELERY_BROKER_URL.startswith("amqp")


def stall(model: type[Model], pk: int) -> None:
    """Date a job's heartbeat an hour back, so that the stall sweep resumes it without waiting."""
    model._default_manager.filter(pk=pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
