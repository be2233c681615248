"""A borrower's platform tokens: one row per identifier of a flag or a loan, the only place tokens are kept."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from sharing.choices import IdType


class BorrowerToken(models.Model):
    """One identifier of a borrower, as the platform keeps it: its type and its platform token.

    A flag or a loan has one to five (``IDENTIFIERS_MAX``), at most one per type; a query finds it
    by any of them. Retention deletes them with what they point at, and ``pepper_version`` lets a
    pepper rotation re-key them by chaining (``sharing.flags.services.rekey_tokens``).
    """

    id_type = models.CharField(_("identifier type"), max_length=16, choices=IdType.choices)
    token = models.BinaryField(_("platform token"), max_length=32)
    pepper_version = models.PositiveSmallIntegerField(_("pepper version"))

    class Meta:
        abstract = True
