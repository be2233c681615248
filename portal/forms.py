"""The portal's forms: filing, resolving or withdrawing a member's own flag, and asking for a report."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.validators import validate_label
from portal.keying import BROWSER_TYPES
from sharing.choices import AmountBand, Category, NoticeChannel
from sharing.flags import checking as rows
from sharing.flags import identifiers
from sharing.keys.tokens import MEMBER_TOKEN
from sharing.reports.jobs import check_period

NOTE_MAX = 1000
# The form asks for a notice's date and channel together, and says once that negative information
# needs both: as the date's help, and as the refusal of either missing (portal.flags).
NOTICE_NEEDED = _("Negative information needs the date and the way the borrower was told.")


class TokenInput(forms.HiddenInput):
    """Never written back into the page: the script fills it at every submit, and what was sent
    instead of a token could be a raw identifier."""

    def format_value(self, value: Any) -> None:
        return None


class BorrowerForm(forms.Form):
    """Who a flag is about: one to five identifiers, each its type and the member token the page computed
    from it, in the flat fields of a flag (``id_type``/``token``, ``id_type_2``/``token_2`` ...).

    Each identifier itself is typed into an input without a name (flag_form.js), so no field of
    this form, or any other, can carry it to the platform. The rule on several identifiers (one of
    each type at most) is the flags' own, ``sharing.flags.identifiers``: the page's refusals come from it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        types = [(str(value), value.label) for value in BROWSER_TYPES]
        for number, (type_field, token_field) in enumerate(identifiers.PAIRS, start=1):
            first = number == 1
            self.fields[type_field] = forms.ChoiceField(
                label=_("Identifier type"), choices=types if first else [("", "—"), *types], required=first
            )
            self.fields[token_field] = forms.CharField(widget=TokenInput, required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for type_field, token_field in identifiers.PAIRS:
            if cleaned.get(type_field) and not MEMBER_TOKEN.fullmatch(cleaned.get(token_field, "")):
                # Not on the hidden field itself: the person sees what is said on top of the form.
                message = _(
                    "The identifier was not keyed into a member token: this page needs JavaScript and the key file."
                )
                self.add_error(None, ValidationError(message, code="bad_token"))
                break
        return cleaned

    def rows(self) -> list[dict[str, Any]]:
        """Each identifier's row of the page: its number, type field and token field, and whether it is
        shown (the first always; another once the person added it)."""
        return [
            {
                "number": number,
                "id_type": self[type_field],
                "token": self[token_field],
                "shown": number == 1 or bool(self.data.get(type_field)),
            }
            for number, (type_field, token_field) in enumerate(identifiers.PAIRS, start=1)
        ]

    def given(self) -> dict[str, str]:
        """The identifiers given, as a flag's flat fields; a row left without a type is no identifier."""
        data = self.cleaned_data
        fields: dict[str, str] = {}
        for type_field, token_field in identifiers.PAIRS:
            if data.get(type_field):
                fields[type_field], fields[token_field] = data[type_field], data.get(token_field, "")
        return fields


class FlagForm(forms.Form):
    """A new flag as a contributor files it in the portal; ``sharing.flags.checking`` still checks it, as any flag."""

    reference = forms.RegexField(
        label=_("Reference"),
        regex=rf"\A{rows.REFERENCE.pattern}\Z",
        max_length=64,
        help_text=_("Your institution's own id for the case."),
        error_messages={"invalid": _("Use 1 to 64 letters, digits and . _ : / # -, starting with a letter or digit.")},
        validators=[validate_label],
    )
    category = forms.ChoiceField(label=_("Category"), choices=Category.choices)
    event_date = forms.DateField(label=_("Event date"), widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(
        label=_("Event end date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("If the event has ended (repaid, settled): the flag is then filed as resolved."),
    )
    amount_band = forms.ChoiceField(label=_("Amount band"), choices=[("", "—"), *AmountBand.choices], required=False)
    notice_date = forms.DateField(
        label=_("Notice date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=NOTICE_NEEDED,
    )
    notice_channel = forms.ChoiceField(
        label=_("Notice channel"), choices=[("", "—"), *NoticeChannel.choices], required=False
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Only your institution reads it; it is stored encrypted."),
    )

    def item(self, borrower: BorrowerForm) -> dict[str, Any]:
        """The flag as the API's batch item, for ``services.contribute``."""
        data = self.cleaned_data
        item: dict[str, Any] = {
            "reference": data["reference"],
            **borrower.given(),
            "category": data["category"],
            "amount_band": data["amount_band"],
            "notice_channel": data["notice_channel"],
        }
        for name in ("event_date", "end_date", "notice_date"):
            item[name] = data[name].isoformat() if data[name] else None
        if data["note"]:
            item["details"] = {"note": data["note"]}
        return item


class ResolveForm(forms.Form):
    end_date = forms.DateField(label=_("Event end date"), widget=forms.DateInput(attrs={"type": "date"}))


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("Why it is withdrawn"), max_length=500, validators=[validate_label])


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
