"""Read queries that the API and the portal share."""

from dataclasses import dataclass, field

from django.db.models import Count, Prefetch, QuerySet

from sharing.models import Flag, FlagToken, UploadError

# A flag's identifier types, in the order they were given (a flag's tokens are written in that order), without
# their tokens: what a member's reading of its own flags shows of the borrower (``flag.identifier_types``).
IDENTIFIER_TYPES = Prefetch(
    "tokens", queryset=FlagToken.objects.order_by("id").only("id", "flag_id", "id_type"), to_attr="identifier_types"
)


def identifier_types(flag: Flag) -> list[str]:
    """The flag's identifier types in the order given: from ``IDENTIFIER_TYPES`` if prefetched, else one query."""
    prefetched: list[FlagToken] | None = getattr(flag, "identifier_types", None)
    if prefetched is not None:
        return [token.id_type for token in prefetched]
    return list(flag.tokens.order_by("id").values_list("id_type", flat=True))


@dataclass(frozen=True)
class FlagCounts:
    """Flags counted by category and status, for a member to reconcile its book with the platform."""

    total: int = 0
    by_category: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    # Every (category, status) pair that has flags, in a stable order.
    cells: list[dict[str, str | int]] = field(default_factory=list)


def flag_counts(flags: QuerySet[Flag]) -> FlagCounts:
    """One GROUP BY over ``flags`` (already scoped and filtered): nothing is decrypted or paged."""
    rows = list(
        flags.order_by().values_list("category", "status").annotate(n=Count("id")).order_by("category", "status")
    )
    by_category: dict[str, int] = {}
    by_status: dict[str, int] = {}
    for category, status, count in rows:
        by_category[category] = by_category.get(category, 0) + count
        by_status[status] = by_status.get(status, 0) + count
    return FlagCounts(
        total=sum(count for _category, _status, count in rows),
        by_category=by_category,
        by_status=dict(sorted(by_status.items())),
        cells=[{"category": category, "status": status, "count": count} for category, status, count in rows],
    )


def report_lines_by_code(errors: QuerySet[UploadError]) -> dict[str, int]:
    """An upload's error report counted by code (a refused row has a line per field at fault)."""
    counted = errors.order_by().values_list("code").annotate(n=Count("id")).order_by("code")
    return dict(counted.values_list("code", "n"))
