"""The shared vocabulary (memberkit.vocabulary) is the platform's: every code and limit, and the consent rule."""

import pytest
from django.conf import settings

from memberkit import querying, vocabulary
from memberkit.vocabulary import consent_refusal
from sharing import choices
from sharing.models import Flag, Inspection, InspectionHit


def test_the_purposes_are_the_platforms():
    assert tuple(choices.QueryPurpose.values) == vocabulary.PURPOSES
    assert {str(purpose) for purpose in choices.CONSENT_PURPOSES} == vocabulary.CONSENT_PURPOSES
    assert settings.QUERY_SUBJECTS_MAX == querying.BATCH_SIZE


def test_the_codes_are_the_platforms():
    assert tuple(choices.IdType.values) == vocabulary.ID_TYPES
    assert tuple(choices.Category.values) == vocabulary.CATEGORIES
    assert {str(category) for category in choices.PROTECTIVE_CATEGORIES} == vocabulary.PROTECTIVE_CATEGORIES
    assert tuple(choices.AmountBand.values) == vocabulary.AMOUNT_BANDS
    assert tuple(choices.FlagStatus.values) == vocabulary.FLAG_STATUSES
    assert tuple(choices.NoticeChannel.values) == vocabulary.NOTICE_CHANNELS
    assert tuple(choices.FileFormat.values) == vocabulary.FILE_FORMATS
    assert tuple(choices.JobStatus.values) == vocabulary.JOB_STATUSES
    assert set(vocabulary.FINISHED) == {choices.JobStatus.SUCCEEDED, choices.JobStatus.FAILED}


def test_the_limits_are_the_platforms():
    assert settings.QUERY_SUBJECTS_MAX == vocabulary.SUBJECTS_MAX
    assert InspectionHit._meta.get_field("correlation_id").max_length == vocabulary.CORRELATION_MAX
    assert Inspection._meta.get_field("consent_reference").max_length == vocabulary.CONSENT_MAX
    assert Inspection._meta.get_field("portfolio").max_length == vocabulary.PORTFOLIO_MAX
    assert Flag._meta.get_field("reference").max_length == vocabulary.REFERENCE_MAX


@pytest.mark.parametrize(
    ("purpose", "reference", "refusal"),
    [
        ("loan_application", "AUTH-2024-0001", None),
        ("loan_application", None, "consent_required"),
        ("credit_review", "   ", "consent_required"),
        ("post_loan_review", None, None),
        ("collection", "", None),
        ("fraud_investigation", "x" * 128, None),
        ("fraud_investigation", "x" * 129, "max_length"),
        ("loan_application", f"  {'x' * 128}  ", None),
    ],
)
def test_the_consent_rule(purpose, reference, refusal):
    assert consent_refusal(purpose, reference) == refusal
