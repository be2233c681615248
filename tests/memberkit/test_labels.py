"""No label carries a borrower's identifier: the detector (memberkit.labels), and every way a label arrives.

Identifiers are generated valid by the standard's own check functions (python-stdnum's, which
``memberkit.identifiers`` uses, and then ``normalize`` itself), written in the writings the standard
normalizes (full-width characters, spaces and separators anywhere, lower-case x, +86, 0086, 86 or
0 in front of a mobile number), embedded in a label after and before other text, and sent as each
label: through the API, as a row of a file, and through a portal form.
"""

import unicodedata
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from accounts import validators
from memberkit import identifiers, labels
from memberkit.labels import holds_identifier
from portal.forms import FlagForm, WithdrawForm
from sharing.flags import services
from sharing.flags.checking import Checker
from sharing.flags.reading import Record
from sharing.matching import inspections
from sharing.models import Flag, Inspection
from tests.factories import flag_item, member_token_of

DB = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
TOKEN = member_token_of("11010519491231002X")
USCC_BODY = "0123456789ABCDEFGHJKLMNPQRTUWXY"


# --- Valid identifiers, by the standard's check functions --------------------------------------------------


@st.composite
def cnid_18(draw: st.DrawFn) -> str:
    born = draw(st.dates(date(1900, 1, 1), date.today()))
    body = f"{draw(st.integers(110000, 659999))}{born:%Y%m%d}{draw(st.integers(0, 999)):03d}"
    value = body + ric.calc_check_digit(body + "0")
    assert identifiers.normalize("cnid", value) == value
    return value


@st.composite
def cnid_15(draw: st.DrawFn) -> str:
    born = draw(st.dates(date(1900, 1, 1), date(1999, 12, 31)))
    value = f"{draw(st.integers(110000, 659999))}{born:%y%m%d}{draw(st.integers(0, 999)):03d}"
    identifiers.normalize("cnid", value)
    return value


@st.composite
def mobile(draw: st.DrawFn) -> str:
    value = "1" + draw(st.sampled_from("3456789")) + draw(st.text("0123456789", min_size=9, max_size=9))
    assert identifiers.normalize("mobile", value) == "+86" + value
    return value


@st.composite
def individual_business_code(draw: st.DrawFn) -> str:
    """A unified social credit code of an individual business (registration authority 9, category 2)."""
    body = "92" + draw(st.text("0123456789", min_size=6, max_size=6)) + draw(st.text(USCC_BODY, min_size=9, max_size=9))
    value = body + uscc.calc_check_digit(body)
    assert identifiers.normalize("uscc", value) == value
    return value


# --- Writings the standard normalizes ----------------------------------------------------------------------

FULL_WIDTH = {
    character: chr(ord(character) + 0xFEE0) for character in "0123456789ABCDEFGHJKLMNPQRTUWXYabcdefghjklmnpqrtuwxy"
}
JOINERS = [" ", "-", ".", "/", "\u3000", "(", ")", " - "]  # and tabs or line breaks, but those are control characters


def full_width(text: str) -> str:
    return "".join(FULL_WIDTH.get(character, character) for character in text)


REFERENCE_JOINERS = ["-", ".", "/"]  # what a flag's reference may hold: ASCII, no spaces


@st.composite
def writing(draw: st.DrawFn, value: str, *, reference: bool = False, prefixes: tuple[str, ...] = ("",)) -> str:
    """``value`` as a member might write it: separators anywhere, lower case, full-width, a prefix."""
    joiners = REFERENCE_JOINERS if reference else JOINERS
    characters = [draw(st.sampled_from([c, c.lower()])) for c in value]
    if not reference:
        characters = [draw(st.sampled_from([c, FULL_WIDTH.get(c, c)])) for c in characters]
    text = ""
    for character in characters:
        if text and draw(st.integers(0, 3)) == 0:
            text += draw(st.sampled_from(joiners))
        text += character
    return draw(st.sampled_from(prefixes)) + text


MOBILE_PREFIXES = ("", "86", "0086", "0", "+86", "+86 ", "(+86) ", "+86-", "\uff0b\uff18\uff16", "0086 ")


@st.composite
def written_identifier(draw: st.DrawFn, *, reference: bool = False) -> str:
    kind = draw(st.sampled_from(["cnid_18", "cnid_15", "mobile", "uscc"]))
    if kind == "cnid_18":
        return draw(writing(draw(cnid_18()), reference=reference))
    if kind == "cnid_15":
        return draw(writing(draw(cnid_15()), reference=reference))
    if kind == "mobile":
        prefixes = ("", "86", "0086", "0") if reference else MOBILE_PREFIXES
        return draw(writing(draw(mobile()), reference=reference, prefixes=prefixes))
    return draw(writing(draw(individual_business_code()), reference=reference))


# Text before and after an identifier that ends where it starts: anything but a letter or digit glued to it.
BEFORE = ["", "LN-", "客户", "合同号\uff1a", "ref: ", "A_", "#", "借款人 ", "CASE/2026/"]
AFTER = ["", "-01", "号", " end", "/A", "_2", "#3", "\uff08续\uff09"]
REFERENCE_BEFORE = ["", "LN-", "A_", "CASE/2026/", "R:", "C#"]
REFERENCE_AFTER = ["", "-01", "/A", "_2", "#3", ".old"]


@st.composite
def label_holding(draw: st.DrawFn, *, reference: bool = False, most: int = 64) -> str:
    before, after = (REFERENCE_BEFORE, REFERENCE_AFTER) if reference else (BEFORE, AFTER)
    text = draw(st.sampled_from(before)) + draw(written_identifier(reference=reference)) + draw(st.sampled_from(after))
    assume(len(text) <= most)
    return text


def codes(errors):
    return {(error.field, error.code) for error in errors}


# --- The detector ------------------------------------------------------------------------------------------


@given(label_holding())
@settings(max_examples=600)
@example("11010519491231002X")
@example("110105 19491231 002x")
@example(full_width("11010519491231002X"))
@example("110105491231002")
@example("(+86) 138.0013.8000")
@example("0086-138-0013-8000")
@example("张三13800138000")
@example("Tel:+8613800138000")
@example("9211 0000 6000 3734 1h")
@example("110105\t19491231\n002X")
def test_a_label_holding_an_identifier_in_any_writing_is_found(label):
    assert holds_identifier(label)


@pytest.mark.parametrize(
    "label",
    [
        "REF11010519491231002X",  # an 18-character number glued to letters: its check character makes it one
        "REF110105 19491231 002XYZ",
        "+13800138000",  # a mainland number with a stray +
        "LN_13800138000",
        "合同13800138000号",
    ],
)
def test_identifiers_glued_or_with_a_stray_plus_are_found(label):
    assert holds_identifier(label)


@pytest.mark.parametrize(
    "label",
    [
        "L0001234",
        "LN-2026-000123",
        "LN13800138000",  # 11 digits glued to letters: a record number, not a mobile number
        "C110105491231002",  # 15 digits glued to a letter: a record number
        "20260115000123",
        "2024011513800138000",  # a run of digits is never cut
        "202601150930001234",
        "110105194912310021",  # an 18-digit number whose check character is wrong
        "+44 7911 123456",  # a mobile number, but not a mainland one
        "91110000600037341L",  # a company's credit code: public, not a person's
        "consumer-2026",
        "贷后检查 2026 第一批",
        "",
    ],
)
def test_record_numbers_are_not_identifiers(label):
    assert not holds_identifier(label)


@given(st.from_regex(r"\A[A-Za-z]{0,4}[-_/.#:]?[0-9]{1,10}([-_/.#:][A-Za-z]{1,4})?\Z"))
def test_a_record_number_of_at_most_ten_digits_is_never_an_identifier(label):
    assert not holds_identifier(label)


@given(
    st.one_of(
        written_identifier(),
        st.text(alphabet="0123456789xX+-./() \u3000\uff11\uff12\uff13\uff18\uff16\uff38", max_size=24),
    )
)
@settings(max_examples=400)
def test_whatever_the_standard_reads_as_one_of_these_identifiers_is_refused_as_a_label(text):
    def reads(id_type):
        try:
            return identifiers.normalize(id_type, text)
        except identifiers.InvalidIdentifier:
            return None

    mobile_number, credit_code = reads("mobile"), reads("uscc")
    if (
        reads("cnid")
        or (mobile_number and mobile_number.startswith("+861"))
        or (credit_code and credit_code.startswith("92"))
    ):
        assert holds_identifier(text)


@given(
    st.lists(st.sampled_from(["0", "00", "86", "0086", "17951", "1795100", "11234", "12000", "8", "6"]), max_size=4),
    st.sampled_from(["", "+"]),
    st.text("0123456789", min_size=10, max_size=10),
)
@settings(max_examples=400)
def test_the_mobile_shape_holds_every_mainland_number_phonenumbers_reads(prefixes, plus, rest):
    """The cheap shape checked before phonenumbers must not miss a number phonenumbers reads as mainland."""
    text = plus + "".join(prefixes) + "1" + rest
    try:
        mainland = identifiers.normalize("mobile", text).startswith("+861")
    except identifiers.InvalidIdentifier:
        mainland = False
    if mainland:
        assert labels._MOBILE_SHAPE.fullmatch(text.lstrip("+"))


def test_the_spaces_are_every_whitespace_character_after_nfkc():
    spaces = {unicodedata.normalize("NFKC", chr(c)) for c in range(0x110000) if chr(c).isspace()}
    assert spaces == set(labels.SPACES)


def test_the_portal_says_what_the_files_say_in_english():
    with translation.override("en"):
        assert str(validators.IDENTIFIER_MESSAGE) == labels.MESSAGE
        assert str(validators.CONTROL_MESSAGE) == labels.CONTROL_MESSAGE


# --- Every way a label arrives -----------------------------------------------------------------------------


@pytest.fixture
def member(cast, client_for):
    """Alpha's contributor, analyst and admin: alpha contributes, so it may query and inspect."""
    services.contribute(cast.alpha.institution, [flag_item("ALPHA-OWN")])
    people = ("contributor", "analyst", "institution_admin")
    return tuple(client_for(cast.alpha[person]) for person in people)


def problem_codes(response):
    assert response.status_code == 400, response.content
    return {(error["field"], error["code"]) for error in response.json()["errors"]}


@pytest.mark.django_db
@given(reference=label_holding(reference=True), label=label_holding(most=64))
@settings(max_examples=15, deadline=None, suppress_health_check=DB)
def test_the_api_refuses_every_label_that_holds_an_identifier(member, reference, label):
    contributor, analyst, admin = member
    own = Flag.objects.get(reference="ALPHA-OWN")

    flags = contributor.post("/api/v1/flags", {"flags": [flag_item(reference)]})
    subject = {"correlation_id": label.strip(), "id_type": "cnid", "token": TOKEN}
    query = analyst.post("/api/v1/queries", {"purpose": "post_loan_review", "subjects": [subject]})
    consent = analyst.post(
        "/api/v1/queries",
        {"purpose": "loan_application", "consent_reference": label, "subjects": [{**subject, "correlation_id": "C-1"}]},
    )
    portfolio = analyst.post(
        "/api/v1/inspections",
        {
            "file": SimpleUploadedFile("book.csv", b"correlation_id,id_type,token\n"),
            "portfolio": label,
            "purpose": "credit_review",
            "consent_reference": label,
        },
        format="multipart",
    )
    # A file's name loses anything up to a slash on the way in; the rest still holds the identifier.
    named = SimpleUploadedFile(label.replace("/", "-") + ".csv", b"reference,id_type,token,category,event_date\n")
    upload = contributor.post("/api/v1/uploads", {"file": named}, format="multipart")
    withdrawal = contributor.patch(f"/api/v1/flags/{own.pk}", {"status": "withdrawn", "reason": label}, format="json")
    key = admin.post("/api/v1/api-keys", {"name": label, "scopes": ["match"]})

    assert problem_codes(flags) == {("flags[0].reference", "identifier_in_label")}
    assert problem_codes(query) == {("subjects[0].correlation_id", "identifier_in_label")}
    assert problem_codes(consent) == {("consent_reference", "identifier_in_label")}
    assert problem_codes(portfolio) == {
        ("portfolio", "identifier_in_label"),
        ("consent_reference", "identifier_in_label"),
    }
    assert problem_codes(upload) == {("file", "identifier_in_label")}
    assert problem_codes(withdrawal) == {("reason", "identifier_in_label")}
    assert problem_codes(key) == {("name", "identifier_in_label")}
    assert not Flag.objects.filter(reference=reference).exists()
    assert not Inspection.objects.exists()
    assert Flag.objects.get(pk=own.pk).status == "active"


@given(reference=label_holding(reference=True), correlation_id=label_holding(most=64))
@settings(max_examples=300)
def test_a_file_row_whose_label_holds_an_identifier_is_refused(reference, correlation_id):
    """What the upload and inspection workers run on each row (the worker tests below send whole files)."""
    checker = Checker(identifiers_peppers(), date.today())
    assert codes(checker.check(flag_item(reference))) == {("reference", "identifier_in_label")}

    row = {"correlation_id": correlation_id, "id_type": "cnid", "token": TOKEN}
    probes, refusals, rows = inspections._probes([Record(2, row, None)], identifiers_peppers())
    assert (probes, rows) == ([], 1)
    assert codes(error for _row, error in refusals) == {("correlation_id", "identifier_in_label")}


def identifiers_peppers():
    from sharing.keys.tokens import Peppers

    return Peppers({1: bytes(32)})


@pytest.mark.django_db
@given(reference=label_holding(reference=True), reason=label_holding(most=500))
@settings(max_examples=15, deadline=None, suppress_health_check=DB)
def test_the_portal_refuses_every_label_that_holds_an_identifier(cast, client, reference, reason):
    client.force_login(cast.alpha["contributor"])
    recently = timezone.localdate() - timedelta(days=30)
    data = {
        "id_type": "cnid",
        "token": TOKEN,
        "reference": reference,
        "category": "overdue_90",
        "event_date": recently.isoformat(),
        "notice_date": recently.isoformat(),
        "notice_channel": "letter",
    }

    page = client.post("/flags/new/", data)

    assert page.status_code == 200
    assert {error.code for error in page.context["form"].errors.as_data()["reference"]} == {"identifier_in_label"}
    assert not Flag.objects.exists()
    withdraw = WithdrawForm({"reason": reason})
    assert not withdraw.is_valid()
    assert [error.code for error in withdraw.errors.as_data()["reason"]] == ["identifier_in_label"]


def test_the_filing_form_shows_the_refusal_in_chinese():
    with translation.override("zh-hans"):
        form = FlagForm({"reference": "13800138000"})
        form.is_valid()
        assert "记录编号" in form.errors["reference"][0]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_refuses_the_rows_whose_labels_hold_identifiers_and_stores_the_others(
    celery_worker, cast, client_for
):
    from sharing.models import InspectionError, Upload, UploadError
    from tests.workers import wait_for

    contributor, analyst = client_for(cast.alpha["contributor"]), client_for(cast.alpha["analyst"])
    flags = (
        "reference,id_type,token,category,event_date,notice_date,notice_channel\n"
        f"LN-2026-000001,cnid,{TOKEN},overdue_90,2026-03-01,2026-02-20,sms\n"
        f"13800138000,cnid,{TOKEN},overdue_90,2026-03-01,2026-02-20,sms\n"
        f"CASE/110105-19491231-002x,cnid,{TOKEN},overdue_90,2026-03-01,2026-02-20,sms\n"
    )
    book = f"correlation_id,id_type,token\nL-1,cnid,{TOKEN}\n客户 +86 138 0013 8000,cnid,{TOKEN}\n"

    upload = contributor.post(
        "/api/v1/uploads", {"file": SimpleUploadedFile("flags.csv", flags.encode())}, format="multipart"
    )
    wait_for(lambda: Upload.objects.get(pk=upload.json()["id"]).is_finished)
    inspection = analyst.post(
        "/api/v1/inspections",
        {"file": SimpleUploadedFile("book.csv", book.encode()), "portfolio": "book", "purpose": "post_loan_review"},
        format="multipart",
    )
    wait_for(lambda: Inspection.objects.get(pk=inspection.json()["id"]).is_finished)

    stored = Upload.objects.get(pk=upload.json()["id"])
    assert (stored.status, stored.created_count, stored.rejected_count) == ("succeeded", 1, 2)
    assert set(UploadError.objects.values_list("row", "field", "code")) == {
        (3, "reference", "identifier_in_label"),
        (4, "reference", "identifier_in_label"),
    }
    assert list(Flag.objects.filter(institution=cast.alpha.institution).values_list("reference", flat=True)) == [
        "LN-2026-000001"
    ]
    inspected = Inspection.objects.get(pk=inspection.json()["id"])
    assert (inspected.status, inspected.rows_done, inspected.rejected_count) == ("succeeded", 2, 1)
    assert list(InspectionError.objects.values_list("row", "field", "code")) == [
        (3, "correlation_id", "identifier_in_label")
    ]


# --- What is stored already --------------------------------------------------------------------------------


def test_count_identifier_labels_counts_per_institution_and_prints_no_label(cast):
    """Labels stored before the rule (written here past the checks, as they were then) are counted, not shown."""
    import io

    from django.core.management import call_command

    from accounts import services as account_services
    from accounts.audit import record
    from accounts.choices import AuditAction, Scope
    from sharing.models import InspectionHit
    from tests.factories import InspectionFactory

    alpha, beta = cast.alpha.institution, cast.beta.institution
    services.contribute(alpha, [flag_item("A-1"), flag_item("A-2"), flag_item("A-3")])
    services.contribute(beta, [flag_item("B-1")])
    Flag.objects.filter(reference="A-1").update(reference="13800138000")
    Flag.objects.filter(reference="A-2").update(reference="LN-11010519491231002X", withdrawal_reason="张三 13900139000")
    Flag.objects.filter(reference="B-1").update(reference="110105491231002")
    made = InspectionFactory.create(institution=alpha, portfolio="借款人 13800138000", consent_reference="AUTH-1")
    inspection = Inspection.objects.get(pk=made.pk)
    InspectionFactory.create(institution=beta, portfolio="book", consent_reference="+86 138 0013 8000")
    hit = {"category": "overdue_90", "institutions": 1, "latest_event_date": date(2026, 3, 1)}
    hit.update(disputed=False, resolved=False)
    InspectionHit.objects.bulk_create(
        [
            InspectionHit(inspection=inspection, row=2, correlation_id="13800138000", **hit),
            InspectionHit(inspection=inspection, row=3, correlation_id="L-3", **hit),
            InspectionHit(inspection=inspection, row=4, correlation_id=full_width("11010519491231002x"), **hit),
        ]
    )
    record(AuditAction.QUERY, institution=beta, purpose="loan_application", consent_reference="13800138000-AUTH")
    key, _secret = account_services.issue_api_key(institution=alpha, name="system", scopes=[Scope.MATCH])
    type(key).objects.filter(pk=key.pk).update(name="for 13800138000")
    out = io.StringIO()

    call_command("count_identifier_labels", stdout=out)

    *lines, total = out.getvalue().splitlines()
    assert sorted(lines) == sorted(
        [
            f"{alpha.code}  flag references: 2",
            f"{beta.code}  flag references: 1",
            f"{alpha.code}  withdrawal reasons: 1",
            f"{alpha.code}  inspection portfolios: 1",
            f"{beta.code}  inspection consent references: 1",
            f"{alpha.code}  inspection hits' correlation ids: 2",
            f"{beta.code}  audit consent references: 1",
            f"{alpha.code}  API key names: 1",
        ]
    )
    assert total.startswith("10 of ")
    assert total.endswith(" stored labels hold an identifier.")
    for shown in ("13800138000", "1380013", "11010519491231002", "110105491231002", "13900139000"):
        assert shown not in out.getvalue()

    only_beta = io.StringIO()
    call_command("count_identifier_labels", "--institution", beta.code.lower(), stdout=only_beta)
    assert alpha.code not in only_beta.getvalue()
    assert only_beta.getvalue().splitlines()[-1].startswith("3 of ")
