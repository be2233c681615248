"""Audit actions come from one registry, AuditAction, and adding one needs no migration of accounts."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, models
from django.db.migrations.executor import MigrationExecutor

import accounts.audit
import accounts.choices
from accounts import sealing
from accounts.audit import record
from accounts.choices import AuditAction
from accounts.models import AuditEvent, AuditSeal

BEFORE_REGISTRY = ("accounts", "0011_flag_summary_action")  # the last migration with the choices in the column


def registry_with(code: str, label: str) -> type[models.TextChoices]:
    """AuditAction as it would be after someone added ``code`` to it."""
    members = [(action.name, (action.value, action.label)) for action in AuditAction]
    # The stubs know only the one-label form of the functional API; Django takes (value, label) too.
    added: type[models.TextChoices] = models.TextChoices("AuditAction", [*members, ("ADDED", (code, label))])  # type: ignore[call-overload]
    return added


def migrations_pending_in_accounts() -> bool:
    try:
        call_command("makemigrations", "accounts", "--check", "--dry-run", stdout=StringIO())
    except SystemExit as exit:  # --check exits 1 when a migration would be made
        return exit.code != 0
    return False


@pytest.mark.django_db
def test_record_refuses_an_action_the_registry_does_not_hold(cast):
    before = AuditEvent.objects.count()

    with pytest.raises(ValueError, match=r"'flag\.teleport' is not an audit action"):
        record("flag.teleport", actor=cast.alpha["analyst"])  # type: ignore[arg-type]

    assert AuditEvent.objects.count() == before


@pytest.mark.django_db
def test_record_takes_a_registered_code_given_as_plain_text(cast):
    event = record("me.view", actor=cast.alpha["analyst"])  # type: ignore[arg-type]

    assert event is not None
    assert AuditEvent.objects.get(pk=event.pk).action == AuditAction.ME_VIEW


def test_an_event_shows_its_action_by_the_registry_label_or_by_its_code_if_unknown():
    assert AuditEvent(action="apikey.issue").get_action_display() == str(AuditAction.APIKEY_ISSUE.label)
    assert AuditEvent(action="gone.action").get_action_display() == "gone.action"


@pytest.mark.django_db
def test_adding_an_action_to_the_registry_needs_no_migration(cast, monkeypatch):
    field = AuditEvent._meta.get_field("action")
    assert field.choices is None
    assert "choices" not in field.deconstruct()[3]
    added = registry_with("flag.teleport", "Teleported a flag")
    monkeypatch.setattr(accounts.choices, "AuditAction", added)
    monkeypatch.setattr(accounts.audit, "AuditAction", added)

    assert not migrations_pending_in_accounts()
    event = record("flag.teleport", actor=cast.alpha["analyst"])  # type: ignore[arg-type]
    assert event is not None
    assert AuditEvent.objects.get(pk=event.pk).action == "flag.teleport"

    # The check is not blind: a column that carried the registry's choices, as before, would need one.
    monkeypatch.setattr(field, "choices", added.choices)
    assert migrations_pending_in_accounts()


def migrate(target: list[tuple[str, str]] | None = None) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(target or executor.loader.graph.leaf_nodes())
    return MigrationExecutor(connection)  # a fresh loader sees what is applied now


# Real commits, as migrations and the sealer run: on PostgreSQL the sealer takes only ended transactions.
@pytest.mark.django_db(transaction=True)
def test_events_sealed_before_the_column_lost_its_choices_still_verify(cast, monkeypatch):
    analyst = cast.alpha["analyst"]
    try:
        executor = migrate([BEFORE_REGISTRY])
        assert BEFORE_REGISTRY in executor.loader.applied_migrations
        assert ("accounts", "0012_audit_action_registry") not in executor.loader.applied_migrations
        OldEvent = executor.loader.project_state([BEFORE_REGISTRY]).apps.get_model("accounts", "AuditEvent")
        assert OldEvent._meta.get_field("action").choices  # the column as it was
        for action in AuditAction:
            OldEvent.objects.create(
                action=action.value,
                actor_type="person",
                actor_user_id=analyst.pk,
                actor_name=analyst.username,
                institution_id=analyst.institution_id,
            )
        with monkeypatch.context() as patch:
            # The running code of the time: its model carried the choices too.
            patch.setattr(AuditEvent._meta.get_field("action"), "choices", AuditAction.choices)
            [checkpoint] = sealing.seal_pending()
        assert checkpoint.last_seq == len(AuditAction)
    finally:
        migrate()

    assert AuditSeal.objects.count() == len(AuditAction)
    out = StringIO()
    call_command("verify_audit", stdout=out)  # raises CommandError when the trail is not intact
    assert out.getvalue().startswith(f"audit trail intact: {len(AuditAction)} events in 1 checkpoints")


@pytest.mark.django_db
def test_the_admin_lists_filters_and_shows_actions_by_their_labels(cast, client):
    operator = cast.operator["operator"]
    issued = record(AuditAction.APIKEY_ISSUE, actor=operator)
    record(AuditAction.LOGIN, actor=operator)
    assert issued is not None
    label = str(AuditAction.APIKEY_ISSUE.label)
    client.force_login(operator)

    listing = client.get("/admin/accounts/auditevent/")
    filtered = client.get("/admin/accounts/auditevent/", {"action__exact": "apikey.issue"})
    page = client.get(f"/admin/accounts/auditevent/{issued.pk}/change/")

    assert label in listing.text
    assert "?action__exact=apikey.issue" in listing.text  # the filter offers the registry's actions
    assert list(filtered.context["cl"].result_list) == [issued]
    assert f'<div class="readonly">{label}</div>' in page.text
