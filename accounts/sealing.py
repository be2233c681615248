"""Sealing, verifying and proving the audit trail (docs/audit.md).

The sealer chains events that can no longer be joined by an earlier one, in
checkpoints of at most ``CHECKPOINT_SIZE`` events, each with a Merkle root and a
chain head signed by the platform's Ed25519 key. ``verify_trail`` recomputes
all of it from the rows; ``inclusion_proof`` exports what
``python -m accounts.auditproof`` checks with nothing but the public key.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts import auditproof
from accounts.models import AuditCheckpoint, AuditEvent, AuditSeal, AuditVerification

logger = logging.getLogger(__name__)

CHECKPOINT_SIZE = 10_000
# Any constant will do; it only keeps two sealers from running at once on PostgreSQL.
SEALER_LOCK = 0x52534B_A0D17


def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(settings.AUDIT_SIGNING_KEY))


def public_key() -> Ed25519PublicKey:
    return signing_key().public_key()


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_fields(event: AuditEvent) -> dict[str, Any]:
    """The event as it is hashed: every recorded field, by name."""
    return {
        "id": event.pk,
        "occurred_at": _timestamp(event.occurred_at),
        "txid": event.txid,
        "action": event.action,
        "outcome": event.outcome,
        "reason": event.reason,
        "institution_id": event.institution_id,
        "actor_type": event.actor_type,
        "actor_user_id": event.actor_user_id,
        "actor_key_id": event.actor_key_id,
        "actor_name": event.actor_name,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "purpose": event.purpose,
        "consent_reference": event.consent_reference,
        "subjects_count": event.subjects_count,
        "hits_count": event.hits_count,
        "request_id": event.request_id,
        "source_address": event.source_address,
    }


def checkpoint_fields(checkpoint: AuditCheckpoint) -> dict[str, Any]:
    return {
        "number": checkpoint.number,
        "first_seq": checkpoint.first_seq,
        "last_seq": checkpoint.last_seq,
        "horizon": checkpoint.horizon,
        "merkle_root": checkpoint.merkle_root,
        "chain_head": checkpoint.chain_head,
        "signed_at": _timestamp(checkpoint.signed_at),
        "key_id": checkpoint.key_id,
        "signature": checkpoint.signature,
    }


def _uses_transaction_ids() -> bool:
    return connection.vendor == "postgresql"


def _commit_key() -> str:
    """The column that orders events by when they could have committed (see CurrentTransactionId)."""
    return "txid" if _uses_transaction_ids() else "id"


def _oldest_open_transaction() -> int | None:
    """On PostgreSQL, the oldest transaction still running: every event below it has committed or never will."""
    if not _uses_transaction_ids():
        return None  # SQLite writers take turns: whatever is visible has committed, in id order.
    with connection.cursor() as cursor:
        cursor.execute("SELECT txid_snapshot_xmin(txid_current_snapshot())")
        (xmin,) = cursor.fetchone()
    return int(xmin)


def seal_pending() -> list[AuditCheckpoint]:
    """Seal every event that is ready, in checkpoints of at most CHECKPOINT_SIZE events."""
    checkpoints = []
    while (checkpoint := _seal_next_checkpoint()) is not None:
        checkpoints.append(checkpoint)
    return checkpoints


@transaction.atomic
def _seal_next_checkpoint() -> AuditCheckpoint | None:
    if _uses_transaction_ids():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEALER_LOCK])
    last = AuditCheckpoint.objects.order_by("-number").first()
    key = _commit_key()
    pending = AuditEvent.objects.filter(seal__isnull=True)
    if last is not None:
        # Below the last horizon every event was sealed; an unsealed one there was inserted
        # afterwards, and sealing it now would launder the insertion. verify_trail reports it.
        pending = pending.filter(**{f"{key}__gte": last.horizon})
    open_from = _oldest_open_transaction()
    if open_from is not None:
        pending = pending.filter(txid__lt=open_from)
    batch = list(pending.order_by(key, "id")[:CHECKPOINT_SIZE])
    if not batch:
        return None

    if open_from is not None:
        # A full batch may stop inside one transaction's events: promise only what lies below it.
        horizon = open_from if len(batch) < CHECKPOINT_SIZE else batch[-1].txid
    else:
        horizon = batch[-1].pk + 1
    assert horizon is not None
    previous = bytes.fromhex(last.chain_head) if last else auditproof.GENESIS
    first_seq = last.last_seq + 1 if last else 1
    digests, chain_hashes = [], []
    for event in batch:
        event_digest = auditproof.digest(event_fields(event))
        previous = auditproof.chain(previous, event_digest)
        digests.append(event_digest)
        chain_hashes.append(previous)

    private = signing_key()
    checkpoint = AuditCheckpoint(
        number=last.number + 1 if last else 1,
        first_seq=first_seq,
        last_seq=first_seq + len(batch) - 1,
        horizon=max(horizon, last.horizon) if last else horizon,
        merkle_root=auditproof.merkle_root(digests).hex(),
        chain_head=previous.hex(),
        signed_at=timezone.now(),
        key_id=auditproof.key_id(private.public_key()),
    )
    checkpoint.signature = auditproof.sign_checkpoint(checkpoint_fields(checkpoint), private)
    checkpoint.save(force_insert=True)
    AuditSeal.objects.bulk_create(
        AuditSeal(
            event=event,
            seq=first_seq + offset,
            event_digest=event_digest.hex(),
            chain_hash=chain_hash.hex(),
            checkpoint=checkpoint,
        )
        for offset, (event, event_digest, chain_hash) in enumerate(zip(batch, digests, chain_hashes, strict=True))
    )
    return checkpoint


@dataclass(frozen=True)
class Verification:
    intact: bool
    summary: str


def verify_trail() -> Verification:
    """Recompute every digest, chain hash, Merkle root and signature; name the first thing that is wrong."""
    public = public_key()
    expected_key = auditproof.key_id(public)
    previous = auditproof.GENESIS
    next_seq, events_checked, horizon = 1, 0, None
    checkpoints = AuditCheckpoint.objects.order_by("number")
    last: AuditCheckpoint | None = None
    for number, checkpoint in enumerate(checkpoints.iterator(), start=1):
        fields = checkpoint_fields(checkpoint)
        if checkpoint.number != number:
            return _broken(f"checkpoint {number} is missing (found {checkpoint.number} in its place)")
        if checkpoint.key_id != expected_key or not auditproof.signature_valid(fields, public):
            return _broken(f"checkpoint {number} does not carry a valid signature of key {expected_key}")
        if checkpoint.first_seq != next_seq or checkpoint.last_seq < checkpoint.first_seq:
            return _broken(
                f"checkpoint {number} covers entries {checkpoint.first_seq}-{checkpoint.last_seq}, "
                f"but entry {next_seq} comes next"
            )
        seals = list(AuditSeal.objects.filter(seq__range=(checkpoint.first_seq, checkpoint.last_seq)).order_by("seq"))
        events = AuditEvent.objects.in_bulk([seal.event_id for seal in seals])
        digests = []
        for seal in seals:
            if seal.seq != next_seq:
                return _broken(f"entry {next_seq} of checkpoint {number} is missing")
            event = events.get(seal.event_id)
            if event is None:
                return _broken(f"event {seal.event_id} (entry {seal.seq}) was deleted")
            event_digest = auditproof.digest(event_fields(event))
            if event_digest.hex() != seal.event_digest:
                return _broken(f"event {event.pk} (entry {seal.seq}) was changed")
            previous = auditproof.chain(previous, event_digest)
            if previous.hex() != seal.chain_hash or seal.checkpoint_id != checkpoint.pk:
                return _broken(f"the chain breaks at event {event.pk} (entry {seal.seq})")
            digests.append(event_digest)
            next_seq += 1
        if next_seq != checkpoint.last_seq + 1:
            return _broken(f"entries {next_seq}-{checkpoint.last_seq} of checkpoint {number} are missing")
        if auditproof.merkle_root(digests).hex() != checkpoint.merkle_root or previous.hex() != checkpoint.chain_head:
            return _broken(f"checkpoint {number} does not match the events it seals")
        if horizon is not None and checkpoint.horizon < horizon:
            return _broken(f"checkpoint {number} moves the horizon backwards")
        horizon, last, events_checked = checkpoint.horizon, checkpoint, events_checked + len(seals)

    if _uses_transaction_ids():
        anonymous = AuditEvent.objects.filter(txid__isnull=True).order_by("id").first()
        if anonymous is not None:
            return _broken(f"event {anonymous.pk} has no transaction id: it was not written by the platform")
    stray = AuditSeal.objects.filter(seq__gte=next_seq).order_by("seq").first()
    if stray is not None:
        return _broken(f"entry {stray.seq} (event {stray.event_id}) lies beyond the last checkpoint")
    if last is not None:
        inserted = _unsealed(AuditEvent.objects.all()).filter(**{f"{_commit_key()}__lt": last.horizon}).first()
        if inserted is not None:
            return _broken(f"event {inserted.pk} was inserted into the sealed part of the trail")
    pending = _unsealed(AuditEvent.objects.all()).count()
    tail = f", last checkpoint {last.number} signed {_timestamp(last.signed_at)}" if last else ""
    return Verification(
        True,
        f"audit trail intact: {events_checked} events in {last.number if last else 0} checkpoints{tail}; "
        f"{pending} events awaiting sealing",
    )


def check_held_checkpoint(held: dict[str, Any]) -> Verification:
    """Compare the trail with a signed checkpoint kept outside the database (from a proof, say).

    Deleting whole checkpoints at the tail leaves a trail that is consistent in
    itself; only a copy of a later checkpoint held elsewhere shows it.
    """
    if not auditproof.signature_valid(held, public_key()) or held.get("key_id") != auditproof.key_id(public_key()):
        return _broken("the checkpoint held outside does not carry the platform's signature")
    stored = AuditCheckpoint.objects.filter(number=held["number"]).first()
    if stored is None:
        return _broken(f"checkpoint {held['number']}, held outside, is missing: the trail was truncated")
    fields = checkpoint_fields(stored)
    if any(fields[name] != held[name] for name in auditproof.CHECKPOINT_FIELDS):
        return _broken(f"checkpoint {held['number']} differs from the copy held outside")
    return Verification(True, f"checkpoint {held['number']} matches the copy held outside")


def _unsealed(events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
    return events.filter(seal__isnull=True).order_by("id")


def _broken(problem: str) -> Verification:
    return Verification(False, f"audit trail NOT intact: {problem}")


def verify_and_record(held_checkpoints: Sequence[dict[str, Any]] = ()) -> Verification:
    """Run the full verification, and compare copies of checkpoints held outside if given.

    The outcome is logged and kept where operators see it (the admin).
    """
    result = verify_trail()
    for held in held_checkpoints:
        if not result.intact:
            break
        check = check_held_checkpoint(held)
        if not check.intact:
            result = check
    AuditVerification.objects.create(intact=result.intact, summary=result.summary)
    if result.intact:
        logger.info(result.summary)
    else:
        logger.error(result.summary)
    return result


class NotSealedYet(Exception):
    """The event exists but the sealer has not reached it yet."""


def inclusion_proof(event: AuditEvent) -> dict[str, Any]:
    seal = AuditSeal.objects.select_related("checkpoint").filter(event=event).first()
    if seal is None:
        raise NotSealedYet(event.pk)
    checkpoint = seal.checkpoint
    digests = [
        bytes.fromhex(value)
        for value in AuditSeal.objects.filter(checkpoint=checkpoint)
        .order_by("seq")
        .values_list("event_digest", flat=True)
    ]
    path = auditproof.inclusion_path(digests, seal.seq - checkpoint.first_seq)
    return {
        "event": event_fields(event),
        "seq": seal.seq,
        "path": [step.hex() for step in path],
        "checkpoint": checkpoint_fields(checkpoint),
    }
