"""The data keys that seal flag details, each stored only wrapped by the master key."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Institution


class DataKey(models.Model):
    """An institution's key for its flag details, stored only wrapped by the master key.

    The master key itself is never in the database (``DETAILS_MASTER_KEY``), so a
    dump of this table, the flags and their ciphertexts reveals no details.
    """

    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="data_keys")
    wrapped = models.BinaryField(_("wrapped key"))
    master_version = models.PositiveIntegerField(_("master key version"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    rewrapped_at = models.DateTimeField(_("re-wrapped"), null=True, blank=True)

    class Meta:
        verbose_name = _("data key")
        verbose_name_plural = _("data keys")
        constraints = [models.UniqueConstraint(fields=["institution"], name="one_data_key_per_institution")]

    def __str__(self) -> str:
        return f"data key {self.pk} of institution {self.institution_id} (master v{self.master_version})"
