"""The standing cast: two member institutions, a regulator and the operator, each with its people."""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from rest_framework.test import APIClient

from accounts import services
from accounts.choices import InstitutionKind, Role, Scope
from accounts.models import ApiKey, Institution, User
from tests.factories import InstitutionFactory, UserFactory

PASSWORD = "a long and unguessable passphrase"
MEMBER_ROLES = (Role.INSTITUTION_ADMIN, Role.CONTRIBUTOR, Role.ANALYST, Role.AUDITOR)


@dataclass
class Team:
    institution: Institution
    people: dict[str, User] = field(default_factory=dict)

    def __getitem__(self, role: str) -> User:
        return self.people[role]


@dataclass
class Cast:
    alpha: Team
    beta: Team
    regulator: Team
    operator: Team


def _team(kind: str, roles: tuple[str, ...], label: str) -> Team:
    institution: Institution = InstitutionFactory.create(kind=kind, name_en=f"{label} Ltd.", name_zh=f"{label}公司")
    people: dict[str, User] = {
        role: UserFactory.create(institution=institution, roles=[role], username=f"{label}-{role}") for role in roles
    }
    return Team(institution, people)


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    """Each test starts with an empty cache: a count cached by one test is no other test's."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def cast(db: None) -> Cast:
    return Cast(
        alpha=_team(InstitutionKind.MEMBER, MEMBER_ROLES, "alpha"),
        beta=_team(InstitutionKind.MEMBER, MEMBER_ROLES, "beta"),
        regulator=_team(InstitutionKind.REGULATOR, (Role.INSTITUTION_ADMIN, Role.REGULATOR_STAFF), "regulator"),
        operator=_team(InstitutionKind.OPERATOR, (Role.OPERATOR,), "operator"),
    )


@pytest.fixture
def analyst(cast: Cast) -> User:
    """Alpha's analyst, who can sign in with PASSWORD."""
    person = cast.alpha["analyst"]
    person.set_password(PASSWORD)
    person.save()
    return person


@pytest.fixture
def client_for() -> Callable[[User], APIClient]:
    """An API client signed in as a person (session authentication, as the portal uses)."""

    def make(user: User) -> APIClient:
        client = APIClient()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def key_client() -> Callable[..., tuple[APIClient, ApiKey]]:
    """An API client that sends ``Authorization: Api-Key ...`` for a freshly issued key."""

    def make(institution: Institution, scopes: list[str] | None = None, **options: Any) -> tuple[APIClient, ApiKey]:
        key, secret = services.issue_api_key(
            institution=institution, name="test system", scopes=scopes or [Scope.MATCH], **options
        )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
        return client, key

    return make


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


TEST_QUEUE = "riskshare-tests"


@pytest.fixture(autouse=True, scope="session")
def tasks_go_to_the_test_queue() -> Iterator[None]:
    """Whatever a test enqueues goes to a queue of the tests' own, never to a running platform's."""
    from config.celery import app

    default = app.conf.task_default_queue
    app.conf.task_default_queue = TEST_QUEUE
    yield
    app.conf.task_default_queue = default


@pytest.fixture
def empty_test_queue() -> None:
    """The tests' queue, declared and emptied, for a test that starts worker processes of its own."""
    from kombu import Queue

    from config.celery import app

    with app.connection_for_write() as conn:
        Queue(TEST_QUEUE)(conn.default_channel).declare()
        Queue(TEST_QUEUE)(conn.default_channel).purge()


@pytest.fixture
def celery_worker(transactional_db: None) -> Iterator[str]:
    """A real Celery worker, in a thread, consuming from the configured broker.

    It listens on a queue of its own, emptied first, so that a developer's
    running platform and the tests never take each other's messages; every task
    a test enqueues goes there (``tasks_go_to_the_test_queue``). The worker's database connection
    is its own, hence ``transactional_db``: it sees only committed rows.
    """
    import celery.contrib.testing.tasks  # noqa: F401  (the ping task start_worker expects)
    from celery.contrib.testing.worker import start_worker
    from kombu import Queue

    from config.celery import app

    with app.connection_for_write() as connection:
        Queue(TEST_QUEUE)(connection.default_channel).declare()
        Queue(TEST_QUEUE)(connection.default_channel).purge()
    with start_worker(
        app, pool="solo", concurrency=1, queues=[TEST_QUEUE], perform_ping_check=False, shutdown_timeout=30
    ):
        yield TEST_QUEUE


@receiver(connection_created)
def allow_flushing_the_audit_trail(sender: object, connection: BaseDatabaseWrapper, **kwargs: object) -> None:
    """Tests that really commit are flushed with TRUNCATE afterwards, which the trail refuses otherwise."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET riskshare.allow_audit_truncate = on")


@pytest.fixture
def naps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait the client makes (backoff, Retry-After, polling), recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    return waits
