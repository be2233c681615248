"""What the pages that key an identifier in the browser share (the look-up and filing a flag):
which identifier types the browser keys, and why keying one failed, in the person's language."""

from django.utils.translation import gettext as _

from sharing.choices import IdType

# The identifier types the browser keys (portal/static/portal/identifiers.js): no passports.
BROWSER_TYPES = (IdType.CNID, IdType.MOBILE, IdType.USCC)


def identifier_reasons(other: str) -> dict[str, str]:
    """Why the page could not key an identifier (identifiers.js's reasons), in the person's language."""
    return {
        "bad_length": _("The identifier has the wrong number of characters."),
        "bad_characters": _("The identifier has characters it cannot have."),
        "bad_checksum": _("The check character is wrong: please check the identifier."),
        "bad_date": _("The birth date in this resident identity number is not possible."),
        "not_mobile": _("This is not a Chinese mobile number."),
        "unsupported": _("The browser cannot read this number as typed; use the member client."),
        "bad_key": _("The key file must hold the 64 hexadecimal characters of the consortium key."),
        "other": other,
    }
