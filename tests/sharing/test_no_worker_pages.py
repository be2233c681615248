"""A queued job's page says plainly when no worker is running, instead of asking for patience."""

import re
from datetime import date, timedelta

import pytest
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
