"""A queued job's page, and its API resource, say plainly when no worker is running, instead of
asking for patience."""

import re
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sharing import heartbeat
from sharing.models import Report, WorkerHeartbeat
from tests.factories import InspectionFactory, UploadFactory

pytestmark = pytest.mark.django_db

NO_WORKER = "No worker is running, so this job has not started."
NO_WORKER_ZH = "当前没有运行中的后台任务进程"


def job_page(cast, client, kind: str, status: str = "queued", language: str = "en") -> str:
    """The page of a job of ``kind`` in ``status``, as the person who may read it sees it."""
    if kind == "upload":
        job = UploadFactory.create(institution=cast.alpha.institution, status=status)
        client.force_login(cast.alpha["contributor"])
        url = f"/uploads/{job.pk}/"
    elif kind == "inspection":
        job = InspectionFactory.create(institution=cast.alpha.institution, status=status)
        client.force_login(cast.alpha["analyst"])
        url = f"/inspections/{job.pk}/"
    else:
        report = Report.objects.create(
            starts_on=date(2026, 10, 1), ends_on=date(2026, 10, 31), trigger="requested", status=status, steps_total=4
        )
        client.force_login(cast.regulator["regulator_staff"])
        url = f"/reports/{report.pk}/"
    response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    text: str = response.text
    return text


def says_no_worker(page: str) -> bool:
    """Whether the no-worker notice is shown (present and not hidden)."""
    notice = re.search(r'<p id="job-no-worker"[^>]*>', page)
    assert notice is not None, "every job page in progress carries the notice, for job.js to hide"
    return " hidden" not in notice.group(0)


KINDS = ["upload", "inspection", "report"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_queued_job_says_that_no_worker_is_running_when_none_was_ever_seen(kind, cast, client):
    page = job_page(cast, client, kind)

    assert says_no_worker(page)
    assert NO_WORKER in page
    assert "tell the platform operator" in page
    assert "Reload the page" not in page


@pytest.mark.parametrize("kind", KINDS)
def test_a_queued_job_says_so_in_chinese_too(kind, cast, client):
    page = job_page(cast, client, kind, language="zh-hans")

    assert says_no_worker(page)
    assert NO_WORKER_ZH in page


@pytest.mark.parametrize("kind", KINDS)
def test_a_queued_job_says_so_when_the_last_worker_was_seen_beyond_the_bound(kind, cast, client, settings):
    heartbeat.record_beat("celery@gone")
    bound = timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_SECONDS + 1)
    WorkerHeartbeat.objects.update(seen_at=timezone.now() - bound)

    assert says_no_worker(job_page(cast, client, kind))


@pytest.mark.parametrize("kind", KINDS)
def test_a_queued_job_waits_quietly_while_a_worker_is_seen(kind, cast, client):
    heartbeat.record_beat("celery@alive")

    page = job_page(cast, client, kind)

    assert not says_no_worker(page)
    assert "Reload the page to see the progress." in page


@pytest.mark.parametrize("kind", KINDS)
def test_a_running_job_does_not_blame_the_workers(kind, cast, client):
    assert not says_no_worker(job_page(cast, client, kind, status="running"))


API = {"upload": "/api/v1/uploads", "inspection": "/api/v1/inspections", "report": "/api/v1/reports"}


def make_job(cast, kind: str, status: str) -> int:
    if kind == "upload":
        return UploadFactory.create(institution=cast.alpha.institution, status=status).pk
    if kind == "inspection":
        return InspectionFactory.create(institution=cast.alpha.institution, status=status).pk
    report = Report.objects.create(
        starts_on=date(2026, 10, 1), ends_on=date(2026, 10, 31), trigger="requested", status=status, steps_total=4
    )
    return report.pk


def reader(cast, kind: str):
    return {
        "upload": cast.alpha["contributor"],
        "inspection": cast.alpha["analyst"],
        "report": cast.regulator["regulator_staff"],
    }[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_the_api_job_says_it_waits_for_a_worker_only_while_queued_with_none_running(kind, cast, client_for):
    client = client_for(reader(cast, kind))
    queued, running = make_job(cast, kind, "queued"), make_job(cast, kind, "running")

    def waiting(pk: int) -> bool:
        answer: bool = client.get(f"{API[kind]}/{pk}").json()["waiting_for_worker"]
        return answer

    assert (waiting(queued), waiting(running)) == (True, False)
    heartbeat.record_beat("celery@alive")
    assert (waiting(queued), waiting(running)) == (False, False)


@pytest.mark.parametrize("kind", KINDS)
def test_a_list_reads_the_heartbeat_once_however_many_jobs_are_queued(kind, cast, client_for):
    client = client_for(reader(cast, kind))
    make_job(cast, kind, "queued")
    with CaptureQueriesContext(connection) as one:
        first = client.get(API[kind]).json()["results"]
    for _ in range(4):
        make_job(cast, kind, "queued")
    with CaptureQueriesContext(connection) as five:
        every = client.get(API[kind]).json()["results"]

    assert [job["waiting_for_worker"] for job in first] == [True]
    assert [job["waiting_for_worker"] for job in every] == [True] * 5
    assert len(five) == len(one)
