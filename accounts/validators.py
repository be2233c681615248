"""Validation of institution codes and network allow-lists."""

import ipaddress

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum.cn import uscc

USCC_ALPHABET = frozenset("0123456789ABCDEFGHJKLMNPQRTUWXY")


def validate_uscc(value: str) -> None:
    """A unified social credit code (GB 32100): 18 characters and its mod-31 check character.

    python-stdnum computes the check character; the alphabet rule is GB 32100's
    own (stdnum also insists on digits in the first eight places, which the
    standard does not).
    """
    if len(value) != 18:
        raise ValidationError(_("A unified social credit code has 18 characters."), code="bad_length")
    if not set(value) <= USCC_ALPHABET:
        raise ValidationError(
            _("A unified social credit code uses only 0-9 and A-Y without I, O, S, V and Z."),
            code="bad_characters",
        )
    if uscc.calc_check_digit(value[:17]) != value[17]:
        raise ValidationError(_("The check character of this code is wrong."), code="bad_checksum")


def validate_network(value: str) -> None:
    """An IPv4 or IPv6 address or network in CIDR notation, such as 203.0.113.0/24."""
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValidationError(
            _("%(value)s is not an IP address or network (CIDR)."), code="bad_network", params={"value": value}
        ) from None
