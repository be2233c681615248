"""The plain path of a query's request agrees with ``QueryRequestSerializer``, which defines a valid query,
with subjects of one to five identifiers in either form."""

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from sharing.api.serializers.queries import QueryRequestSerializer, plain_query
from sharing.flags.identifiers import PAIRS

TOKENS = [hashlib.sha256(bytes([n])).hexdigest() for n in range(3)]
texts = st.one_of(
    st.sampled_from(
        ["", " ", "C-1", " C-2 ", "AUTH-7", "x" * 64, "x" * 65, "y" * 128, "y" * 129, "a\x00b", "\ud800", "换行\n"]
    ),
    st.text(max_size=70),
    st.integers(-5, 5),
    st.none(),
)
id_types = st.one_of(st.sampled_from(["cnid", "mobile", "uscc", "passport", "CNID", "ssn", ""]), texts)
tokens = st.one_of(st.sampled_from([*TOKENS, TOKENS[0].upper(), f" {TOKENS[1]} ", TOKENS[2][:63]]), texts)
identifier = st.one_of(
    st.fixed_dictionaries({}, optional={"id_type": id_types, "token": tokens, "raw": texts}),
    st.fixed_dictionaries({"id_type": st.sampled_from(["cnid", "mobile", "uscc", "passport"]), "token": tokens}),
    texts,
)
subjects = st.fixed_dictionaries(
    {},
    optional={
        "correlation_id": texts,
        "id_type": id_types,
        "token": tokens,
        "id_type_2": id_types,
        "token_3": tokens,
        "identifiers": st.one_of(st.lists(identifier, max_size=6), texts),
        "extra": texts,
    },
)
requests = st.fixed_dictionaries(
    {},
    optional={
        "purpose": st.one_of(
            st.sampled_from(
                ["loan_application", "credit_review", "post_loan_review", "collection", "fraud_investigation"]
            ),
            texts,
        ),
        "consent_reference": texts,
        "subjects": st.one_of(st.lists(subjects, max_size=4), st.lists(subjects, min_size=100, max_size=101), texts),
    },
)
correlation_ids = st.from_regex(r"[A-Za-z0-9-]{1,64}", fullmatch=True)
# One to four identifiers of distinct types, as pairs.
pairs = st.lists(st.sampled_from(["cnid", "mobile", "uscc", "passport"]), min_size=1, max_size=4, unique=True).flatmap(
    lambda types: st.tuples(*(st.tuples(st.just(id_type), st.sampled_from(TOKENS)) for id_type in types))
)


def flat(correlation_id, given):
    subject = {"correlation_id": correlation_id}
    for (type_field, token_field), (id_type, token) in zip(PAIRS, given, strict=False):
        subject[type_field], subject[token_field] = id_type, token
    return subject


def listed(correlation_id, given):
    return {"correlation_id": correlation_id, "identifiers": [{"id_type": t, "token": k} for t, k in given]}


valid_requests = st.fixed_dictionaries(
    {
        "purpose": st.sampled_from(["post_loan_review", "collection", "fraud_investigation"]),
        "subjects": st.lists(
            st.tuples(st.sampled_from([flat, listed]), correlation_ids, pairs).map(lambda t: t[0](t[1], t[2])),
            min_size=1,
            max_size=5,
        ),
    }
)


def serializer_answer(data):
    form = QueryRequestSerializer(data=data)
    if not form.is_valid():
        return None
    validated = form.validated_data
    return {**validated, "subjects": [dict(subject) for subject in validated["subjects"]]}


@given(pairs, correlation_ids)
def test_both_forms_of_a_subject_give_the_same_identifiers(given_pairs, correlation_id):
    data = {"purpose": "collection", "subjects": [flat(correlation_id, given_pairs)]}
    as_list = {"purpose": "collection", "subjects": [listed(correlation_id, given_pairs)]}

    plain = plain_query(data)

    assert plain is not None
    assert plain == plain_query(as_list) == serializer_answer(as_list)
    assert plain["subjects"][0]["identifiers"] == list(given_pairs)


@settings(max_examples=400)
@given(st.one_of(requests, valid_requests, st.lists(texts), texts))
def test_what_the_plain_path_accepts_the_serializer_accepts_alike(data):
    plain = plain_query(data)

    if plain is not None:
        assert plain == serializer_answer(data)


@given(valid_requests)
def test_plain_valid_queries_take_the_plain_path(data):
    plain = plain_query(data)

    assert plain is not None
    assert plain == serializer_answer(data)
