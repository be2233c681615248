"""Factories for the standing cast and anything else a test needs."""

import itertools
from typing import Any

import factory
import factory.django
from rest_framework.test import APIClient
from stdnum.cn import uscc

from accounts import demo
from accounts.choices import InstitutionKind, Role, Sector
from accounts.models import Institution, User
from memberkit.identifiers import member_token
from memberkit.vocabulary import NUMBERED_COLUMNS
from sharing.flags import services
from sharing.management.history import DEMO_CONSORTIUM_KEY
from sharing.models import Flag, Inspection, Upload

_serials = itertools.count(1)


def uscc_code(serial: int) -> str:
    """A valid unified social credit code, different for every serial."""
    body = f"91310000MA{serial:07d}"
    return body + uscc.calc_check_digit(body)


class InstitutionFactory(factory.django.DjangoModelFactory[Institution]):
    class Meta:
        model = Institution

    code = factory.LazyFunction(lambda: uscc_code(next(_serials)))
    name_zh = factory.Sequence(lambda n: f"测试机构{n}")
    name_en = factory.Sequence(lambda n: f"Test Institution {n}")
    kind = InstitutionKind.MEMBER
    sector = factory.LazyAttribute(lambda o: Sector.BANK if o.kind == InstitutionKind.MEMBER else "")


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    institution = factory.SubFactory(InstitutionFactory)
    username = factory.Sequence(lambda n: f"person{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    roles = factory.LazyFunction(lambda: [Role.ANALYST])

    # factory_boy passes the model instance, not the factory, as the first argument.
    @factory.post_generation
    def password(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:
        if extracted:
            obj.set_password(extracted)
        else:
            obj.set_unusable_password()
        if create:
            obj.save(update_fields=["password"])


class UploadFactory(factory.django.DjangoModelFactory[Upload]):
    """A job's row as a page shows it; its file and worker are not there."""

    class Meta:
        model = Upload

    institution = factory.SubFactory(InstitutionFactory)
    file_name = factory.Sequence(lambda n: f"flags-{n}.csv")
    file_format = "csv"
    size_bytes = 1024


class InspectionFactory(UploadFactory):
    class Meta:
        model = Inspection

    file_name = factory.Sequence(lambda n: f"portfolio-{n}.csv")
    portfolio = "consumer-2026"
    purpose = "post_loan_review"


CONSORTIUM_KEY = bytes(range(32))  # the test key of docs/identifiers.md


def member_token_of(raw: str, id_type: str = "cnid") -> str:
    return member_token(id_type, raw, CONSORTIUM_KEY)


def stored_token(flag: Flag) -> bytes:
    """A flag's (first) platform token; an erased flag has none, and fails here."""
    first = flag.tokens.order_by("id").first()
    assert first is not None, f"{flag} has no token"
    return bytes(first.token)


def stored_tokens(flag: Flag) -> dict[str, bytes]:
    """A flag's platform tokens by identifier type; empty once retention has erased them."""
    return {id_type: bytes(token) for id_type, token in flag.tokens.values_list("id_type", "token")}


def more_identifiers(*identifiers: tuple[str, str]) -> dict[str, str]:
    """The flat fields of a second to fifth identifier, each (id_type, raw identifier), as a CSV row has them."""
    fields: dict[str, str] = {}
    for (type_field, token_field), (id_type, raw) in zip(NUMBERED_COLUMNS, identifiers, strict=False):
        fields[type_field], fields[token_field] = id_type, member_token_of(raw, id_type)
    return fields


def flag_item(reference: str = "LOAN-1", **fields: Any) -> dict[str, Any]:
    """A valid flag as a member sends it: a 90-day overdue on a known resident ID, notice given."""
    item: dict[str, Any] = {
        "reference": reference,
        "id_type": "cnid",
        "token": member_token_of("11010519491231002X"),
        "category": "overdue_90",
        "event_date": "2026-03-01",
        "notice_date": "2026-02-20",
        "notice_channel": "sms",
        "amount_band": "10k_50k",
        "details": {"amount": 32000, "product": "consumer loan", "note": "逾期"},
    }
    item.update(fields)
    return {name: value for name, value in item.items() if value is not None}


# Five valid resident IDs: the people the matching tests' flags are about, by their index.
PEOPLE = ["11010519491231002X", "440524198001010013", "11010119900307803X", "110101198001011232", "440301199003072313"]


def person_flag(
    reference: str,
    person: int,
    category: str,
    event: str,
    end: str | None = None,
    more: tuple[tuple[str, str], ...] = (),
) -> dict[str, Any]:
    """A flag on ``PEOPLE[person]`` as a member files it; identity theft is filed without a notice. ``more``
    gives the borrower's other identifiers, each (id_type, raw identifier): a mobile number, say."""
    item = flag_item(
        reference,
        token=member_token_of(PEOPLE[person]),
        category=category,
        event_date=event,
        end_date=end,
        **more_identifiers(*more),
    )
    if category == "identity_theft":
        item.pop("notice_date"), item.pop("notice_channel")
    return item


def contribute_rows(owners: dict[str, Institution], rows: list[tuple[str, str, int, str, str, str | None]]) -> None:
    """Each row (owner, reference, person, category, event date, end date) filed by its owner."""
    for owner, reference, person, category, event, end in rows:
        services.contribute(owners[owner], [person_flag(reference, person, category, event, end)])


def query_as_demo_member(
    resident: str = "11010519491231002X", purpose: str = "post_loan_review", correlation_id: str = "demo"
) -> Any:
    """The first demo member's query, under its demo API key, of one resident ID keyed with the demo's
    consortium key (by default the identifier README and docs/identifiers.md document)."""
    _prefix, secret = demo.demo_key_material(demo.CAST[0].code)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    token = member_token("cnid", resident, DEMO_CONSORTIUM_KEY)
    subject = {"correlation_id": correlation_id, "id_type": "cnid", "token": token}
    return client.post("/api/v1/queries", {"purpose": purpose, "subjects": [subject]}, format="json")
