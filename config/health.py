"""Liveness and readiness probes.

``/healthz`` answers as long as the process serves requests. ``/readyz`` asks
django-health-check to reach the database and the Celery broker, and whether a
worker has been seen lately (``sharing.heartbeat.Workers``, named by path so that config
imports no domain module); it answers 503 naming what is down, for monitoring. ``/readyz/traffic`` asks only what this
web process needs to serve, the database and the broker, for a load balancer:
with every worker down, queries still work, and taking every web process out of
rotation for it would turn a stalled queue into an outage.
"""

import dataclasses
import datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from health_check.base import HealthCheck
from health_check.checks import Database as DatabaseCheck
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView
from kombu import Connection


@dataclasses.dataclass
class Database(DatabaseCheck):  # type: ignore[misc]
    """django-health-check's ``SELECT 1``, named plainly for monitoring rules."""

    def __repr__(self) -> str:
        return "Database"


@dataclasses.dataclass
class Broker(HealthCheck):  # type: ignore[misc]
    """Open and close a connection to the Celery broker named in settings."""

    timeout: datetime.timedelta = dataclasses.field(default=datetime.timedelta(seconds=3), repr=False)

    def __repr__(self) -> str:
        return "Broker"

    def run(self) -> None:
        connection = Connection(
            settings.CELERY_BROKER_URL,
            transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
            connect_timeout=self.timeout.total_seconds(),
        )
        try:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=int(self.timeout.total_seconds()))
        except Exception as error:  # Any failure to connect means "down"; the reason is logged, not shown.
            raise ServiceUnavailable("the broker cannot be reached") from error
        finally:
            connection.release()


class ReadinessView(HealthCheckView):  # type: ignore[misc]
    """Everything the platform needs to do its work, for monitoring: 503 names what is down."""

    checks: tuple[str, ...] = (
        "config.health.Database",
        "config.health.Broker",
        "sharing.heartbeat.Workers",  # the workers' heartbeat check lives with the heartbeat
    )

    async def get(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        response: HttpResponse = await super().get(request, *args, **kwargs)
        if response.status_code == 500:
            # A probe reads 503 as "not ready, try elsewhere"; 500 would read as a bug.
            response.status_code = 503
        return response


class TrafficReadinessView(ReadinessView):
    """What this web process needs to serve requests, for a load balancer's traffic check."""

    checks = (
        "config.health.Database",
        "config.health.Broker",
    )


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})
