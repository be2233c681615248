"""The institution's own flags (contributors and auditors): the list with the API's filters, one
flag with its details, and for contributors filing, resolving and withdrawing one.

Filing: the page keys each of the borrower's one to five identifiers into its member token in the
browser (portal/static/portal/flag_form.js), as the look-up does; the form carries only the tokens. The
flag then goes through ``services.contribute``, the API's own service, so it is checked, keyed,
sealed and stored exactly as a flag sent by a member's system, and recorded as the same audit event.
"""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from accounts.authentication import person_holding
from accounts.choices import AuditAction
from accounts.models import Institution
from accounts.permissions import FLAG_READERS, FLAG_WRITERS, admits
from config.forms import show_errors
from config.pagination import newest_first_page
from portal import forms
from portal.auditing import audit, audited
from portal.keying import identifier_reasons
from sharing import messages
from sharing.choices import IDENTIFIERS_MAX, FlagStatus
from sharing.filters import FlagFilter
from sharing.flags import identifiers, selectors, services
from sharing.keys import datakeys as keys
from sharing.models import Flag

FLAGS_PAGE_SIZE = 50


@login_required
@audited(AuditAction.FLAG_LIST)
def flags(request: HttpRequest) -> HttpResponse:
    """The institution's own flags, newest first, with the API's filters; never their details."""
    person = person_holding(request, FLAG_READERS)
    found = FlagFilter(request.GET, queryset=Flag.objects.filter(institution=person.institution).order_by("-id"))
    rows = found.qs.defer("details").prefetch_related(selectors.IDENTIFIER_TYPES)
    page = newest_first_page(request, rows, FLAGS_PAGE_SIZE)
    context = {
        "filters": found.form,
        "flags": page.rows,
        "older": page.older,
        "query": page.query,
        "can_file": admits(person, FLAG_WRITERS),
    }
    return render(request, "portal/flags.html", context)


@login_required
@audited(AuditAction.FLAG_VIEW)
def flag_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One of the institution's flags with its details; contributors resolve or withdraw it here."""
    person = person_holding(request, FLAG_READERS)
    flags = Flag.objects.select_related("details_key").prefetch_related(selectors.IDENTIFIER_TYPES)
    flag = get_object_or_404(flags, pk=pk, institution=person.institution)
    audit(request, target=flag)
    can_change = admits(person, FLAG_WRITERS)
    shown = {name: form() for name, form in forms.FLAG_FORMS.items()}
    if request.method == "POST":
        change = request.POST.get("change", "")
        if not can_change or change not in forms.FLAG_FORMS:
            raise PermissionDenied
        form = shown[change] = forms.FLAG_FORMS[change](request.POST)
        if form.is_valid():
            status = FlagStatus.RESOLVED if change == "resolve" else FlagStatus.WITHDRAWN
            try:
                changed, action = services.change(flag, status, **form.cleaned_data)
            except ValidationError as error:
                show_errors(form, error)
            else:
                audit(request, action=action, target=changed)
                return redirect("portal:flag_detail", pk=flag.pk)
    context = {
        "flag": flag,
        "details": keys.details_of(flag),
        "can_change": can_change,
        "resolve": shown["resolve"],
        "withdraw": shown["withdraw"],
    }
    return render(request, "portal/flag_detail.html", context)


@login_required
@audited()
def new_flag(request: HttpRequest) -> HttpResponse:
    """A form for one new flag of one to five identifiers; an identifier never leaves the browser, only its
    member token."""
    person = person_holding(request, FLAG_WRITERS)
    data = request.POST if request.method == "POST" else None
    borrower, flag = forms.BorrowerForm(data), forms.FlagForm(data)
    if borrower.is_valid() and flag.is_valid():
        with transaction.atomic():
            # One filing at a time per institution, so that a second click on the button (or a
            # colleague's filing) cannot overwrite the flag just filed under the same reference.
            Institution.objects.select_for_update(no_key=True).only("pk").get(pk=person.institution_id)
            filed = _file(person.institution, borrower, flag)
            if filed is not None:
                audit(request, action=AuditAction.FLAG_CONTRIBUTE, target=filed, subjects=1)
        if filed is not None:
            return redirect("portal:flag_detail", pk=filed.pk)
    words = {
        "reasons": identifier_reasons(_("The identifier could not be keyed; please try again.")),
        "duplicate_type": messages.message("duplicate_id_type"),
        "type_required": messages.message("required", "id_type"),
    }
    context = {"borrower": borrower, "form": flag, "words": words, "identifiers_max": IDENTIFIERS_MAX}
    return render(request, "portal/flag_new.html", context)


def _file(institution: Institution, borrower: forms.BorrowerForm, flag: forms.FlagForm) -> Flag | None:
    """The new flag, stored; or None, with what is wrong put on the forms."""
    reference = flag.cleaned_data["reference"]
    if Flag.objects.filter(institution=institution, reference=reference).exists():
        flag.add_error("reference", _("Your institution already has a flag with this reference."))
        return None
    try:
        services.contribute(institution, [flag.item(borrower)])
    except services.BatchInvalid as invalid:
        _show(invalid, borrower, flag)
        return None
    return Flag.objects.get(institution=institution, reference=reference)


def _show(invalid: services.BatchInvalid, borrower: forms.BorrowerForm, flag: forms.FlagForm) -> None:
    """Why the checks of ``sharing.flags.checking`` refused the flag, in the person's language, on the
    fields at fault; the form's own fields have caught most mistakes before."""
    for error in invalid.errors[0]:
        if error.code == "notice_required":
            message = str(forms.NOTICE_NEEDED)  # the form asks for the date and the channel together
        else:
            try:
                message = messages.message(error.code, error.field)
            except KeyError:  # a code the catalogue cannot word alone: the check's own (English) words
                message = error.message
        if error.field in identifiers.FIELDS:  # an identifier's type or token: said of the whole borrower
            borrower.add_error(None, message)
        else:
            field = "note" if error.field == "details" else error.field
            flag.add_error(field if field in flag.fields else None, message)
