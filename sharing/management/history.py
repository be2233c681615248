"""The demo consortium's made-up history, as data: who filed which flag when, who asked after whom.

Nothing here touches the database (``sharing.management.demo`` writes it). A fixed random
seed makes the history the same on every installation, dated back from the day it is made;
the borrowers are synthetic identifiers, keyed with the published test key of
docs/identifiers.md, so that anyone can look them up in the demo and nobody real is among them.
"""

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from stdnum.cn import ric

from memberkit.identifiers import InvalidIdentifier, member_token
from sharing.choices import PROTECTIVE_CATEGORIES, AmountBand, Category, NoticeChannel, ProductType, QueryPurpose

# The published test key of docs/identifiers.md (the bytes 0 to 31): the demo's consortium key.
# Anyone can compute its tokens, which is what a demo needs and why real data must never use it.
DEMO_CONSORTIUM_KEY = bytes(range(32))
SEED = 16
FLAGS = 20_000
MEMBERS = 5
DAYS = 548  # eighteen months of filings
QUERY_DAYS = 30
REFERENCE = "CASE-"  # the consortium's flags, apart from seed_demo_flags' six
# The test vectors' identifiers belong to seed_demo_flags' six flags and the README's first query.
TEST_VECTORS = frozenset({"11010519491231002X", "13800138000"})
SHARE = (0.24, 0.18, 0.26, 0.17, 0.15)  # of the flags, by member (the cast's two first)
CATEGORIES = {
    Category.OVERDUE_30: 30,
    Category.OVERDUE_60: 18,
    Category.OVERDUE_90: 15,
    Category.DEFAULT: 9,
    Category.FRAUD_SUSPECTED: 8,
    Category.FRAUD_CONFIRMED: 3,
    Category.IDENTITY_THEFT: 1,
    Category.FUND_MISUSE: 7,
    Category.COURT_ENFORCEMENT: 9,
}
OVERDUE = (Category.OVERDUE_30, Category.OVERDUE_60, Category.OVERDUE_90)
DELAYS = ((0, 30, 55), (31, 90, 25), (91, 180, 12), (181, 365, 6), (366, 500, 2))  # days, weight
REGIONS = ("110105", "310104", "440305", "510107", "330106", "320102", "420106", "610113")
PRODUCTS = ("cash_loan", "consumer_instalment", "credit_card", "car_loan", "small_business_loan")
CITIES = ("上海", "深圳", "成都", "杭州", "南京", "武汉", "西安", "北京")
# (purpose, fewest and most subjects, weight): single look-ups at application, batches after the loan.
ASKING = (
    (QueryPurpose.LOAN_APPLICATION, 1, 3, 58),
    (QueryPurpose.POST_LOAN_REVIEW, 20, 100, 25),
    (QueryPurpose.COLLECTION, 5, 30, 10),
    (QueryPurpose.FRAUD_INVESTIGATION, 1, 5, 6),
    (QueryPurpose.CREDIT_REVIEW, 1, 2, 1),
)


@dataclass(frozen=True)
class Borrower:
    id_type: str
    raw: str
    token: str  # the member token under DEMO_CONSORTIUM_KEY


@dataclass
class Filing:
    """One flag as its member sends it, on the day it is filed."""

    member: int
    filed_on: date
    borrower: Borrower
    item: dict[str, Any]
    withdrawn: bool = False


@dataclass
class Query:
    member: int
    day: date
    minutes: int  # after midnight
    purpose: str
    subjects: list[str]  # member tokens
    by_person: bool


@dataclass
class Lending:
    """One loan as its member reports it (positive information, under the borrower's consent)."""

    member: int
    reported_on: date  # when the member reported it last: the day it opened, or it closed
    borrower: Borrower
    item: dict[str, Any]


@dataclass
class History:
    today: date
    borrowers: list[Borrower]
    filings: list[Filing]
    queries: list[Query]
    book: list[Borrower | str]  # the first member's portfolio: borrowers, or tokens of clean ones
    added: list[Borrower | str] = field(default_factory=list)  # loans new in the book since then
    loans: list[Lending] = field(default_factory=list)  # the consortium's loans (``lendings``)

    def batches(self) -> list[tuple[int, date, list[Filing]]]:
        """The filings as each member sends them: a batch a week, dated by its last filing."""
        weeks: dict[tuple[int, date], list[Filing]] = defaultdict(list)
        for filing in self.filings:
            weeks[filing.member, filing.filed_on - timedelta(days=filing.filed_on.weekday())].append(filing)
        return sorted(
            ((member, max(f.filed_on for f in batch), batch) for (member, _), batch in weeks.items()),
            key=lambda batch: (batch[1], batch[0]),
        )

    def most_flagged(self, by_others_than: int) -> tuple[Borrower, int]:
        """The resident whom most other members flagged (and have not withdrawn): the README's look-up."""
        members: dict[Borrower, set[int]] = defaultdict(set)
        for filing in self.filings:
            if filing.member != by_others_than and not filing.withdrawn and filing.borrower.id_type == "cnid":
                members[filing.borrower].add(filing.member)
        borrower = max(members, key=lambda b: (len(members[b]), b.raw))
        return borrower, len(members[borrower])


def make(today: date, size: int = FLAGS) -> History:
    """The history of ``size`` flags ending ``today``."""
    rng = random.Random(SEED)  # noqa: S311 - a made-up history, the same everywhere: no secret
    borrowers = [_borrower(rng) for _ in range(max(10, size * 3 // 5))]
    regulars = borrowers[: len(borrowers) // 6]  # borrowing from several lenders: what sharing is for
    filings = [
        _filing(rng, serial, today, rng.choice(regulars) if rng.random() < 0.35 else rng.choice(borrowers))
        for serial in range(size)
    ]
    scale = size / FLAGS
    queries = [
        query
        for offset in range(QUERY_DAYS - 1, -1, -1)
        for member in range(MEMBERS)
        for query in _queries(rng, member, today - timedelta(days=offset), scale, borrowers)
    ]
    # Most of a lender's book is clean: borrowers no member has flagged (tokens of nobody in the history).
    book: list[Borrower | str] = [*rng.sample(borrowers, len(borrowers) // 16)]
    book += [rng.randbytes(32).hex() for _ in range(len(book) * 4)]
    rng.shuffle(book)
    added: list[Borrower | str] = [*rng.sample(borrowers, max(1, len(book) // 20))]
    return History(today, borrowers, filings, queries, book, added, lendings(today, borrowers, size))


def _borrower(rng: random.Random) -> Borrower:
    while True:
        if rng.random() < 0.85:
            born = date(1965, 1, 1) + timedelta(days=rng.randrange(38 * 365))
            body = f"{rng.choice(REGIONS)}{born:%Y%m%d}{rng.randrange(1000):03d}"
            id_type, raw = "cnid", body + ric.calc_check_digit(body + "0")
        else:
            id_type, raw = "mobile", f"1{rng.choice('358')}{rng.randrange(10**9):09d}"
        if raw in TEST_VECTORS:
            continue
        try:
            return Borrower(id_type, raw, member_token(id_type, raw, DEMO_CONSORTIUM_KEY))
        except InvalidIdentifier:  # a number no operator has been given
            continue


def _filing(rng: random.Random, serial: int, today: date, borrower: Borrower) -> Filing:
    # The consortium grows: a day near the end is about twice as likely as one at the start.
    while True:
        back = rng.randrange(DAYS)
        if rng.random() < 1 - 0.5 * back / DAYS:
            break
    filed = today - timedelta(days=back)
    low, high, _ = rng.choices(DELAYS, [weight for *_, weight in DELAYS])[0]
    event = filed - timedelta(days=rng.randint(low, high))
    category = rng.choices(list(CATEGORIES), list(CATEGORIES.values()))[0]
    item: dict[str, Any] = {
        "reference": f"{REFERENCE}{serial:06d}",
        "id_type": borrower.id_type,
        "token": borrower.token,
        "category": category.value,
        "event_date": event.isoformat(),
    }
    if rng.random() < 0.8:
        item["amount_band"] = rng.choices(AmountBand.values, [40, 35, 17, 6, 2])[0]
    if category not in PROTECTIVE_CATEGORIES:  # negative information needs prior notice
        item["notice_date"] = min(filed, event + timedelta(days=rng.randint(1, 10))).isoformat()
        item["notice_channel"] = rng.choice(NoticeChannel.values)
    if category in OVERDUE and rng.random() < 0.3:
        item["end_date"] = min(today, event + timedelta(days=rng.randint(10, 200))).isoformat()
    if rng.random() < 0.4:
        details: dict[str, Any] = {"product": rng.choice(PRODUCTS), "branch": rng.choice(CITIES)}
        if category in OVERDUE:
            details["days_past_due"] = (filed - event).days + 30 * (1 + OVERDUE.index(category))
        item["details"] = details
    member = rng.choices(range(MEMBERS), SHARE)[0]
    return Filing(member, filed, borrower, item, withdrawn=rng.random() < 0.005)


def _queries(rng: random.Random, member: int, day: date, scale: float, borrowers: list[Borrower]) -> list[Query]:
    if day.weekday() < 5:
        count = max(1, round(rng.uniform(2, 6) * SHARE[member] * MEMBERS * scale))
    else:
        count = 1 if rng.random() < 0.5 else 0
    asked = []
    for _ in range(count):
        purpose, fewest, most, _ = rng.choices(ASKING, [weight for *_, weight in ASKING])[0]
        subjects = [
            rng.choice(borrowers).token if rng.random() < 0.3 else rng.randbytes(32).hex()
            for _ in range(rng.randint(fewest, most))
        ]
        minutes = rng.randint(9 * 60, 18 * 60)
        asked.append(Query(member, day, minutes, purpose.value, subjects, by_person=member < 2 and most <= 3))
    return sorted(asked, key=lambda query: query.minutes)


# The consortium's loans, made with a random generator of their own: the flags' history stays as it was.
LOANS = 4_000  # at FLAGS flags; a smaller history has proportionally fewer
LOAN_SEED = 17
LOAN_REFERENCE = "LOAN-"
LOAN_DAYS = 1_460  # four years of loans opened: none closed past its five years of retention
# The borrowers borrowing from several lenders at once (multi-lending): how many lenders each has, by weight.
LENDERS = ((2, 30), (3, 35), (4, 25), (5, 10))
PRODUCT_SHARES = {
    ProductType.CASH_LOAN: (45, (55, 35, 8, 2, 0)),  # weight, and the weights of the amount bands
    ProductType.INSTALMENT: (30, (60, 35, 5, 0, 0)),
    ProductType.CREDIT_CARD: (20, (50, 45, 5, 0, 0)),
    ProductType.OTHER: (5, (20, 30, 30, 15, 5)),
}
TERMS = (90, 180, 365, 730, 1095)  # days a loan runs before it is repaid


def lendings(today: date, borrowers: list[Borrower], size: int = FLAGS) -> list[Lending]:
    """The consortium's loans, about ``LOANS * size / FLAGS``: the regular borrowers of the flags' history
    (the first sixth) have loans at two to five members at once, others one; some loans are repaid,
    some carry a second identifier of the borrower (a mobile number beside a resident ID)."""
    rng = random.Random(LOAN_SEED)  # noqa: S311 - a made-up history, the same everywhere: no secret
    wanted = max(10, LOANS * size // FLAGS)
    regulars = borrowers[: max(1, len(borrowers) // 6)]
    second: dict[Borrower, Borrower] = {}
    loans: list[Lending] = []
    serial = 0
    while len(loans) < wanted:
        borrower = rng.choice(regulars) if rng.random() < 0.4 else rng.choice(borrowers)
        several = borrower in regulars[: len(regulars) // 2]
        lenders = rng.choices([n for n, _ in LENDERS], [w for _, w in LENDERS])[0] if several else 1
        for member in rng.sample(range(MEMBERS), lenders):
            if borrower.id_type == "cnid" and borrower not in second and rng.random() < 0.3:
                second[borrower] = _mobile(rng)
            loans.append(_lending(rng, serial, today, member, borrower, second.get(borrower)))
            serial += 1
    return loans


def _mobile(rng: random.Random) -> Borrower:
    while True:
        raw = f"1{rng.choice('358')}{rng.randrange(10**9):09d}"
        if raw in TEST_VECTORS:
            continue
        try:
            return Borrower("mobile", raw, member_token("mobile", raw, DEMO_CONSORTIUM_KEY))
        except InvalidIdentifier:
            continue


def _lending(
    rng: random.Random, serial: int, today: date, member: int, borrower: Borrower, mobile: Borrower | None
) -> Lending:
    # More loans opened lately than four years ago, as the consortium grows.
    while True:
        back = rng.randrange(LOAN_DAYS)
        if rng.random() < 1 - 0.6 * back / LOAN_DAYS:
            break
    opened = today - timedelta(days=back)
    product = rng.choices(list(PRODUCT_SHARES), [weight for weight, _ in PRODUCT_SHARES.values()])[0]
    band = rng.choices(AmountBand.values, PRODUCT_SHARES[product][1])[0]
    item: dict[str, Any] = {
        "reference": f"{LOAN_REFERENCE}{serial:06d}",
        "id_type": borrower.id_type,
        "token": borrower.token,
        "product": product.value,
        "opened_on": opened.isoformat(),
        "amount_band": band,
        "consent_reference": f"CONSENT-{opened:%Y%m}-{serial:06d}",
    }
    if mobile is not None:
        item["id_type_2"], item["token_2"] = mobile.id_type, mobile.token
    closes = opened + timedelta(days=rng.choice(TERMS))
    reported = opened
    if product != ProductType.CREDIT_CARD and closes <= today and rng.random() < 0.9:
        item["closed_on"] = closes.isoformat()
        reported = closes
    return Lending(member, reported, borrower, item)
