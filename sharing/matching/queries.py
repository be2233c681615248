"""Matching: what other members have flagged about the borrowers a member asks after, and how many lenders
are looking at or lending to them.

A subject is one borrower known by one to five platform tokens; a flag is found by any of its
tokens that is one of the subject's. An answer never says which institution contributed, nor its
references or details: per subject and category, only how many distinct institutions flagged it
(each flag and each institution once, however many tokens matched), the month of the most recent
event, and whether any such flag is disputed or resolved. The caller's own flags are reported
apart, as its own. Reciprocity decides what a member may see (``visible_categories``), and whether
it gets the multi-lender figures (sharing.matching.lending: loan contributions).

On PostgreSQL one statement does it all: the flags, the caller's contributions, the quota's
counting, the query records' writing and the multi-lender figures; SQLite takes several.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts import prepared
from accounts.models import Institution
from memberkit.vocabulary import CONSENT_REQUIRED, LENDING_FIGURES, consent_refusal
from sharing.choices import PROTECTIVE_CATEGORIES, FlagStatus
from sharing.matching import lending, quotas, records
from sharing.messages import message
from sharing.models import ContributedCategory, Flag, FlagToken

# Expired and withdrawn flags are no longer shared.
SHARED_STATUSES = (FlagStatus.ACTIVE, FlagStatus.RESOLVED)


def consent_missing(purpose: str, consent_reference: str | None) -> bool:
    """The consent rule (credit-reporting rule, art. 18): a query or inspection for a loan application or
    a credit review needs the reference of the borrowers' written authorization; a blank one is none.

    Written once, in the member kit (``vocabulary.consent_refusal``), which the client asks as well.
    """
    return consent_refusal(purpose, consent_reference) == CONSENT_REQUIRED


class NotReciprocal(Exception):
    """The institution has contributed nothing within the reciprocity window."""


def visible_categories(institution: Institution, now: datetime) -> frozenset[str] | None:
    """The categories of other members' flags the institution may see; None means all of them.

    Raises ``NotReciprocal`` when it has contributed nothing for ``MATCH_RECIPROCITY_DAYS``.
    """
    with connection.cursor() as cursor:
        cursor.execute(_CONTRIBUTED, _since(institution, now))
        return _visible(frozenset(category for (category,) in cursor.fetchall()))


def _visible(contributed: frozenset[str]) -> frozenset[str] | None:
    if not contributed:
        raise NotReciprocal()
    if not settings.MATCH_OWN_CATEGORIES_ONLY:
        return None
    return contributed | PROTECTIVE_CATEGORIES


def _since(institution: Institution, now: datetime) -> dict[str, Any]:
    since = now - timedelta(days=settings.MATCH_RECIPROCITY_DAYS)
    return {"institution": institution.pk, "since": connection.ops.adapt_datetimefield_value(since)}


# The SQL of every query request is built once rather than by the ORM each time: building a
# queryset's SQL costs more than running it.
# The institution's contribution stamps within the window: parameters _since(...).
_CONTRIBUTED_SINCE = (
    f" FROM {ContributedCategory._meta.db_table}"
    " WHERE institution_id = %(institution)s AND last_contributed_at >= %(since)s"
)
_CONTRIBUTED = "SELECT category" + _CONTRIBUTED_SINCE

# The rows of a lookup: (token, institution or row, category or band, event date, disputed, status or
# kind, flag id, figures). A flag has its token; the other rows have none and say what they are in
# the status's column: none for a category contributed lately, these for the others.
_COUNTED_ROW = "counted"  # a window's total with this query: the total, and the window in the category's column
_LOANS_ROW = "loans"  # the caller has reported loans lately: it gets the multi-lender figures
_LENDING_ROW = "lending"  # a subject's figures: its row, its band, the counts in LENDING_FIGURES' order
_ANSWERED = f"EXISTS (SELECT FROM contributed) AND {quotas.WITHIN}"
_FLAG_COLUMNS = "f.institution_id, f.category, f.event_date, f.disputed, f.status, f.id"
_COUNTS = [figure for figure in LENDING_FIGURES if figure != "open_amount_band"]


@lru_cache(maxsize=4)
def _lookup_sql(recording: bool) -> str:
    """PostgreSQL's one statement for a query: its subjects' shared flags; the categories the caller has
    contributed lately; the query's subjects counted against its windows unless the caller is not
    reciprocal; if ``recording``, the query records written if it is counted; whether the caller has
    reported loans lately and, if so, the subjects' multi-lender figures.

    Each token probes the flag tokens' index, and each flag found its primary key, in LATERAL
    subqueries that OFFSET 0 keeps the planner from turning into joins that hang on statistics.
    Parameters: ``_since(...)``, ``Charge.params()``, ``lending.params(...)``,
    ``lending.reciprocity_params(...)``, ``records.params(...)`` if recording, the subjects
    (``rows``, ``tokens``: one (row, token) pair each) and ``statuses``.
    """
    recorded = f", {records.insert_cte('asked', _ANSWERED)}" if recording else ""
    counts = ", ".join(f"figures.{figure}" for figure in _COUNTS)
    return (
        f"WITH contributed AS (SELECT category {_CONTRIBUTED_SINCE}),"  # noqa: S608
        f" {quotas.counted(requires='EXISTS (SELECT FROM contributed)')},"
        " asked AS (SELECT * FROM unnest(%(rows)s::int[], %(tokens)s::bytea[]) AS v(row, token))"
        f"{recorded}"
        f" SELECT t.token, {_FLAG_COLUMNS}, NULL::int[] FROM (SELECT DISTINCT token FROM asked) t"
        f" CROSS JOIN LATERAL (SELECT flag_id FROM {FlagToken._meta.db_table} WHERE token = t.token OFFSET 0) ft"
        " CROSS JOIN LATERAL (SELECT id, institution_id, category, event_date, disputed, status"
        f" FROM {Flag._meta.db_table} WHERE id = ft.flag_id AND status = ANY(%(statuses)s) OFFSET 0) f"
        " UNION ALL SELECT NULL, NULL, category, NULL, NULL, NULL, NULL, NULL FROM contributed"
        f" UNION ALL SELECT NULL, subjects, period, NULL, NULL, '{_COUNTED_ROW}', NULL, NULL FROM counted"
        f" UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, '{_LOANS_ROW}', NULL, NULL WHERE {lending.LOANS_RECIPROCAL}"
        f" UNION ALL SELECT NULL, figures.row, figures.open_amount_band, NULL, NULL, '{_LENDING_ROW}', NULL,"
        f" ARRAY[{counts}] FROM ({lending.figures_sql('asked')}) figures"
        f" WHERE {lending.LOANS_RECIPROCAL} AND {_ANSWERED}"
    )


@lru_cache(maxsize=256)
def _portable_sql(tokens: int) -> str:
    """Elsewhere (SQLite): the shared flags on ``tokens`` tokens, the categories contributed lately and
    whether the caller has reported loans lately. Parameters: ``_since(...)``,
    ``lending.reciprocity_params(...)``, ``t0`` ... and ``statuses`` ``s0`` ...."""
    places = ", ".join(f"%(t{n})s" for n in range(tokens))
    statuses = ", ".join(f"%(s{n})s" for n in range(len(SHARED_STATUSES)))
    return (
        f"WITH contributed AS (SELECT category {_CONTRIBUTED_SINCE})"  # noqa: S608
        f" SELECT ft.token, {_FLAG_COLUMNS}, NULL FROM {FlagToken._meta.db_table} ft"
        f" JOIN {Flag._meta.db_table} f ON f.id = ft.flag_id WHERE ft.token IN ({places}) AND f.status IN ({statuses})"
        " UNION ALL SELECT NULL, NULL, category, NULL, NULL, NULL, NULL, NULL FROM contributed"
        f" UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, '{_LOANS_ROW}', NULL, NULL WHERE {lending.LOANS_RECIPROCAL}"
    )


@dataclass
class CategoryHits:
    institutions: set[int] = field(default_factory=set)
    flags: int = 0
    latest: date = date.min
    disputed: bool = False
    resolved: bool = False

    def add(self, institution_id: int, event_date: date, disputed: bool, status: str) -> None:
        self.institutions.add(institution_id)
        self.flags += 1
        self.latest = max(self.latest, event_date)
        self.disputed = self.disputed or disputed
        self.resolved = self.resolved or status == FlagStatus.RESOLVED


@dataclass
class Found:
    """What is known about one subject: other members' flags and the caller's own, by category."""

    others: dict[str, CategoryHits] = field(default_factory=dict)
    own: dict[str, CategoryHits] = field(default_factory=dict)


# A flag found on a token: (flag id, institution, category, event date, disputed, status).
FlagRow = tuple[int, int, str, date, bool, str]
# A subject: its correlation id and its platform tokens.
Subject = tuple[str, Sequence[bytes]]


@dataclass
class Lookup:
    """What one round trip learnt: the flags by token, what the caller may see, the windows' totals
    (PostgreSQL), whether it gets the multi-lender figures, and those figures by subject (PostgreSQL)."""

    flags: dict[bytes, list[FlagRow]]
    visible: frozenset[str] | None
    totals: dict[str, int] | None
    loans_reciprocal: bool
    figures: dict[int, lending.Figures] | None


def _lookup(
    institution: Institution,
    subjects: Sequence[Subject],
    now: datetime,
    charge: quotas.Charge,
    record: dict[str, Any] | None,
) -> Lookup:
    """Run the lookup: on PostgreSQL the one statement of ``_lookup_sql``, which also counts the charge,
    writes the records ``record`` gives (``records.params``) and computes the figures; elsewhere the
    flags, contributions and loan reciprocity only."""
    pairs = [(row, token) for row, (_, tokens) in enumerate(subjects) for token in tokens]
    statuses = [status.value for status in SHARED_STATUSES]
    values = {**_since(institution, now), **lending.reciprocity_params(institution, now)}
    postgresql = connection.vendor == "postgresql"
    if postgresql:
        sql = _lookup_sql(record is not None)
        values |= {
            **charge.params(),
            **lending.params(institution.pk, timezone.localdate(now)),
            **(record or {}),
            "rows": [row for row, _ in pairs],
            "tokens": [token for _, token in pairs],
            "statuses": statuses,
        }
    else:
        tokens = list({token for _, token in pairs})
        sql = _portable_sql(len(tokens))
        values |= {f"t{n}": token for n, token in enumerate(tokens)}
        values |= {f"s{n}": status for n, status in enumerate(statuses)}
    with prepared.cursor() as cursor:
        cursor.execute(sql, values)
        rows = cursor.fetchall()
    contributed: set[str] = set()
    totals: dict[str, int] = {}
    figures: dict[int, lending.Figures] = {}
    flags: dict[bytes, list[FlagRow]] = {}
    loans_reciprocal = False
    for token, number, category, event_date, disputed, kind, flag_id, counts in rows:
        if token is not None:
            if not isinstance(event_date, date):  # SQLite gives a date as text, and a boolean as 0 or 1
                event_date, disputed = date.fromisoformat(event_date), bool(disputed)
            flags.setdefault(bytes(token), []).append((flag_id, number, category, event_date, disputed, kind))
        elif kind is None:
            contributed.add(category)
        elif kind == _COUNTED_ROW:
            totals[category] = int(number)
        elif kind == _LOANS_ROW:
            loans_reciprocal = True
        elif kind == _LENDING_ROW:
            figures[number] = dict(zip(_COUNTS, counts, strict=True)) | {"open_amount_band": category}
    return Lookup(
        flags=flags,
        visible=_visible(frozenset(contributed)),
        totals=totals if postgresql else None,
        loans_reciprocal=loans_reciprocal,
        figures=figures if postgresql else None,
    )


def subject_flags(institution: Institution, lookup: Lookup, tokens: Sequence[bytes]) -> Found:
    """A subject's flags, by category, each flag once however many of ``tokens`` it carries."""
    seen: set[int] = set()
    result = Found()
    for token in tokens:
        for flag_id, institution_id, category, event_date, disputed, status in lookup.flags.get(token, ()):
            if flag_id in seen:
                continue
            seen.add(flag_id)
            if institution_id == institution.pk:
                groups = result.own
            elif lookup.visible is None or category in lookup.visible:
                groups = result.others
            else:
                continue
            groups.setdefault(category, CategoryHits()).add(institution_id, event_date, disputed, status)
    return result


def answer(correlation_id: str, found: Found | None, figures: lending.Figures | None = None) -> dict[str, Any]:
    """One subject's answer: its correlation id, never its tokens, and counts, never contributors;
    ``lending``: its multi-lender figures, or None when the caller does not get them."""
    others = found.others if found else {}
    own = found.own if found else {}
    return {
        "correlation_id": correlation_id,
        "hit": bool(others),
        "categories": [
            {
                "category": category,
                "institutions": len(hits.institutions),
                "latest_event_month": hits.latest.strftime("%Y-%m"),
                "disputed": hits.disputed,
                "resolved": hits.resolved,
            }
            for category, hits in sorted(others.items())
        ],
        "own": [
            {
                "category": category,
                "flags": hits.flags,
                "latest_event_month": hits.latest.strftime("%Y-%m"),
                "disputed": hits.disputed,
                "resolved": hits.resolved,
            }
            for category, hits in sorted(own.items())
        ],
        "lending": figures,
    }


def lending_note(loans_reciprocal: bool) -> dict[str, str] | None:
    """Why an answer has no multi-lender figures (the caller reported no loans lately), or None."""
    if loans_reciprocal:
        return None
    code = "no_loan_contributions"
    return {"code": code, "message": message(code, days=settings.MATCH_RECIPROCITY_DAYS)}


@dataclass
class Answered:
    subjects: list[dict[str, Any]]
    hits: int
    lending_note: dict[str, str] | None


def query(
    institution: Institution,
    subjects: Sequence[Subject],
    now: datetime,
    charge: quotas.Charge,
    *,
    purpose: str,
    pepper_version: int,
) -> Answered:
    """Answers for (correlation id, platform tokens) subjects, in their order, how many are hits, and the
    note that says why there are no multi-lender figures, if there are none.

    The subjects are counted against the institution's quota and rate (``charge``), in the lookup's
    own statement where the database allows; over a limit, it raises and nothing is written. An
    answered query for a lending purpose leaves its query records (sharing.matching.records); the
    figures never count the query being answered.
    """
    today = timezone.localdate(now)
    record = None
    if records.recorded(purpose):
        record = records.params(institution.pk, today, purpose, pepper_version)
    lookup = _lookup(institution, subjects, now, charge, record)
    charge.judge(lookup.totals if lookup.totals is not None else charge.add())
    figures: dict[int, lending.Figures] = {}
    if lookup.loans_reciprocal:
        if lookup.figures is not None:
            figures = lookup.figures
        else:
            pairs = [(row, token) for row, (_, tokens) in enumerate(subjects) for token in tokens]
            figures = lending.portable(institution.pk, today, pairs)
    if lookup.totals is None and record is not None:  # not written by the lookup: SQLite
        records.write(
            institution.pk, [token for _, tokens in subjects for token in tokens], today, purpose, pepper_version
        )
    answers = [
        answer(
            correlation_id,
            subject_flags(institution, lookup, tokens),
            (figures.get(row) or dict(lending.NONE)) if lookup.loans_reciprocal else None,
        )
        for row, (correlation_id, tokens) in enumerate(subjects)
    ]
    return Answered(answers, sum(1 for item in answers if item["hit"]), lending_note(lookup.loans_reciprocal))
