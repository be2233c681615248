"""Factories for the standing cast and anything else a test needs."""

import itertools
from typing import Any

import factory
import factory.django
from stdnum.cn import uscc

from accounts.choices import InstitutionKind, Role
from accounts.models import Institution, User

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
