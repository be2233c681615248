"""The demo cast that ``manage.py seed_demo`` creates for a newcomer's first run.

Its passwords and keys are derived from the installation's own SECRET_KEY, so
they differ between installations, are never written down in the repository,
and come out the same every time the command runs.
"""

import base64
import hashlib
import hmac
import string
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ImproperlyConfigured, ValidationError

from accounts.choices import InstitutionKind, Role, Scope, Sector
from accounts.models import User


@dataclass(frozen=True)
class DemoInstitution:
    code: str
    name_zh: str
    name_en: str
    kind: str
    people: tuple[tuple[str, tuple[str, ...]], ...]
    key_scopes: tuple[str, ...] = ()
    sector: str = ""


MEMBER_SCOPES = (
    Scope.FLAGS_WRITE,
    Scope.LOANS_WRITE,
    Scope.MATCH,
    Scope.INSPECTIONS,
    Scope.REPORTS_READ,
    Scope.AUDIT_READ,
)

CAST = (
    DemoInstitution(
        "91310000MA1FL0D01K",
        "示例消费金融有限公司",
        "Demo Consumer Finance Co., Ltd.",
        InstitutionKind.MEMBER,
        (
            ("alpha-admin", (Role.INSTITUTION_ADMIN,)),
            ("alpha-contributor", (Role.CONTRIBUTOR,)),
            ("alpha-analyst", (Role.ANALYST,)),
            ("alpha-auditor", (Role.AUDITOR,)),
        ),
        MEMBER_SCOPES,
        Sector.CONSUMER_FINANCE,
    ),
    DemoInstitution(
        "91440300MA5EXK7R13",
        "示例小额贷款有限公司",
        "Demo Microlending Co., Ltd.",
        InstitutionKind.MEMBER,
        (
            ("beta-admin", (Role.INSTITUTION_ADMIN,)),
            ("beta-contributor", (Role.CONTRIBUTOR,)),
            ("beta-analyst", (Role.ANALYST,)),
            ("beta-auditor", (Role.AUDITOR,)),
        ),
        MEMBER_SCOPES,
        Sector.MICROLENDER,
    ),
    DemoInstitution(
        "11100000MB0143D410",
        "示例金融监管局",
        "Demo Financial Regulatory Bureau",
        InstitutionKind.REGULATOR,
        (("regulator-admin", (Role.INSTITUTION_ADMIN,)), ("regulator-staff", (Role.REGULATOR_STAFF,))),
        (Scope.REPORTS_READ, Scope.AUDIT_READ),
    ),
    DemoInstitution(
        "91110108MA01RPK01K",
        "风险共享平台运营中心",
        "Riskshare Platform Operations",
        InstitutionKind.OPERATOR,
        (("operator", (Role.OPERATOR,)),),
    ),
)


# The rest of the demo consortium (``manage.py seed_demo_consortium``): members with a history but no
# people to sign in as, and API keys whose secrets nobody is shown. With the cast's two members, five
# members in three sectors.
CONSORTIUM = (
    DemoInstitution(
        "91320100MA1WB4K7XM",
        "示例商业银行股份有限公司",
        "Demo Commercial Bank Co., Ltd.",
        InstitutionKind.MEMBER,
        (),
        MEMBER_SCOPES,
        Sector.BANK,
    ),
    DemoInstitution(
        "91330100MA2CF8N3PW",
        "示例普惠消费金融有限公司",
        "Demo Inclusive Consumer Finance Co., Ltd.",
        InstitutionKind.MEMBER,
        (),
        MEMBER_SCOPES,
        Sector.CONSUMER_FINANCE,
    ),
    DemoInstitution(
        "91510100MA6DT2H5Q0",
        "示例网络小额贷款有限公司",
        "Demo Online Microlending Co., Ltd.",
        InstitutionKind.MEMBER,
        (),
        MEMBER_SCOPES,
        Sector.MICROLENDER,
    ),
)
KEY_NAME = "Demo system"  # every demo member's API key


def _derive(label: str) -> bytes:
    return hmac.new(settings.SECRET_KEY.encode(), f"riskshare-demo:{label}".encode(), hashlib.sha256).digest()


def demo_password() -> str:
    """The cast's shared password: the first derivation that every person's password validators accept.

    A derived password can, by chance, look too much like somebody's username or
    e-mail address for ``UserAttributeSimilarityValidator``; the next one is tried.
    """
    for attempt in range(100):
        label = "password" if attempt == 0 else f"password:{attempt}"
        candidate = "demo-" + base64.b32encode(_derive(label)).decode().lower()[:12]
        if all(_acceptable(candidate, username) for cast in CAST for username, _ in cast.people):
            return candidate
    raise ImproperlyConfigured("No derived demo password passes AUTH_PASSWORD_VALIDATORS.")


def _acceptable(password: str, username: str) -> bool:
    try:
        password_validation.validate_password(password, User(username=username, email=demo_email(username)))
    except ValidationError:
        return False
    return True


def demo_email(username: str) -> str:
    return f"{username}@example.com"


def demo_key_material(code: str) -> tuple[str, str]:
    digest = _derive(f"api-key:{code}")
    alphabet = string.ascii_lowercase + string.digits
    prefix = "rs_" + "".join(alphabet[byte % len(alphabet)] for byte in digest[:8])
    secret = base64.urlsafe_b64encode(_derive(f"api-key-secret:{code}")).decode().rstrip("=")
    return prefix, f"{prefix}.{secret}"
