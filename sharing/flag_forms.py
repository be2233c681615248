"""The portal's forms for a member's own flags: resolving and withdrawing one."""

from django import forms
from django.utils.translation import gettext_lazy as _


class ResolveForm(forms.Form):
    end_date = forms.DateField(label=_("Event end date"), widget=forms.DateInput(attrs={"type": "date"}))


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("Why it is withdrawn"), max_length=500)


FORMS: dict[str, type[forms.Form]] = {"resolve": ResolveForm, "withdraw": WithdrawForm}
