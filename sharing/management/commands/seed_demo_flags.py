from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from django.core.management.base import CommandError
from django.db.models import Model
from django.utils import timezone

from accounts import demo
from accounts.management.demo import DemoCommand
from accounts.models import Institution
from memberkit.identifiers import member_token
from sharing.flags import services as flags
from sharing.flags.identifiers import PAIRS
from sharing.loans import services as loans
from sharing.management.history import DEMO_CONSORTIUM_KEY
from sharing.models import Flag, Loan

# The test vectors' people (docs/identifiers.md): one borrower known by a resident ID, a mobile number and a
# passport, and a company.
RESIDENT = ("cnid", "11010519491231002X")
MOBILE = ("mobile", "13800138000")
PASSPORT = ("passport", "CHN:E12345678")
COMPANY = ("uscc", "91110000600037341L")
Identifiers = tuple[tuple[str, str], ...]

# (member, reference, identifiers, category, days ago). Some flags carry two or three identifiers: the second
# member's DEMO-B-2 is found by the mobile number alone, as well as by the resident ID.
FLAGS: tuple[tuple[int, str, Identifiers, str, int], ...] = (
    (0, "DEMO-A-1", (RESIDENT, MOBILE), "overdue_90", 40),
    (0, "DEMO-A-2", (MOBILE,), "fraud_suspected", 20),
    (1, "DEMO-B-1", (RESIDENT,), "overdue_90", 75),
    (1, "DEMO-B-2", (RESIDENT, MOBILE, PASSPORT), "fraud_suspected", 12),
    (1, "DEMO-B-3", (COMPANY,), "default", 120),
    (1, "DEMO-B-4", (PASSPORT,), "identity_theft", 5),
)
# (member, reference, identifiers, product, amount band, opened days ago, closed days ago or None): both
# members report loans (so both get the multi-lender figures), and each has one open to the resident.
LOANS: tuple[tuple[int, str, Identifiers, str, str, int, int | None], ...] = (
    (0, "DEMO-A-L1", (RESIDENT, MOBILE), "cash_loan", "10k_50k", 200, None),
    (1, "DEMO-B-L1", (RESIDENT,), "instalment", "lt_10k", 30, None),
    (1, "DEMO-B-L2", (MOBILE,), "cash_loan", "10k_50k", 400, 35),
)


class Command(DemoCommand):
    help = (
        "Give the demo members (seed_demo) a few flags and loans on the test vectors' identifiers, some with "
        "two or three identifiers, so that each may query (reciprocity), finds the other's flags and sees the "
        "other's loans counted. Safe to run again; refused in production."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        codes = [cast.code for cast in demo.CAST[:2]]
        by_code = Institution.objects.in_bulk(codes, field_name="code")
        members = [by_code[code] for code in codes if code in by_code]
        if len(members) != len(codes):
            raise CommandError("run seed_demo first: the demo members do not exist")
        today = timezone.localdate()
        for index, member in enumerate(members):
            flag_items = [_flag(*flag[1:], today) for flag in FLAGS if flag[0] == index]
            if new := _missing(Flag, member, flag_items):  # a second run changes nothing
                flags.contribute(member, new)
            loan_items = [_loan(*loan[1:], today) for loan in LOANS if loan[0] == index]
            if new := _missing(Loan, member, loan_items):
                loans.contribute(member, new)
        self.stdout.write(
            f"Demo flags: {len(FLAGS)}, and {len(LOANS)} loans, on the identifiers of docs/identifiers.md's test "
            "vectors, keyed with its test key (the demo's consortium key). Query 11010519491231002X with either "
            "demo member's key to see the other's flags and loans; 13800138000 finds the second member's "
            "DEMO-B-2 by its second identifier."
        )


def _missing(model: type[Model], member: Institution, items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items whose reference the member has not stored yet."""
    references = [item["reference"] for item in items]
    stored = model._default_manager.filter(institution=member, reference__in=references)
    known = set(stored.values_list("reference", flat=True))
    return [item for item in items if item["reference"] not in known]


def _identifiers(identifiers: Identifiers) -> dict[str, str]:
    """The identifiers in the flat form (``PAIRS``: id_type and token, then id_type_2 and token_2, ...)."""
    fields: dict[str, str] = {}
    for (type_field, token_field), (id_type, raw) in zip(PAIRS, identifiers, strict=False):
        fields[type_field] = id_type
        fields[token_field] = member_token(id_type, raw, DEMO_CONSORTIUM_KEY)
    return fields


def _flag(reference: str, identifiers: Identifiers, category: str, days_ago: int, today: date) -> dict[str, Any]:
    event = today - timedelta(days=days_ago)
    item: dict[str, Any] = {
        "reference": reference,
        **_identifiers(identifiers),
        "category": category,
        "event_date": event.isoformat(),
    }
    if category != "identity_theft":  # negative information needs prior notice
        item.update(notice_date=(event - timedelta(days=10)).isoformat(), notice_channel="sms")
    return item


def _loan(
    reference: str,
    identifiers: Identifiers,
    product: str,
    amount_band: str,
    opened_days_ago: int,
    closed_days_ago: int | None,
    today: date,
) -> dict[str, Any]:
    opened = today - timedelta(days=opened_days_ago)
    item: dict[str, Any] = {
        "reference": reference,
        **_identifiers(identifiers),
        "product": product,
        "opened_on": opened.isoformat(),
        "amount_band": amount_band,
        "consent_reference": f"DEMO-CONSENT-{reference}",
    }
    if closed_days_ago is not None:
        item["closed_on"] = (today - timedelta(days=closed_days_ago)).isoformat()
    return item
