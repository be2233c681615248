"""Sealing, verification and proofs: edits, deletions, insertions and reordering are detected."""

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from accounts import auditproof, sealing
from accounts.audit import record
from accounts.choices import AuditAction
from accounts.models import AuditCheckpoint, AuditEvent, AuditSeal, AuditVerification
from memberkit import signatures

# Real commits: on PostgreSQL the sealer takes only events of transactions that have ended,
# and a test's own transaction would hold back every event it made.
pytestmark = pytest.mark.django_db(transaction=True)
on_postgresql = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the trigger is PostgreSQL's")


def make_events(cast, count: int) -> list[AuditEvent]:
    made = []
    for _ in range(count):
        event = record(AuditAction.ME_VIEW, actor=cast.alpha["analyst"])
        assert event is not None
        made.append(event)
    return made


@contextmanager
def behind_the_triggers() -> Iterator[None]:
    """What a table owner could do: switch the append-only triggers off for a moment."""
    tables = ("accounts_auditevent", "accounts_auditseal", "accounts_auditcheckpoint")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
    yield
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")


def verify() -> sealing.Verification:
    return sealing.verify_trail()


def test_sealing_chains_and_signs_and_verification_passes(cast):
    make_events(cast, 7)

    [checkpoint] = sealing.seal_pending()

    assert (checkpoint.number, checkpoint.first_seq, checkpoint.last_seq) == (1, 1, 7)
    assert AuditSeal.objects.count() == 7
    assert sealing.seal_pending() == []  # nothing new: no empty checkpoint
    result = verify()
    assert result.intact, result.summary
    assert result.summary.startswith("audit trail intact: 7 events in 1 checkpoints")


def test_later_events_go_into_the_next_checkpoint_continuing_the_chain(cast):
    make_events(cast, 3)
    sealing.seal_pending()
    make_events(cast, 2)

    [second] = sealing.seal_pending()

    first = AuditCheckpoint.objects.get(number=1)
    assert (second.number, second.first_seq, second.last_seq) == (2, 4, 5)
    assert second.horizon >= first.horizon
    assert verify().intact


def test_large_backlogs_are_cut_into_checkpoints(cast, monkeypatch):
    monkeypatch.setattr(sealing, "CHECKPOINT_SIZE", 4)
    make_events(cast, 10)

    checkpoints = sealing.seal_pending()

    assert [(c.first_seq, c.last_seq) for c in checkpoints] == [(1, 4), (5, 8), (9, 10)]
    assert verify().intact


@on_postgresql
@pytest.mark.parametrize(
    "statement", ["UPDATE accounts_auditevent SET action = 'x'", "DELETE FROM accounts_auditevent"]
)
def test_the_database_refuses_to_change_or_delete_events(cast, statement):
    make_events(cast, 1)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)

    assert AuditEvent.objects.filter(action=AuditAction.ME_VIEW).count() == 1


@on_postgresql
def test_the_database_refuses_to_change_seals_and_checkpoints(cast):
    make_events(cast, 1)
    sealing.seal_pending()

    for statement in ("UPDATE accounts_auditseal SET chain_hash = 'x'", "DELETE FROM accounts_auditcheckpoint"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)


def test_an_edited_event_is_named(cast):
    events = make_events(cast, 5)
    sealing.seal_pending()

    with behind_the_triggers():
        AuditEvent.objects.filter(pk=events[2].pk).update(actor_name="someone-else")

    result = verify()
    assert not result.intact
    assert f"event {events[2].pk} (entry 3) was changed" in result.summary


def test_deleted_events_after_a_checkpoint_are_detected(cast):
    events = make_events(cast, 5)
    sealing.seal_pending()

    with behind_the_triggers():
        AuditSeal.objects.filter(event_id__in=[e.pk for e in events[3:]]).delete()
        AuditEvent.objects.filter(pk__in=[e.pk for e in events[3:]]).delete()

    result = verify()
    assert not result.intact
    assert "entries 4-5 of checkpoint 1 are missing" in result.summary


def test_an_insertion_into_the_sealed_range_is_detected(cast):
    make_events(cast, 3)
    [checkpoint] = sealing.seal_pending()

    forged = AuditEvent(action=AuditAction.LOGIN, actor_type="system")
    if connection.vendor == "postgresql":
        forged.save()
        with behind_the_triggers():
            AuditEvent.objects.filter(pk=forged.pk).update(txid=checkpoint.horizon - 1)
    else:
        forged.pk = 0  # below every sealed id: SQLite rows commit in id order
        forged.save(force_insert=True)

    result = verify()
    assert not result.intact
    assert f"event {forged.pk} was inserted into the sealed part" in result.summary
    assert AuditVerification.objects.count() == 0  # verify_trail alone records nothing
    assert sealing.seal_pending() == []  # the sealer does not launder it into the chain


def test_reordering_is_detected(cast):
    events = make_events(cast, 4)
    sealing.seal_pending()
    first, second = AuditSeal.objects.get(event=events[0]), AuditSeal.objects.get(event=events[1])

    with behind_the_triggers(), connection.constraint_checks_disabled():
        AuditSeal.objects.filter(pk=first.pk).update(seq=10**12)
        AuditSeal.objects.filter(pk=second.pk).update(seq=first.seq)
        AuditSeal.objects.filter(pk=first.pk).update(seq=second.seq)

    result = verify()
    assert not result.intact
    assert "entry 1" in result.summary


def test_a_forged_checkpoint_signature_is_detected(cast):
    make_events(cast, 2)
    [checkpoint] = sealing.seal_pending()

    with behind_the_triggers():
        AuditCheckpoint.objects.filter(pk=checkpoint.pk).update(signature="00" * 64)

    assert "checkpoint 1 does not carry a valid signature" in verify().summary


def test_verify_audit_command_exits_zero_with_one_line_or_names_the_first_problem(cast, capsys):
    events = make_events(cast, 3)
    sealing.seal_pending()

    call_command("verify_audit")
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert out.startswith("audit trail intact: 3 events")

    with behind_the_triggers():
        AuditEvent.objects.filter(pk=events[0].pk).update(reason="edited")
    with pytest.raises(CommandError, match=f"event {events[0].pk} \\(entry 1\\) was changed"):
        call_command("verify_audit")
    assert list(AuditVerification.objects.values_list("intact", flat=True)) == [False, True]


def test_inclusion_proof_verifies_and_forgeries_do_not(cast, client_for):
    events = make_events(cast, 6)
    sealing.seal_pending()
    auditor = client_for(cast.alpha["auditor"])

    proof = auditor.get(f"/api/v1/audit/events/{events[4].pk}/proof").json()
    public = auditproof.load_public_key(auditor.get("/api/v1/audit/public-key").json()["public_key_pem"])

    assert auditproof.verify_proof(proof, public) is None
    edited = json.loads(json.dumps(proof))
    edited["event"]["actor_name"] = "someone-else"
    assert auditproof.verify_proof(edited, public) == "the event is not in the checkpoint's Merkle tree"
    moved = json.loads(json.dumps(proof))
    moved["seq"] -= 1
    assert auditproof.verify_proof(moved, public) is not None
    resigned = json.loads(json.dumps(proof))
    resigned["checkpoint"]["merkle_root"] = auditproof.merkle_root([auditproof.digest(edited["event"])]).hex()
    assert auditproof.verify_proof(resigned, public) == "the checkpoint's signature is not valid"


def test_proof_is_checked_offline_with_nothing_but_the_public_key(cast, client_for, tmp_path):
    events = make_events(cast, 3)
    sealing.seal_pending()
    auditor = client_for(cast.alpha["auditor"])
    (tmp_path / "proof.json").write_text(auditor.get(f"/api/v1/audit/events/{events[1].pk}/proof").content.decode())
    (tmp_path / "key.pem").write_text(auditor.get("/api/v1/audit/public-key").json()["public_key_pem"])
    forged = json.loads((tmp_path / "proof.json").read_text())
    forged["event"]["action"] = "auth.login"
    (tmp_path / "forged.json").write_text(json.dumps(forged))

    (tmp_path / "signatures.py").write_text(Path(signatures.__file__).read_text())
    # The copied module alone, with Django made unimportable: a member's machine needs nothing more.
    no_django = "import runpy, sys; sys.modules['django'] = None; runpy.run_path('signatures.py', run_name='__main__')"

    def check(name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603
            [sys.executable, "-I", "-c", no_django, name, "key.pem"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    good, bad = check("proof.json"), check("forged.json")

    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith(f"valid: event {events[1].pk} (me.view) is entry 2 of checkpoint 1")
    assert bad.returncode == 1
    assert "NOT VALID" in bad.stderr


def test_proof_of_an_event_not_sealed_yet_is_a_409(cast, client_for):
    [event] = make_events(cast, 1)

    response = client_for(cast.alpha["auditor"]).get(f"/api/v1/audit/events/{event.pk}/proof")

    assert response.status_code == 409
    assert response.json()["code"] == "not_sealed_yet"


def test_public_key_is_published_to_anyone(client, db):
    body = client.get("/api/v1/audit/public-key").json()

    assert body["algorithm"] == "Ed25519"
    assert body["key_id"] == auditproof.key_id(sealing.public_key())
    assert auditproof.load_public_key(body["public_key_hex"]) is not None


@on_postgresql
def test_an_event_of_a_transaction_still_open_is_sealed_late_without_looking_like_tampering(cast):
    """The open transaction inserted first (lower id) but commits last; nothing is sealed past it."""
    import psycopg  # a second connection of its own, as another web process would have

    settings_dict = connection.settings_dict
    other = psycopg.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"],
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or 5432,
        password=settings_dict["PASSWORD"] or None,
    )
    with other.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_auditevent (occurred_at, action, outcome, reason, actor_type, actor_name, "
            "target_type, target_id, purpose, consent_reference, request_id) "
            "VALUES (now(), 'me.view', 'success', '', 'system', '', '', '', '', '', '') RETURNING id"
        )
        row = cursor.fetchone()
    assert row is not None
    late_id = row[0]
    committed = make_events(cast, 3)
    assert all(event.pk > late_id for event in committed)

    assert sealing.seal_pending() == []  # everything waits behind the open transaction
    other.commit()
    other.close()
    [checkpoint] = sealing.seal_pending()

    assert checkpoint.last_seq == 4
    assert AuditSeal.objects.filter(event_id=late_id).exists()
    result = verify()
    assert result.intact, result.summary


def test_truncating_whole_checkpoints_is_caught_by_a_copy_held_outside(cast, client_for, tmp_path):
    make_events(cast, 2)
    sealing.seal_pending()
    events = make_events(cast, 2)
    sealing.seal_pending()
    proof = client_for(cast.alpha["auditor"]).get(f"/api/v1/audit/events/{events[0].pk}/proof").content
    (tmp_path / "proof.json").write_bytes(proof)
    call_command("verify_audit", "--checkpoint", str(tmp_path / "proof.json"))

    with behind_the_triggers():
        AuditSeal.objects.filter(checkpoint__number=2).delete()
        AuditCheckpoint.objects.filter(number=2).delete()
        AuditEvent.objects.filter(pk__in=[e.pk for e in events]).delete()

    assert verify().intact  # consistent in itself: only the copy held outside shows the loss
    with pytest.raises(CommandError, match="checkpoint 2, held outside, is missing"):
        call_command("verify_audit", "--checkpoint", str(tmp_path / "proof.json"))


@on_postgresql
def test_truncating_the_trail_is_refused(cast):
    make_events(cast, 2)
    sealing.seal_pending()

    with connection.cursor() as cursor:
        cursor.execute("SET riskshare.allow_audit_truncate = off")
    try:
        for table in ("accounts_auditseal", "accounts_auditcheckpoint", "accounts_auditevent"):
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE {table} CASCADE")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET riskshare.allow_audit_truncate = on")
    assert verify().intact


@on_postgresql
def test_an_event_written_without_a_transaction_id_is_named(cast):
    make_events(cast, 1)
    sealing.seal_pending()
    forged = AuditEvent.objects.create(action=AuditAction.LOGIN, actor_type="system")
    with behind_the_triggers():
        AuditEvent.objects.filter(pk=forged.pk).update(txid=None)

    assert f"event {forged.pk} has no transaction id" in verify().summary


def test_a_failed_comparison_with_a_held_checkpoint_is_kept_for_operators(cast, client_for, tmp_path):
    [event] = make_events(cast, 1)
    sealing.seal_pending()
    proof = json.loads(client_for(cast.alpha["auditor"]).get(f"/api/v1/audit/events/{event.pk}/proof").content)
    proof["checkpoint"]["number"] = 99  # breaks the signature: not the platform's checkpoint
    (tmp_path / "held.json").write_text(json.dumps(proof))

    with pytest.raises(CommandError, match="does not carry the platform's signature"):
        call_command("verify_audit", "--checkpoint", str(tmp_path / "held.json"))
    assert AuditVerification.objects.get().intact is False
