from datetime import timedelta
from typing import Any

from django.core.management.base import CommandError
from django.utils import timezone

from accounts import demo
from accounts.management.demo import DemoCommand
from accounts.models import Institution
from memberkit.identifiers import member_token
from sharing.flags import services
from sharing.management.history import DEMO_CONSORTIUM_KEY
from sharing.models import Flag

# (member, reference, identifier type, raw identifier, category, days ago): the test vectors' people.
FLAGS = (
    (0, "DEMO-A-1", "cnid", "11010519491231002X", "overdue_90", 40),
    (0, "DEMO-A-2", "mobile", "13800138000", "fraud_suspected", 20),
    (1, "DEMO-B-1", "cnid", "11010519491231002X", "overdue_90", 75),
    (1, "DEMO-B-2", "cnid", "11010519491231002X", "fraud_suspected", 12),
    (1, "DEMO-B-3", "uscc", "91110000600037341L", "default", 120),
    (1, "DEMO-B-4", "passport", "CHN:E12345678", "identity_theft", 5),
)


class Command(DemoCommand):
    help = (
        "Give the demo members (seed_demo) a few flags on the test vectors' identifiers, so that each may "
        "query (reciprocity) and finds the other's flags. Safe to run again; refused in production."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        codes = [cast.code for cast in demo.CAST[:2]]
        by_code = Institution.objects.in_bulk(codes, field_name="code")
        members = [by_code[code] for code in codes if code in by_code]
        if len(members) != len(codes):
            raise CommandError("run seed_demo first: the demo members do not exist")
        today = timezone.localdate()
        for index, member in enumerate(members):
            references = [reference for owner, reference, *_ in FLAGS if owner == index]
            stored = set(
                Flag.objects.filter(institution=member, reference__in=references).values_list("reference", flat=True)
            )
            items = [
                _flag(reference, id_type, raw, category, today - timedelta(days=days_ago))
                for owner, reference, id_type, raw, category, days_ago in FLAGS
                if owner == index and reference not in stored  # a second run changes nothing
            ]
            if items:
                services.contribute(member, items)
        self.stdout.write(
            f"Demo flags: {len(FLAGS)}, on the identifiers of docs/identifiers.md's test vectors, keyed with its "
            "test key (the demo's consortium key). Query 11010519491231002X with either demo member's key to "
            "see the other's flags."
        )


def _flag(reference: str, id_type: str, raw: str, category: str, event: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "reference": reference,
        "id_type": id_type,
        "token": member_token(id_type, raw, DEMO_CONSORTIUM_KEY),
        "category": category,
        "event_date": event.isoformat(),
    }
    if category != "identity_theft":  # negative information needs prior notice
        item.update(notice_date=(event - timedelta(days=10)).isoformat(), notice_channel="sms")
    return item
