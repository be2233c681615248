"""Contributing, resolving, withdrawing and retiring flags: every write to flags goes through here."""

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any, NamedTuple, Protocol, TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Model, Q, QuerySet
from django.utils import timezone

from accounts.audit import record
from accounts.choices import AuditAction
from accounts.models import Institution
from sharing.choices import FlagStatus
from sharing.flags.checking import CheckedFlag, Checker, expiry
from sharing.flags.storing import Stored, store_flags
from sharing.keys.tokens import Peppers, peppers, rekey
from sharing.messages import FieldError, message, refusal
from sharing.models import Flag, FlagToken, LoanToken, QueryRecord

REKEY_BATCH = 10_000


class BatchInvalid(Exception):
    """Some items of a batch are invalid: ``errors`` maps each item's index to its field errors."""

    def __init__(self, errors: dict[int, list[FieldError]]) -> None:
        super().__init__(f"{len(errors)} invalid item(s)")
        self.errors = errors


def checker() -> Checker:
    return Checker(peppers(), timezone.localdate())


class Referenced(Protocol):
    """A checked item of a batch: what tells two items apart is the member's reference."""

    @property
    def reference(self) -> str: ...


Checked = TypeVar("Checked", bound=Referenced)


def checked_batch(
    check: Callable[[Mapping[str, Any]], Checked | list[FieldError]],
    items: Sequence[Mapping[str, Any]],
    said_of: str = "",
) -> list[Checked]:
    """Every item of a batch checked, all or nothing: ``BatchInvalid`` if any is invalid or repeats an earlier
    item's reference (``duplicate_reference``, worded as for ``said_of``, naming the first such item)."""
    errors: dict[int, list[FieldError]] = {}
    checked: list[Checked] = []
    first_index: dict[str, int] = {}
    for index, item in enumerate(items):
        result = check(item)
        if isinstance(result, list):
            errors[index] = result
            continue
        if result.reference in first_index:
            errors[index] = [refusal("reference", "duplicate_reference", said_of, item=first_index[result.reference])]
            continue
        first_index[result.reference] = index
        checked.append(result)
    if errors:
        raise BatchInvalid(errors)
    return checked


def contribute(institution: Institution, items: Sequence[Mapping[str, Any]]) -> tuple[list[CheckedFlag], Stored]:
    """Check and upsert a batch of flags, all or nothing; ``BatchInvalid`` says what is wrong with which item."""
    flags = checked_batch(checker().check, items)
    return flags, store_flags(institution, flags)


def resolve(flag: Flag, end_date: date) -> Flag:
    """The event has ended (repaid, settled...): the flag stays, now retained until five years after the end."""
    if flag.status not in (FlagStatus.ACTIVE, FlagStatus.RESOLVED):
        raise ValidationError(
            {
                "status": ValidationError(
                    message("not_open", "resolve", status=flag.get_status_display()), code="not_open"
                )
            }
        )
    if end_date > timezone.localdate():
        raise ValidationError({"end_date": ValidationError(message("future_date"), code="future_date")})
    if end_date < flag.event_date:
        raise ValidationError({"end_date": ValidationError(message("end_before_event"), code="end_before_event")})
    flag.status = FlagStatus.RESOLVED
    flag.end_date = end_date
    flag.expires_on = expiry(end_date)
    flag.save(update_fields=["status", "end_date", "expires_on", "updated_at"])
    return flag


def withdraw(flag: Flag, reason: str) -> Flag:
    """The member takes the flag back (filed in error, say): it is no longer shared and its details are destroyed."""
    if flag.status == FlagStatus.EXPIRED:
        raise ValidationError({"status": ValidationError(message("not_open", "withdraw"), code="not_open")})
    if not reason.strip():
        raise ValidationError({"reason": ValidationError(message("required", "reason"), code="required")})
    flag.status = FlagStatus.WITHDRAWN
    flag.withdrawal_reason = reason.strip()[:500]
    _shred(flag)
    flag.save(
        update_fields=["status", "withdrawal_reason", "details", "details_key", "details_destroyed_at", "updated_at"]
    )
    return flag


@transaction.atomic
def change(flag: Flag, status: str, *, end_date: date | None = None, reason: str = "") -> tuple[Flag, AuditAction]:
    """Resolve (``status`` resolved, with ``end_date``) or withdraw (with ``reason``) a flag under a row
    lock, so two changes of one flag never interleave; the flag as changed, and its audit action."""
    locked = Flag.objects.select_related("details_key").select_for_update(of=("self",)).get(pk=flag.pk)
    if status == FlagStatus.RESOLVED:
        assert end_date is not None  # a resolution comes with its end date (the forms require it)
        return resolve(locked, end_date), AuditAction.FLAG_RESOLVE
    return withdraw(locked, reason), AuditAction.FLAG_WITHDRAW


def _shred(flag: Flag) -> None:
    if flag.details is not None:
        flag.details, flag.details_key, flag.details_destroyed_at = None, None, timezone.now()


class Retention(NamedTuple):
    """What one run of retention did: flags expired, details destroyed, flags erased."""

    expired: int
    shredded: int
    erased: int


ERASE_BATCH = 10_000


def apply_retention(today: date | None = None) -> Retention:
    """Retention (art. 16): negative information is kept five years from the end of the event, then deleted.

    Three steps, each in its own transactions, with one audit event per institution and transaction
    giving the number of flags: flags past their expiry date expire (``flag.expire``); expired and
    withdrawn flags lose their details (``flag.shred``); expired flags, and withdrawn ones past
    their expiry date, lose every one of their platform tokens (their ``FlagToken`` rows), the
    member's reference and the upload row they came from (``flag.erase``, in batches of
    ``ERASE_BATCH`` in the order of their ids; a flag its member is rewriting at that moment is
    skipped, and erased by the next run). What remains (institution, category, dates, amount band, notice, status) is
    what reports count; the platform can no longer tie it to a borrower.
    """
    today = today or timezone.localdate()
    open_statuses = [FlagStatus.ACTIVE, FlagStatus.RESOLVED]
    now = timezone.now()
    expired = _retire(
        AuditAction.FLAG_EXPIRE,
        Flag.objects.filter(status__in=open_statuses, expires_on__lte=today),
        status=FlagStatus.EXPIRED,
        updated_at=now,
    )
    shredded = _retire(
        AuditAction.FLAG_SHRED,
        Flag.objects.filter(Q(status=FlagStatus.EXPIRED) | Q(status=FlagStatus.WITHDRAWN), details__isnull=False),
        details=None,
        details_key=None,
        details_destroyed_at=now,
    )
    past = Q(status=FlagStatus.EXPIRED) | Q(status=FlagStatus.WITHDRAWN, expires_on__lte=today)
    # Erasing takes the reference and the tokens together: a flag with a reference is one not yet erased.
    due = Flag.objects.filter(past, reference__isnull=False)
    erased = 0
    after = 0  # each batch reads on from the last one's end, so the run reads the flags once
    while True:
        with transaction.atomic():
            # Locked first, then their tokens deleted: in the order a flag's upsert takes them.
            locked = due.filter(pk__gt=after).order_by("pk").select_for_update(skip_locked=True)
            batch = list(locked.values_list("pk", flat=True)[:ERASE_BATCH])
            if not batch:
                break
            after = batch[-1]
            FlagToken.objects.filter(flag_id__in=batch).delete()
            erased += _retire(
                AuditAction.FLAG_ERASE,
                Flag.objects.filter(pk__in=batch),
                reference=None,
                source_upload=None,
                source_row=None,
                updated_at=now,
            )
    return Retention(expired, shredded, erased)


def _retire(action: AuditAction, flags: QuerySet[Flag], **changes: Any) -> int:
    """One step of retention in its own transaction: the flags changed, one event per institution with their number."""
    with transaction.atomic():
        per_institution = list(flags.values("institution").annotate(n=Count("id")).order_by("institution"))
        changed = flags.update(**changes)
        institutions = Institution.objects.in_bulk([row["institution"] for row in per_institution])
        for row in per_institution:
            record(action, institution=institutions[row["institution"]], subjects=row["n"])
    return changed


def rekey_tokens(batch: int = REKEY_BATCH) -> tuple[int, int]:
    """Move every stored token on to the current pepper by chaining; member tokens are not needed.

    Every table that keeps platform tokens: flags' and loans' identifiers (``FlagToken``,
    ``LoanToken``) and query records. Works in short batches on locked rows, so it runs beside the
    live platform. A token at version v is keyed with peppers v+1 ... current in turn; erased flags
    and loans have none. Rows locked by a request at that moment are skipped; returns (moved, still
    on an older pepper).
    """
    chain = peppers()
    tables: tuple[type[Model], ...] = (FlagToken, LoanToken, QueryRecord)
    moved = sum(_rekey_table(model, chain, batch) for model in tables)
    if moved:
        record(AuditAction.TOKEN_REKEY, subjects=moved)
    left = sum(model._default_manager.filter(pepper_version__lt=chain.version).count() for model in tables)
    return moved, left


def _rekey_table(model: type[Model], chain: Peppers, batch: int) -> int:
    """Re-key one table's stale tokens, a batch of locked rows per transaction; how many moved."""
    stale = model._default_manager.filter(pepper_version__lt=chain.version)
    moved = 0
    while True:
        with transaction.atomic():
            rows: list[Any] = list(stale.select_for_update(skip_locked=True).order_by("pk")[:batch])
            if not rows:
                return moved
            for row in rows:
                token = bytes(row.token)
                for version in range(row.pepper_version + 1, chain.version + 1):
                    token = rekey(token, chain.by_version[version])
                row.token, row.pepper_version = token, chain.version
            if model is QueryRecord:
                # The day's record under the new pepper may exist already (the borrower was queried again
                # after the rotation): one record of the two is kept, as a second query adds none.
                model._default_manager.filter(pk__in=[row.pk for row in rows]).delete()
                model._default_manager.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
            else:
                model._default_manager.bulk_update(rows, ["token", "pepper_version"], batch_size=1000)
            moved += len(rows)
