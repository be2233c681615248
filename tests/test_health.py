"""Liveness and readiness, as a load balancer and monitoring see them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sharing import heartbeat
from sharing.models import WorkerHeartbeat
from tests.workers import start_worker, wait_for

# The probes run their checks in threads of their own, which see only committed rows.
pytestmark = pytest.mark.django_db(transaction=True)


def readyz(client, path="/readyz"):
    return client.get(path, HTTP_ACCEPT="application/json")


def backdate_heartbeats(settings, seconds_past_the_bound: int) -> None:
    stale = timezone.now() - timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_SECONDS + seconds_past_the_bound)
    WorkerHeartbeat.objects.update(seen_at=stale)


def test_healthz_answers_while_the_process_serves(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.worker
def test_a_running_worker_makes_readyz_report_workers_up(client, empty_test_queue, tmp_path):
    log = tmp_path / "worker.log"
    worker = start_worker(log)
    try:
        wait_for(lambda: readyz(client).status_code == 200, seconds=60)
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    assert readyz(client).json() == {"Database": "OK", "Broker": "OK", "Workers": "OK"}
    assert WorkerHeartbeat.objects.get().node.startswith("celery@"), log.read_text()


def test_readyz_reports_workers_down_when_none_was_ever_seen(client):
    response = readyz(client)

    assert response.status_code == 503
    assert response.json() == {
        "Database": "OK",
        "Broker": "OK",
        "Workers": "Unavailable: no worker has been seen",
    }


def test_readyz_reports_workers_down_when_none_was_seen_within_the_bound(client, settings):
    heartbeat.record_beat("celery@gone")
    backdate_heartbeats(settings, 1)

    response = readyz(client)

    assert response.status_code == 503
    assert response.json()["Workers"].startswith("Unavailable: no worker seen for ")
    assert readyz(client, "/readyz?format=text").text.count("Workers: Unavailable") == 1


def test_one_live_worker_among_dead_ones_is_enough(client, settings):
    heartbeat.record_beat("celery@gone")
    backdate_heartbeats(settings, 60)
    heartbeat.record_beat("celery@alive")

    assert readyz(client).status_code == 200


def test_the_traffic_check_ignores_workers_so_queries_go_on_while_they_are_down(client):
    assert readyz(client).status_code == 503

    response = readyz(client, "/readyz/traffic")

    assert response.status_code == 200
    assert response.json() == {"Database": "OK", "Broker": "OK"}


def test_readyz_reports_a_stopped_broker_as_503_naming_it(client, settings):
    heartbeat.record_beat("celery@alive")
    # Nothing listens on port 1: the broker is as good as stopped.
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}

    for path in ("/readyz", "/readyz/traffic"):
        response = readyz(client, path)

        assert response.status_code == 503
        body = response.json()
        assert body["Broker"].startswith("Unavailable")
        assert [name for name, state in body.items() if state != "OK"] == ["Broker"]


def test_readyz_as_plain_text_for_humans(client):
    heartbeat.record_beat("celery@alive")

    response = client.get("/readyz", HTTP_ACCEPT="text/plain")

    assert response.status_code == 200
    assert "Broker: OK" in response.text
    assert "Workers: OK" in response.text


def test_heartbeats_of_workers_gone_for_a_day_are_forgotten(settings):
    heartbeat.record_beat("celery@old")
    WorkerHeartbeat.objects.update(seen_at=timezone.now() - timedelta(days=2))

    heartbeat.record_beat("celery@new")

    assert list(WorkerHeartbeat.objects.values_list("node", flat=True)) == ["celery@new"]
