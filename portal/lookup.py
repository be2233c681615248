"""The look-up of one borrower (analysts), and the phone-number metadata its script needs."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from accounts.authentication import person_holding
from accounts.permissions import MATCHERS
from memberkit import identifiers
from portal.keying import BROWSER_TYPES, identifier_reasons
from sharing.choices import CONSENT_PURPOSES, Category, QueryPurpose


@login_required
def phone_lengths(request: HttpRequest) -> JsonResponse:
    """What the browser needs of phonenumbers' metadata to normalize mobile numbers as the Python
    standard does (portal/static/portal/identifiers.js)."""
    response = JsonResponse({"codes": identifiers.phone_table()})
    response["Cache-Control"] = "private, max-age=86400"
    return response


@login_required
def query(request: HttpRequest) -> HttpResponse:
    """One borrower, looked up from the browser: the page keys the identifier into its member token
    (portal/static/portal/query.js) and sends only that to ``POST /api/v1/queries``."""
    person_holding(request, MATCHERS)
    words = {
        "categories": {str(value): str(label) for value, label in Category.choices},
        "yes": _("Yes"),
        "no": _("No"),
        "hit": _("Other members have flagged this borrower."),
        "no_hit": _("No other member has flagged this borrower."),
        "own": _("Your own flags"),
        "reasons": identifier_reasons(_("The lookup failed; please try again.")),
    }
    context = {
        "id_types": [(value, value.label) for value in BROWSER_TYPES],
        "purposes": QueryPurpose.choices,
        "consent_purposes": sorted(CONSENT_PURPOSES),
        "words": words,
    }
    return render(request, "portal/query.html", context)
