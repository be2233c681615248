"""Gunicorn settings for the web process.

Started as ``gunicorn --config platform/gunicorn.conf.py config.wsgi:application`` from the
repository root (the Procfile) or from /app (the image). This file reads gunicorn's own
environment variables only; the platform's settings are read by config/settings.py.
"""

import os
from pathlib import Path


def _worker_count(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        count = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number of web worker processes, not {raw!r}.") from None
    if count < 1:
        raise SystemExit(f"{name} must be at least 1, not {count}.")
    return count


# Loopback by default, so a laptop run is not reachable from the network; the image sets
# RISKSHARE_BIND=0.0.0.0:8000 because there the container network does the isolating.
bind = os.environ.get("RISKSHARE_BIND", "127.0.0.1:8000")

# Gunicorn parses WEB_CONCURRENCY itself as it starts, before reading this file: text that is
# not a number stops it with a traceback ending in "ValueError: invalid literal for int()", a
# negative number with "Value must be positive". This check words the refusal plainly for zero,
# and for anything else should gunicorn ever stop reading the variable itself.
workers = _worker_count("WEB_CONCURRENCY", 2)
# Sync workers, one request per process: requests are short (work longer than a request goes
# to Celery and answers 202), and each request is one database transaction on its own connection.
worker_class = "sync"
threads = 1

# A request still running after a minute is a bug or a stuck connection: the worker is killed
# and replaced rather than left holding a database transaction.
timeout = 60
# On SIGTERM (deploy, Ctrl-C) requests in flight get this long to finish.
graceful_timeout = 30
# Only threaded and async workers keep connections open; sync workers close each one after
# its response, so this takes effect only if worker_class changes.
keepalive = 5

# Restart each worker after about twenty thousand requests, bounding slow memory growth without
# restarting every few seconds under load (a restart re-imports Django); the jitter
# keeps the workers from all restarting at the same moment.
max_requests = 20000
max_requests_jitter = 2000

# Logs go to the process's own stdout and stderr, where honcho, Docker or systemd collect them;
# there are no log files to rotate.
accesslog = "-"
errorlog = "-"

# Addresses allowed to set X-Forwarded-Proto for gunicorn's idea of the scheme. Django reads the
# header itself when TRUST_X_FORWARDED_PROTO is on, so this matters mostly for a bare gunicorn.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Each worker imports the application after the fork: no database connection or broker socket
# opened in the master is shared between workers, and a HUP reload picks up new code.
preload_app = False

# The heartbeat file is touched constantly; on tmpfs that never waits on a disk (in a container,
# /tmp is on the overlay file system). macOS has no /dev/shm and keeps the default.
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108 - tmpfs by intent

# Gunicorn 25.1+ opens a control socket under $HOME by default. Nothing here uses it (gunicornc),
# the image's user has no home, and two gunicorns under one user would share its path.
control_socket_disable = True
