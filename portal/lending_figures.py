"""The multi-lender figures (docs/matching.md) as the portal names them, in the order answers give them.

Written once for every page that shows them; the API and the files name them by their codes
(``vocabulary.LENDING_FIGURES``).
"""

from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from memberkit.vocabulary import LENDING_FIGURES, LENDING_THRESHOLD_FIGURES

LABELS: dict[str, StrOrPromise] = {
    "institutions_queried_7d": _("Other lenders that queried, 7 days"),
    "institutions_queried_30d": _("Other lenders that queried, 30 days"),
    "institutions_queried_90d": _("Other lenders that queried, 90 days"),
    "institutions_with_open_loans": _("Other lenders with an open loan"),
    "loans_opened_90d": _("Loans opened elsewhere, 90 days"),
    "loans_opened_180d": _("Loans opened elsewhere, 180 days"),
    "open_amount_band": _("Open elsewhere in total"),
    "own_queries_90d": _("Days you queried, 90 days"),
    "own_open_loans": _("Your open loans"),
    "own_loans_opened_180d": _("Your loans opened, 180 days"),
}
assert tuple(LABELS) == LENDING_FIGURES, "one label per figure, in the figures' order"

# The figures an inspection may set a threshold on, with their labels: the form's fields.
THRESHOLDS: list[tuple[str, StrOrPromise]] = [(name, LABELS[name]) for name in LENDING_THRESHOLD_FIGURES]
