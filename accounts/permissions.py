"""Who may do what: every role and scope check of the platform lives here.

A view declares an ``allow`` table, action by action (``list``, ``create``,
``revoke`` ... or the HTTP method for plain views), and ``ActionAllowed``
reads it. An action missing from the table is refused, so a new action is
closed until somebody decides who may use it.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rest_framework import exceptions
from rest_framework.permissions import BasePermission

if TYPE_CHECKING:  # DRF's views import the default permission classes, which live here.
    from rest_framework.request import Request
    from rest_framework.views import APIView

from accounts.choices import InstitutionKind, Role, Scope


@dataclass(frozen=True)
class Allow:
    """People holding any of ``roles`` (any person with ``any_person``); keys carrying ``scope``
    (any key with ``any_key``)."""

    roles: frozenset[str] = field(default_factory=frozenset)
    scope: str | None = None
    any_key: bool = False
    any_person: bool = False
    # Further scopes, any of which admits a key: a rule that serves two kinds of record (``either``).
    other_scopes: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def people(cls, *roles: str, scope: str | None = None) -> "Allow":
        return cls(roles=frozenset(roles), scope=scope)

    @property
    def scopes(self) -> frozenset[str]:
        """The scopes any of which admits a key."""
        return self.other_scopes | ({self.scope} if self.scope is not None else set())


def either(first: Allow, *others: Allow) -> Allow:
    """Whoever any of the rules admits: their roles, and keys carrying any of their scopes."""
    rules = (first, *others)
    return Allow(
        roles=frozenset().union(*(rule.roles for rule in rules)),
        scope=first.scope,
        any_key=any(rule.any_key for rule in rules),
        any_person=any(rule.any_person for rule in rules),
        other_scopes=frozenset().union(*(rule.scopes for rule in others)) - {first.scope},
    )


EVERYONE = Allow(any_person=True, any_key=True)

# The platform's access rules, each named once; the API's ``allow`` tables, the portal's pages,
# its navigation and the dashboard all use these names.
PEOPLE_MANAGERS = Allow.people(Role.INSTITUTION_ADMIN)
OPERATORS = Allow.people(Role.OPERATOR)
AUDIT_READERS = Allow.people(Role.AUDITOR, Role.REGULATOR_STAFF, scope=Scope.AUDIT_READ)
FLAG_WRITERS = Allow.people(Role.CONTRIBUTOR, scope=Scope.FLAGS_WRITE)
FLAG_READERS = Allow.people(Role.CONTRIBUTOR, Role.AUDITOR, scope=Scope.FLAGS_WRITE)
# Loans (positive information): reported by contributors and their keys; read back only by the member's own.
LOAN_WRITERS = Allow.people(Role.CONTRIBUTOR, scope=Scope.LOANS_WRITE)
LOAN_READERS = Allow.people(Role.CONTRIBUTOR, Role.AUDITOR, scope=Scope.LOANS_WRITE)
# Files of flags or of loans go through one endpoint (``kind``): whoever writes or reads either may send or
# follow a file job, and sending one checks the rule of its kind (FLAG_WRITERS, LOAN_WRITERS) once it is read.
UPLOAD_SENDERS = either(FLAG_WRITERS, LOAN_WRITERS)
UPLOAD_READERS = either(FLAG_READERS, LOAN_READERS)
MATCHERS = Allow.people(Role.ANALYST, scope=Scope.MATCH)
INSPECTORS = Allow.people(Role.ANALYST, scope=Scope.INSPECTIONS)
# Who sees the institution's query activity on the dashboard: those who query, and its auditors.
QUERY_ACTIVITY_READERS = Allow.people(Role.ANALYST, Role.AUDITOR)
REPORT_READERS = Allow.people(Role.REGULATOR_STAFF, Role.OPERATOR, Role.ANALYST, Role.AUDITOR, scope=Scope.REPORTS_READ)
REPORT_REQUESTERS = Allow.people(Role.REGULATOR_STAFF, Role.OPERATOR, scope=Scope.REPORTS_REQUEST)
# Whole reports, unsliced: in the portal, whose report pages are for these people only (the API
# also gives them to the regulator's keys, see ``reads_whole_reports``).
WHOLE_REPORT_READERS = Allow.people(Role.REGULATOR_STAFF, Role.OPERATOR)
# Every member's recent contributions against its queries (the portal's member activity page):
# the platform's own records, not a published report, so for whole-report readers only.
MEMBER_ACTIVITY_READERS = WHOLE_REPORT_READERS


def admits(caller: Any, rule: Allow) -> bool:
    """Whether ``rule`` admits ``caller``: what ``check`` enforces, asked without raising."""
    if not caller.is_authenticated:
        return False
    try:
        check(caller, rule)
    except exceptions.PermissionDenied:
        return False
    return True


def has_role(caller: Any, *roles: str) -> bool:
    return bool(caller.is_authenticated and not caller.is_api_key and caller.role_set & set(roles))


def is_operator(caller: Any) -> bool:
    return has_role(caller, Role.OPERATOR)


def is_regulator(caller: Any) -> bool:
    return has_role(caller, Role.REGULATOR_STAFF)


def can_grant_role(caller: Any, role: str) -> bool:
    """Anyone who may manage people grants roles, but only operators grant the operator role."""
    return role != Role.OPERATOR or is_operator(caller)


def reads_whole_reports(caller: Any) -> bool:
    """Regulator staff, their institution's keys and operators read whole reports; anyone else allowed
    to read reports reads only their own institution's slice of each."""
    if caller.is_api_key:
        return bool(caller.institution.kind == InstitutionKind.REGULATOR)
    return admits(caller, WHOLE_REPORT_READERS)


def can_use_admin(caller: Any) -> bool:
    """The Django admin is the operators' tool, and only theirs."""
    return bool(getattr(caller, "is_active", False)) and is_operator(caller)


def check(caller: Any, rule: Allow | None) -> None:
    """Raise ``PermissionDenied`` with a precise code unless ``rule`` admits ``caller``."""
    if rule is None:
        raise exceptions.PermissionDenied("Nobody may do this here.", code="not_allowed")
    if caller.is_api_key:
        scopes = rule.scopes
        if rule.any_key or not scopes.isdisjoint(caller.scopes):
            return
        if not scopes:
            raise exceptions.PermissionDenied("API keys cannot do this; a person must.", code="people_only")
        named = " or ".join(f"'{scope}'" for scope in sorted(scopes))
        raise exceptions.PermissionDenied(f"The API key lacks the scope {named}.", code="missing_scope")
    if rule.any_person or caller.role_set & rule.roles:
        return
    needed = ", ".join(sorted(rule.roles)) or "none"
    raise exceptions.PermissionDenied(f"This needs one of the roles: {needed}.", code="role_required")


class DenyAll(BasePermission):
    """The default for views that name no permission: closed."""

    def has_permission(self, request: "Request", view: "APIView") -> bool:
        return False


class ActionAllowed(BasePermission):
    """Authenticated callers whom the view's ``allow`` table admits for this action."""

    def has_permission(self, request: "Request", view: "APIView") -> bool:
        if not (request.user and request.user.is_authenticated):
            return False  # DRF answers 401 with the Api-Key challenge.
        method = (request.method or "").lower()
        if method == "options" or method not in view.http_method_names or not hasattr(view, method):
            # OPTIONS describes what the caller may do (DRF asks this class again per method);
            # a method the view does not have gets DRF's 405, not a misleading 403.
            return True
        table: Mapping[str, Allow] = getattr(view, "allow", {})
        action = getattr(view, "action", None) or ("get" if method == "head" else method)
        check(request.user, table.get(action))
        return True


def roles_of(caller: Any) -> list[str]:
    return sorted(caller.role_set)


def scopes_of(caller: Any) -> list[str]:
    return sorted(caller.scopes) if caller.is_api_key else []
