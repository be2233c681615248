"""Read queries on loans that the API and the portal share."""

from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet

from sharing.models import Loan


@dataclass(frozen=True)
class LoanCounts:
    """Loans counted by product type and by open or closed, for a member to reconcile its book with the platform."""

    total: int = 0
    open: int = 0
    closed: int = 0
    # {product type: {"open": n, "closed": n}}, for the product types that have loans, in a stable order.
    by_product: dict[str, dict[str, int]] = field(default_factory=dict)


def loan_counts(loans: QuerySet[Loan]) -> LoanCounts:
    """One GROUP BY over ``loans`` (already scoped and filtered): nothing is paged, no token is read."""
    rows = list(
        loans.order_by()
        .values_list("product")
        .annotate(
            open=Count("id", filter=Q(closed_on__isnull=True)),
            closed=Count("id", filter=Q(closed_on__isnull=False)),
        )
        .order_by("product")
    )
    return LoanCounts(
        total=sum(opened + closed for _product, opened, closed in rows),
        open=sum(opened for _product, opened, _closed in rows),
        closed=sum(closed for _product, _opened, closed in rows),
        by_product={product: {"open": opened, "closed": closed} for product, opened, closed in rows},
    )
