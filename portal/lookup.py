"""The look-up of one borrower (analysts), and the phone-number metadata its script needs."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from accounts.authentication import person_holding
from accounts.permissions import MATCHERS
from memberkit import identifiers
from portal.keying import BROWSER_TYPES, identifier_reasons
from sharing.choices import CONSENT_PURPOSES, IDENTIFIERS_MAX, AmountBand, Category, QueryPurpose


@login_required
def phone_lengths(request: HttpRequest) -> JsonResponse:
    """What the browser needs of phonenumbers' metadata to normalize mobile numbers as the Python
    standard does (portal/static/portal/identifiers.js)."""
    response = JsonResponse({"codes": identifiers.phone_table()})
    response["Cache-Control"] = "private, max-age=86400"
    return response


@login_required
def query(request: HttpRequest) -> HttpResponse:
    """One borrower, looked up from the browser by one to five identifiers: the page keys each into its
    member token (portal/static/portal/query.js) and sends only those to ``POST /api/v1/queries``; it
    shows the flags and the multi-lender figures, or the note saying why there are none."""
    person_holding(request, MATCHERS)
    words = {
        "categories": {str(value): str(label) for value, label in Category.choices},
        "yes": _("Yes"),
        "no": _("No"),
        "hit": _("Other members have flagged this borrower."),
        "no_hit": _("No other member has flagged this borrower."),
        "own": _("Your own flags"),
        "reasons": identifier_reasons(_("The lookup failed; please try again.")),
        "duplicate_type": _("Give at most one identifier of each type."),
        "figures": {
            "institutions_queried_7d": _("Other lenders that looked the borrower up for lending, last 7 days"),
            "institutions_queried_30d": _("Other lenders that looked the borrower up for lending, last 30 days"),
            "institutions_queried_90d": _("Other lenders that looked the borrower up for lending, last 90 days"),
            "institutions_with_open_loans": _("Other lenders with a loan open to the borrower"),
            "loans_opened_90d": _("Loans other lenders opened to the borrower, last 90 days"),
            "loans_opened_180d": _("Loans other lenders opened to the borrower, last 180 days"),
            "open_amount_band": _("Total of other lenders' open loans"),
            "own_queries_90d": _("Days your institution looked the borrower up for lending, last 90 days"),
            "own_open_loans": _("Your open loans to the borrower"),
            "own_loans_opened_180d": _("Your loans opened to the borrower, last 180 days"),
        },
        "bands": {str(value): str(label) for value, label in AmountBand.choices},
        "none": _("None"),
    }
    context = {
        "identifiers_max": IDENTIFIERS_MAX,
        "id_types": [(value, value.label) for value in BROWSER_TYPES],
        "purposes": QueryPurpose.choices,
        "consent_purposes": sorted(CONSENT_PURPOSES),
        "words": words,
    }
    return render(request, "portal/query.html", context)
