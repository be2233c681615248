"""Liveness and readiness, as a load balancer sees them."""

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_answers_while_the_process_serves(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_database_and_broker_reachable(client):
    response = client.get("/readyz", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response.json() == {"Database": "OK", "Broker": "OK"}


def test_readyz_reports_a_stopped_broker_as_503_naming_it(client, settings):
    # Nothing listens on port 1: the broker is as good as stopped.
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}

    response = client.get("/readyz", HTTP_ACCEPT="application/json")

    assert response.status_code == 503
    body = response.json()
    assert body["Broker"].startswith("Unavailable")
    assert [name for name, state in body.items() if state != "OK"] == ["Broker"]


def test_readyz_as_plain_text_for_humans(client):
    response = client.get("/readyz", HTTP_ACCEPT="text/plain")

    assert response.status_code == 200
    assert "Broker: OK" in response.text
