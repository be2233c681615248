"""The audit trail: events, the seals that chain them, and signed checkpoints.

Every table here is append-only. On PostgreSQL a trigger refuses UPDATE and
DELETE, and the application's database role holds INSERT and SELECT only
(docs/operations.md). The sealer never changes an event: it adds a seal row.
docs/audit.md explains the design and what it detects.
"""

from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.choices import ActorType, AuditAction, AuditOutcome
from accounts.models.membership import ApiKey, Institution, User


class CurrentTransactionId(models.Func):
    """The id of the inserting transaction, assigned by PostgreSQL.

    The sealer seals only events of transactions that have ended, which it learns
    by comparing this id with the oldest transaction still open. SQLite has no
    such id and needs none: its writers take turns, so rows commit in id order.
    """

    output_field = models.BigIntegerField()
    template = "NULL"

    def as_postgresql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any) -> Any:
        return self.as_sql(compiler, connection, template="txid_current()", **extra_context)


class AuditEvent(models.Model):
    """Who did what, for whom, when and from where: one row per access or change.

    Never holds a raw borrower identifier or a member token: targets are the
    platform's own object ids, and purposes and consent references are the
    caller's own codes.
    """

    # Every index costs every request an index write: the table keeps three (the primary key,
    # institution with newest first for readers, and the sealer's transaction order).
    occurred_at = models.DateTimeField(_("time"), default=timezone.now)
    txid = models.BigIntegerField(null=True, editable=False, db_default=CurrentTransactionId())
    # A code from AuditAction, which record() checks. The column keeps no choices, so that adding an
    # action to the registry needs no migration; get_action_display() reads the label from it.
    action = models.CharField(_("action"), max_length=48)
    outcome = models.CharField(_("outcome"), max_length=16, choices=AuditOutcome.choices, default=AuditOutcome.SUCCESS)
    reason = models.CharField(_("reason"), max_length=64, blank=True)
    institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("institution"),
        db_index=False,  # led by the (institution, -id) index below
        db_constraint=False,
    )
    actor_type = models.CharField(_("actor type"), max_length=16, choices=ActorType.choices)
    # No database constraints: each would lock the institution's, person's or key's row on every
    # request. The ids are history, kept as they were; institutions, people and keys are never deleted.
    actor_user = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, related_name="+", db_index=False, db_constraint=False
    )
    actor_key = models.ForeignKey(
        ApiKey, on_delete=models.PROTECT, null=True, related_name="+", db_index=False, db_constraint=False
    )
    actor_name = models.CharField(_("actor"), max_length=150, blank=True)
    target_type = models.CharField(_("target type"), max_length=32, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    purpose = models.CharField(_("purpose"), max_length=32, blank=True)
    consent_reference = models.CharField(_("consent reference"), max_length=128, blank=True)
    subjects_count = models.PositiveIntegerField(_("subjects asked"), null=True)
    hits_count = models.PositiveIntegerField(_("hits"), null=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    source_address = models.GenericIPAddressField(_("source address"), null=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [
            models.Index(fields=["institution", "-id"]),
            models.Index(fields=["txid", "id"]),
            # A member's latest queries (its dashboard) without walking past its other events;
            # only query events are in it, so only they pay for it.
            models.Index(
                fields=["institution", "-id"], condition=models.Q(action="match.query"), name="audit_member_queries"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.outcome} by {self.actor_name or self.actor_type}"

    def get_action_display(self) -> str:
        """The action's label, as Django would give it for a field with choices: the code if unknown."""
        try:
            return str(AuditAction(self.action).label)
        except ValueError:
            return self.action


class AuditCheckpoint(models.Model):
    """A sealed range of the chain: its Merkle root and chain head, signed with the platform's key.

    ``horizon`` promises that every event whose commit key (the transaction id on
    PostgreSQL, the row id on SQLite) lies below it is sealed at or before this
    checkpoint; an unsealed event below it can only have been inserted afterwards.
    """

    number = models.PositiveBigIntegerField(_("number"), unique=True)
    first_seq = models.PositiveBigIntegerField()
    last_seq = models.PositiveBigIntegerField()
    horizon = models.BigIntegerField()
    merkle_root = models.CharField(max_length=64)
    chain_head = models.CharField(max_length=64)
    signed_at = models.DateTimeField(_("signed"))
    key_id = models.CharField(max_length=16)
    signature = models.CharField(max_length=128)

    class Meta:
        ordering = ["number"]
        verbose_name = _("audit checkpoint")
        verbose_name_plural = _("audit checkpoints")

    def __str__(self) -> str:
        return f"checkpoint {self.number}: events {self.first_seq}-{self.last_seq}"


class AuditSeal(models.Model):
    """An event's place in the chain: its sequence number, its digest when sealed, the chain hash up to it."""

    event = models.OneToOneField(AuditEvent, on_delete=models.PROTECT, primary_key=True, related_name="seal")
    seq = models.PositiveBigIntegerField(unique=True)
    event_digest = models.CharField(max_length=64)
    chain_hash = models.CharField(max_length=64)
    checkpoint = models.ForeignKey(AuditCheckpoint, on_delete=models.PROTECT, related_name="seals")

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"seal {self.seq} of event {self.event_id}"


class AuditVerification(models.Model):
    """The outcome of each full verification, for operators to see in the admin."""

    ran_at = models.DateTimeField(default=timezone.now)
    intact = models.BooleanField()
    summary = models.TextField()

    class Meta:
        ordering = ["-ran_at"]
        verbose_name = _("audit verification")
        verbose_name_plural = _("audit verifications")

    def __str__(self) -> str:
        return f"{self.ran_at:%Y-%m-%d %H:%M} {'intact' if self.intact else 'FAILED'}"
