"""A flag carries one to five identifiers of its borrower, in REST batches and files alike.

Each identifier is stored as its own platform token (a FlagToken row); the API shows their types,
never their tokens; sending a reference again replaces the flag's whole token set; a row of a
file whose identifiers meet another of the member's flags on one token but differ on another
type is stored and reported as ``shared_token``.
"""

import csv
import io
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from sharing.flags import services, storing, uploads
from sharing.flags.identifiers import NUMBERED_FIELDS
from sharing.keys.tokens import peppers, platform_token
from sharing.models import Flag, FlagToken, Upload, UploadError
from tests.factories import flag_item, member_token_of, more_identifiers, stored_tokens

pytestmark = pytest.mark.django_db

URL = "/api/v1/flags"
RESIDENT, MOBILE, PASSPORT = "11010519491231002X", "+8613800138000", "CHN:E12345678"
OTHER_RESIDENT, OTHER_MOBILE = "440524198001010013", "+8613900139000"
COLUMNS = ["reference", "id_type", "token", "category", "event_date", "notice_date", "notice_channel"]


def keyed(raw: str, id_type: str) -> bytes:
    return platform_token(member_token_of(raw, id_type), peppers())


def listed(*identifiers: tuple[str, str]) -> list[dict[str, str]]:
    """The JSON list form: [{"id_type": ..., "token": ...}, ...] of (id_type, raw identifier) pairs."""
    return [{"id_type": id_type, "token": member_token_of(raw, id_type)} for id_type, raw in identifiers]


def in_list_form(reference: str, *identifiers: tuple[str, str], **fields: Any) -> dict[str, Any]:
    item = flag_item(reference, **fields)
    del item["id_type"], item["token"]
    item["identifiers"] = listed(*identifiers)
    return item


@pytest.fixture
def contributor(cast, client_for):
    return client_for(cast.alpha["contributor"])


# --- REST ---------------------------------------------------------------------------------------------------


def test_a_flag_sent_with_three_flat_identifiers_is_stored_as_three_tokens(cast, contributor):
    item = flag_item("A-1", **more_identifiers(("mobile", MOBILE), ("passport", PASSPORT)))

    response = contributor.post(URL, {"flags": [item]}, format="json")

    assert response.status_code == 200, response.json()
    flag = Flag.objects.get(reference="A-1")
    assert stored_tokens(flag) == {
        "cnid": keyed(RESIDENT, "cnid"),
        "mobile": keyed(MOBILE, "mobile"),
        "passport": keyed(PASSPORT, "passport"),
    }
    assert set(FlagToken.objects.filter(flag=flag).values_list("pepper_version", flat=True)) == {peppers().version}


def test_a_flag_sent_with_a_list_of_identifiers_is_stored_the_same(contributor):
    flat = flag_item("FLAT", **more_identifiers(("mobile", MOBILE)))
    in_list = in_list_form("LIST", ("cnid", RESIDENT), ("mobile", MOBILE))

    response = contributor.post(URL, {"flags": [flat, in_list]}, format="json")

    assert response.status_code == 200, response.json()
    assert stored_tokens(Flag.objects.get(reference="FLAT")) == stored_tokens(Flag.objects.get(reference="LIST"))
    assert len(stored_tokens(Flag.objects.get(reference="LIST"))) == 2


def test_the_api_shows_the_identifier_types_in_the_order_sent_and_never_a_token(contributor):
    item = in_list_form("A-1", ("mobile", MOBILE), ("cnid", RESIDENT))
    flag_id = contributor.post(URL, {"flags": [item]}, format="json").json()["flags"][0]["id"]

    listed_flag = contributor.get(URL).json()["results"][0]
    one = contributor.get(f"{URL}/{flag_id}").json()

    for shown in (listed_flag, one):
        assert (shown["id_types"], shown["id_type"]) == (["mobile", "cnid"], "mobile")
        text = json.dumps(shown)
        assert member_token_of(MOBILE, "mobile") not in text
        assert keyed(MOBILE, "mobile").hex() not in text
        assert "token" not in shown


def test_a_list_of_flags_costs_the_same_queries_however_many_identifiers(contributor, django_assert_max_num_queries):
    contributor.post(
        URL,
        {"flags": [flag_item(f"A-{n}", **more_identifiers(("mobile", MOBILE))) for n in range(20)]},
        format="json",
    )
    with django_assert_max_num_queries(12):
        assert len(contributor.get(URL).json()["results"]) == 20


def test_the_id_type_filter_finds_a_flag_by_any_of_its_types(contributor):
    contributor.post(
        URL,
        {"flags": [flag_item("BOTH", **more_identifiers(("mobile", MOBILE))), flag_item("CNID-ONLY")]},
        format="json",
    )

    def found(id_type: str) -> list[str]:
        return sorted(flag["reference"] for flag in contributor.get(URL, {"id_type": id_type}).json()["results"])

    assert found("mobile") == ["BOTH"]
    assert found("cnid") == ["BOTH", "CNID-ONLY"]
    assert found("passport") == []


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        # Two identifiers of one type, flat and listed.
        ({"id_type_2": "cnid", "token_2": member_token_of(OTHER_RESIDENT)}, {("id_type_2", "duplicate_id_type")}),
        (
            {"id_type": None, "token": None, "identifiers": listed(("cnid", RESIDENT), ("cnid", OTHER_RESIDENT))},
            {("identifiers[1].id_type", "duplicate_id_type")},
        ),
        # Six identifiers.
        (
            {
                "id_type": None,
                "token": None,
                "identifiers": [{"id_type": "cnid", "token": member_token_of(RESIDENT)}] * 6,
            },
            {("identifiers", "too_many_identifiers")},
        ),
        # A bad token, flat and listed; a raw identifier instead of a token.
        ({"id_type_2": "mobile", "token_2": "ab" * 31}, {("token_2", "bad_token")}),
        (
            {"id_type": None, "token": None, "identifiers": [{"id_type": "mobile", "token": MOBILE}]},
            {("identifiers[0].token", "bad_token")},
        ),
        # Half a pair; both forms at once; an empty list; a type the standard does not know.
        ({"token_3": member_token_of(MOBILE, "mobile")}, {("id_type_3", "required")}),
        ({"identifiers": listed(("mobile", MOBILE))}, {("identifiers", "identifier_forms")}),
        ({"id_type": None, "token": None, "identifiers": []}, {("identifiers", "required")}),
        ({"id_type_2": "ssn", "token_2": member_token_of(MOBILE, "mobile")}, {("id_type_2", "unknown_id_type")}),
        (
            {"id_type": None, "token": None, "identifiers": [{"id_type": "mobile", "token": "a" * 64, "raw": MOBILE}]},
            {("identifiers[0].raw", "unknown_field")},
        ),
    ],
)
def test_identifiers_the_rule_refuses_are_field_errors_and_nothing_of_the_batch_is_stored(contributor, fields, errors):
    batch = [flag_item("GOOD-1"), flag_item("BAD-1", **fields)]

    response = contributor.post(URL, {"flags": batch}, format="json")

    assert response.status_code == 400, response.json()
    assert {(error["field"], error["code"]) for error in response.json()["errors"]} == {
        (f"flags[1].{field}", code) for field, code in errors
    }
    assert MOBILE not in response.content.decode()
    assert not Flag.objects.exists()
    assert not FlagToken.objects.exists()


def test_sending_a_reference_again_replaces_its_token_set(contributor):
    contributor.post(URL, {"flags": [flag_item("A-1", **more_identifiers(("mobile", MOBILE)))]}, format="json")
    first = Flag.objects.get()

    item = in_list_form("A-1", ("passport", PASSPORT), ("cnid", OTHER_RESIDENT))
    response = contributor.post(URL, {"flags": [item]}, format="json")

    assert response.json()["updated"] == 1
    assert Flag.objects.get().pk == first.pk
    assert stored_tokens(first) == {"passport": keyed(PASSPORT, "passport"), "cnid": keyed(OTHER_RESIDENT, "cnid")}
    assert FlagToken.objects.count() == 2


# --- files --------------------------------------------------------------------------------------------------


def csv_bytes(rows: list[dict[str, Any]], columns: list[str]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(column) is None else str(row[column]) for column in columns])
    return text.getvalue().encode()


def run(client, content: bytes, name: str = "flags.csv") -> Upload:
    response = client.post("/api/v1/uploads", {"file": SimpleUploadedFile(name, content)}, format="multipart")
    assert response.status_code == 202, response.json()
    uploads.process(response.json()["id"])
    return Upload.objects.get(pk=response.json()["id"])


def lines(upload: Upload) -> list[tuple[int, str, str]]:
    return list(UploadError.objects.filter(upload=upload).order_by("row", "id").values_list("row", "field", "code"))


@pytest.fixture(params=["set-based", "portable"])
def path(request, monkeypatch):
    """Both ways a chunk is stored: PostgreSQL's COPY and merge, and the ORM's (SQLite's, and REST's)."""
    if request.param == "set-based" and connection.vendor != "postgresql":
        pytest.skip("the set-based path is PostgreSQL's")
    if request.param == "portable":
        monkeypatch.setattr(storing, "copy_and_merge", None)
        monkeypatch.setattr(connection, "vendor", "portable")
    return request.param


def test_a_csv_file_with_numbered_identifier_columns_stores_each_identifier(contributor, path, settings):
    settings.UPLOAD_CHUNK_ROWS = 2
    rows = [
        flag_item("A-1", **more_identifiers(("mobile", MOBILE), ("passport", PASSPORT))),
        flag_item("A-2"),  # one identifier: the numbered columns left empty
        flag_item("A-3", token=member_token_of(OTHER_RESIDENT), **more_identifiers(("mobile", OTHER_MOBILE))),
    ]
    content = csv_bytes(rows, [*COLUMNS, *NUMBERED_FIELDS])

    upload = run(contributor, content)

    assert (upload.status, upload.created_count, upload.rejected_count) == ("succeeded", 3, 0)
    tokens = {flag.reference: stored_tokens(flag) for flag in Flag.objects.all()}
    assert {reference: sorted(found) for reference, found in tokens.items()} == {
        "A-1": ["cnid", "mobile", "passport"],
        "A-2": ["cnid"],
        "A-3": ["cnid", "mobile"],
    }
    assert tokens["A-1"]["passport"] == keyed(PASSPORT, "passport")
    assert lines(upload) == []


def test_a_file_row_again_replaces_the_token_set_on_either_path(contributor, path, settings):
    settings.UPLOAD_CHUNK_ROWS = 2
    columns = [*COLUMNS, "id_type_2", "token_2"]
    run(contributor, csv_bytes([flag_item("A-1", **more_identifiers(("mobile", MOBILE))), flag_item("A-2")], columns))

    again = [
        flag_item("A-1", id_type="passport", token=member_token_of(PASSPORT, "passport")),
        flag_item("A-2", **more_identifiers(("mobile", OTHER_MOBILE))),
    ]
    upload = run(contributor, csv_bytes(again, columns))

    assert (upload.created_count, upload.updated_count) == (0, 2)
    assert stored_tokens(Flag.objects.get(reference="A-1")) == {"passport": keyed(PASSPORT, "passport")}
    assert stored_tokens(Flag.objects.get(reference="A-2")) == {
        "cnid": keyed(RESIDENT, "cnid"),
        "mobile": keyed(OTHER_MOBILE, "mobile"),
    }
    assert FlagToken.objects.count() == 3


def test_a_later_row_of_one_file_wins_with_its_own_identifiers(contributor, path, settings):
    settings.UPLOAD_CHUNK_ROWS = 2
    columns = [*COLUMNS, "id_type_2", "token_2"]
    rows = [
        flag_item("A-1", **more_identifiers(("mobile", MOBILE))),
        flag_item("A-2"),
        flag_item("A-1", id_type="passport", token=member_token_of(PASSPORT, "passport")),  # the next chunk
    ]

    upload = run(contributor, csv_bytes(rows, columns))

    assert (upload.created_count, upload.superseded_count) == (2, 1)
    assert stored_tokens(Flag.objects.get(reference="A-1")) == {"passport": keyed(PASSPORT, "passport")}


def test_file_rows_with_identifiers_the_rule_refuses_get_a_line_each_and_the_rest_is_stored(contributor, path):
    columns = [*COLUMNS, *NUMBERED_FIELDS]
    rows = [
        flag_item("OK-1", **more_identifiers(("mobile", MOBILE))),  # line 2
        flag_item("DUP", id_type_2="cnid", token_2=member_token_of(OTHER_RESIDENT)),  # line 3
        flag_item("BAD", id_type_2="mobile", token_2=MOBILE),  # line 4: a raw number, not a token
        flag_item("HALF", id_type_3="mobile"),  # line 5
    ]

    upload = run(contributor, csv_bytes(rows, columns))

    assert (upload.created_count, upload.rejected_count) == (1, 3)
    assert lines(upload) == [
        (3, "id_type_2", "duplicate_id_type"),
        (4, "token_2", "bad_token"),
        (5, "token_3", "required"),
    ]
    assert list(Flag.objects.values_list("reference", flat=True)) == ["OK-1"]
    assert MOBILE not in json.dumps(list(UploadError.objects.values_list("message", flat=True)))


def test_json_lines_take_either_form_and_six_identifiers_are_refused(contributor, path):
    six = [{"id_type": "cnid", "token": member_token_of(RESIDENT)}] * 6
    items = [
        in_list_form("LIST", ("cnid", RESIDENT), ("mobile", MOBILE)),  # line 1
        flag_item("FLAT", **more_identifiers(("passport", PASSPORT))),  # line 2
        {**in_list_form("SIX", ("cnid", RESIDENT)), "identifiers": six},  # line 3
        {**flag_item("BOTH"), "identifiers": listed(("mobile", MOBILE))},  # line 4
    ]
    content = "".join(json.dumps(item) + "\n" for item in items).encode()

    upload = run(contributor, content, "flags.jsonl")

    assert (upload.created_count, upload.rejected_count) == (2, 2)
    assert lines(upload) == [(3, "identifiers", "too_many_identifiers"), (4, "identifiers", "identifier_forms")]
    assert sorted(stored_tokens(Flag.objects.get(reference="LIST"))) == ["cnid", "mobile"]
    assert sorted(stored_tokens(Flag.objects.get(reference="FLAT"))) == ["cnid", "passport"]


def test_a_csv_header_may_not_name_the_list_form(contributor):
    response = contributor.post(
        "/api/v1/uploads",
        {"file": SimpleUploadedFile("flags.csv", csv_bytes([], [*COLUMNS, "identifiers"]))},
        format="multipart",
    )

    assert response.status_code == 400
    assert [(error["field"], error["code"]) for error in response.json()["errors"]] == [
        ("columns.identifiers", "unknown_column")
    ]


# --- shared tokens ------------------------------------------------------------------------------------------


def test_a_row_sharing_a_token_with_another_of_the_members_flags_is_stored_and_reported(
    cast, contributor, path, settings
):
    """Two borrowers who share a phone: the same mobile, two resident IDs."""
    settings.UPLOAD_CHUNK_ROWS = 1  # each row meets the flags stored before it, and itself
    services.contribute(cast.alpha.institution, [flag_item("FATHER", **more_identifiers(("mobile", MOBILE)))])
    # Another member's flag on the same phone and yet another resident ID is never compared.
    services.contribute(
        cast.beta.institution,
        [flag_item("B-1", token=member_token_of("110101198001011232"), **more_identifiers(("mobile", OTHER_MOBILE)))],
    )
    columns = [*COLUMNS, "id_type_2", "token_2"]
    rows = [
        flag_item("FATHER-AGAIN", **more_identifiers(("mobile", MOBILE))),  # 2: the same borrower again
        flag_item("DAUGHTER", token=member_token_of(OTHER_RESIDENT), **more_identifiers(("mobile", MOBILE))),  # 3
        flag_item("FATHER-CNID-ONLY"),  # 4: one identifier differs from nothing
        flag_item("STRANGER", token=member_token_of(OTHER_RESIDENT), **more_identifiers(("mobile", OTHER_MOBILE))),
    ]

    upload = run(contributor, csv_bytes(rows, columns))

    assert (upload.status, upload.created_count, upload.rejected_count) == ("succeeded", 4, 0)
    # DAUGHTER meets FATHER and FATHER-AGAIN on the mobile, with another resident ID; STRANGER meets DAUGHTER
    # on the resident ID, with another mobile.
    assert lines(upload) == [(3, "identifiers", "shared_token"), (5, "identifiers", "shared_token")]
    assert Flag.objects.filter(institution=cast.alpha.institution, reference="DAUGHTER").exists()
    message = UploadError.objects.filter(code="shared_token").values_list("message", flat=True).first()
    assert message is not None
    assert "shared phone" in message


def test_another_members_flags_never_make_a_shared_token_warning(cast, contributor, path):
    services.contribute(cast.beta.institution, [flag_item("B-1", **more_identifiers(("mobile", MOBILE)))])
    rows = [flag_item("A-1", token=member_token_of(OTHER_RESIDENT), **more_identifiers(("mobile", MOBILE)))]

    upload = run(contributor, csv_bytes(rows, [*COLUMNS, "id_type_2", "token_2"]))

    assert lines(upload) == []


# --- whatever the identifiers field holds -------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=70),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
A_TOKEN = member_token_of(RESIDENT)
IDENTIFIER_SHAPES = st.one_of(
    JSON_VALUES,
    st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "id_type": st.sampled_from(["cnid", "mobile", "passport", "", "CNID"]) | JSON_VALUES,
                "token": st.sampled_from([A_TOKEN, A_TOKEN.upper(), "", "\x00" * 64, "\ud800" * 64]) | JSON_VALUES,
                "extra": JSON_VALUES,
            },
        )
        | JSON_VALUES,
        max_size=7,
    ),
)


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(identifiers=IDENTIFIER_SHAPES, flat=st.dictionaries(st.sampled_from(["id_type", *NUMBERED_FIELDS]), JSON_VALUES))
def test_whatever_the_identifiers_hold_the_answer_is_a_field_level_400_or_a_stored_flag(contributor, identifiers, flat):
    item = {**in_list_form("H-1", ("cnid", RESIDENT)), "identifiers": identifiers, **flat}

    # Escaped as JSON escapes (a lone surrogate as \ud800), as a hostile client may send it.
    response = contributor.post(URL, json.dumps({"flags": [item]}), content_type="application/json")

    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        errors = response.json()["errors"]
        assert errors
        assert all(error["field"].startswith("flags[0].") for error in errors)
    else:
        assert 1 <= FlagToken.objects.filter(flag__reference="H-1").count() <= 5
    Flag.objects.all().delete()
    FlagToken.objects.all().delete()


@hypothesis_settings(max_examples=40, deadline=None)
@given(identifiers=IDENTIFIER_SHAPES)
def test_the_checker_never_raises_whatever_the_identifiers_hold(identifiers):
    result = services.checker().check({**in_list_form("H-1", ("cnid", RESIDENT)), "identifiers": identifiers})

    if isinstance(result, list):
        assert result
    else:
        assert 1 <= len(result.identifiers) <= 5
