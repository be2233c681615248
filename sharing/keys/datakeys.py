"""Data keys: each institution's key for its flag details, wrapped by the platform's master key.

Unwrapped keys are kept in memory per process for a short while, never written
anywhere. Only ``details_of`` and the storing path use them, always for the
flag's own institution.
"""

import json
import time
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Institution
from sharing.keys import envelope
from sharing.models import DataKey, Flag

CACHE_SECONDS = 300
_cache: dict[tuple[int, bytes], tuple[float, bytes]] = {}


def master_keys() -> envelope.MasterKeys:
    """The master keys of flag details, as the settings read them from DETAILS_MASTER_KEY at start."""
    return envelope.MasterKeys.of(settings.DETAILS_MASTER_KEYS)


def key_context(institution_id: int) -> bytes:
    return f"riskshare:data-key:v1:{institution_id}".encode()


def details_context(institution_id: int, reference: str) -> bytes:
    """Binds sealed details to their institution and reference: moved elsewhere, they do not open."""
    return f"riskshare:flag-details:v1:{institution_id}:{reference}".encode()


def data_key_for(institution: Institution) -> tuple[DataKey, bytes]:
    """The institution's data key, made on first use, and its plain bytes."""
    record = DataKey.objects.filter(institution=institution).first()
    if record is None:
        version, wrapped = envelope.wrap(master_keys(), envelope.new_data_key(), key_context(institution.pk))
        try:
            with transaction.atomic():
                record = DataKey.objects.create(institution=institution, wrapped=wrapped, master_version=version)
        except IntegrityError:  # Another request made it first: use theirs.
            record = DataKey.objects.get(institution=institution)
    return record, unwrapped(record)


def unwrapped(record: DataKey) -> bytes:
    cache_key = (record.master_version, bytes(record.wrapped))
    hit = _cache.get(cache_key)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    key = envelope.unwrap(
        master_keys(), record.master_version, bytes(record.wrapped), key_context(record.institution_id)
    )
    _cache[cache_key] = (time.monotonic() + CACHE_SECONDS, key)
    return key


def details_of(flag: Flag) -> dict[str, object] | None:
    """The flag's details in plain text, for its own institution's eyes only."""
    if flag.details is None or flag.details_key is None or flag.reference is None:
        return None
    key = unwrapped(flag.details_key)
    plain = envelope.open_sealed(key, bytes(flag.details), details_context(flag.institution_id, flag.reference))
    value: dict[str, object] = json.loads(plain)
    return value


def rewrap_data_keys(now: datetime | None = None) -> int:
    """Re-wrap every data key under the current master key; the details themselves are untouched.

    Each key is re-wrapped in its own short transaction on a locked row, so the
    platform keeps running: a request either sees the old wrapping with the old
    master key (still configured) or the new one.
    """
    master = master_keys()
    done = 0
    for pk in DataKey.objects.exclude(master_version=master.version).values_list("pk", flat=True).order_by("pk"):
        with transaction.atomic():
            record = DataKey.objects.select_for_update().get(pk=pk)
            if record.master_version == master.version:
                continue
            context = key_context(record.institution_id)
            plain = envelope.unwrap(master, record.master_version, bytes(record.wrapped), context)
            record.master_version, record.wrapped = envelope.wrap(master, plain, context)
            record.rewrapped_at = now or timezone.now()
            record.save(update_fields=["master_version", "wrapped", "rewrapped_at"])
            done += 1
    _cache.clear()
    return done
