"""Positive information: the consumer loans members report, and when each member last reported one."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Institution
from sharing.choices import CONSENT_MAX, REFERENCE_MAX, AmountBand, ProductType
from sharing.models.identifiers import BorrowerToken


class Loan(models.Model):
    """A consumer loan one member opened to one borrower, reported with the borrower's consent.

    ``reference`` is the member's own id for the loan: sending it again updates it (closing it,
    say). Only the member reads its own loans; other members see them only counted, in the
    multi-lender figures of an answer (docs/matching.md). A loan is kept while open and until
    ``expires_on``, five years after it closed; retention then erases it as it erases a flag: its
    tokens, reference, consent reference and source row go, and what remains is only counted.
    """

    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="loans", db_index=False, db_constraint=False
    )
    # Erased (NULL) with the loan's tokens when retention ends: what remains is counted, never tied to anyone.
    reference = models.CharField(_("reference"), max_length=REFERENCE_MAX, null=True)  # noqa: DJ001 - as Flag's
    product = models.CharField(_("product type"), max_length=16, choices=ProductType.choices)
    opened_on = models.DateField(_("opened on"))
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    amount_band = models.CharField(_("amount band"), max_length=16, choices=AmountBand.choices)
    consent_reference = models.CharField(_("consent reference"), max_length=CONSENT_MAX, blank=True)
    # Null while the loan is open: an open loan is kept.
    expires_on = models.DateField(_("expires on"), null=True, blank=True)
    source_upload = models.ForeignKey(
        "Upload",
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    source_row = models.PositiveIntegerField(_("source row"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("loan")
        verbose_name_plural = _("loans")
        constraints = [
            models.UniqueConstraint(fields=["institution", "reference"], name="one_loan_per_reference"),
            models.CheckConstraint(
                condition=models.Q(closed_on__isnull=True) | models.Q(closed_on__gte=models.F("opened_on")),
                name="loan_closes_after_it_opens",
            ),
        ]
        indexes = [models.Index(fields=["expires_on"], name="loan_expiry")]

    def __str__(self) -> str:
        return f"loan {self.pk} ({self.product}) of institution {self.institution_id}"


class LoanToken(BorrowerToken):
    """One of a loan's identifiers; the multi-lender figures find the loan by any of them."""

    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="tokens", db_constraint=False, db_index=False)

    class Meta:
        verbose_name = _("loan identifier")
        verbose_name_plural = _("loan identifiers")
        constraints = [models.UniqueConstraint(fields=["loan", "id_type"], name="one_loan_token_per_type")]
        indexes = [models.Index(fields=["token"], name="loantoken_token")]

    def __str__(self) -> str:
        return f"{self.id_type} of loan {self.loan_id}"


class ContributedLoans(models.Model):
    """When an institution last reported a loan: the multi-lender figures need loan contributions
    within the reciprocity window, as flags need flag contributions (``ContributedCategory``)."""

    institution = models.OneToOneField(Institution, on_delete=models.CASCADE, related_name="+")
    last_contributed_at = models.DateTimeField(_("last contributed"))

    class Meta:
        verbose_name = _("loan contribution")
        verbose_name_plural = _("loan contributions")

    def __str__(self) -> str:
        return f"loans by institution {self.institution_id}"
