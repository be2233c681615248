"""What the portal's forms share: a service's refusal put back on the form that asked."""

from django import forms
from django.core.exceptions import ValidationError


def show_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's refusal on the fields it names; what names no field of the form goes on top."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)
