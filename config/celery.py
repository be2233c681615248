"""The Celery app. Workers and beat start with ``celery -A config``."""

import logging
import logging.config
import os
from typing import Any

from celery import Celery
from celery.signals import setup_logging
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("riskshare")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def log_as_django_does(loglevel: int | str | None = None, **kwargs: Any) -> None:
    """Workers and beat log through ``settings.LOGGING``, not through handlers of Celery's own.

    So their records pass the same filters as the web's: the request id, and the scrubbing of
    exceptions (config/logs.py) that keeps Celery's ``raised unexpected: <exception>`` lines free of
    what a member sent. ``--loglevel`` still sets the level, as operators expect of Celery.
    """
    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)
