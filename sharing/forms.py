"""The portal's forms: resolving or withdrawing a member's own flag, and asking for a report."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from sharing.reports import check_period


class ResolveForm(forms.Form):
    end_date = forms.DateField(label=_("Event end date"), widget=forms.DateInput(attrs={"type": "date"}))


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("Why it is withdrawn"), max_length=500)


FLAG_FORMS: dict[str, type[forms.Form]] = {"resolve": ResolveForm, "withdraw": WithdrawForm}


class ReportRequestForm(forms.Form):
    """A report of any period, both days included; ``reports.check_period`` says which periods."""

    starts_on = forms.DateField(label=_("First day"), widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(label=_("Last day"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "starts_on" in cleaned and "ends_on" in cleaned:
            try:
                check_period(cleaned["starts_on"], cleaned["ends_on"])
            except ValidationError as error:
                self.add_error(None, error)
        return cleaned
