"""The plain path of a query's request agrees with ``QueryRequestSerializer``, which defines a valid query."""

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from sharing.api.serializers.queries import QueryRequestSerializer, plain_query

TOKENS = [hashlib.sha256(bytes([n])).hexdigest() for n in range(3)]
texts = st.one_of(
    st.sampled_from(
        ["", " ", "C-1", " C-2 ", "AUTH-7", "x" * 64, "x" * 65, "y" * 128, "y" * 129, "a\x00b", "\ud800", "换行\n"]
    ),
    st.text(max_size=70),
    st.integers(-5, 5),
    st.none(),
)
subjects = st.fixed_dictionaries(
    {},
    optional={
        "correlation_id": texts,
        "id_type": st.one_of(st.sampled_from(["cnid", "mobile", "uscc", "passport", "CNID", "ssn", ""]), texts),
        "token": st.one_of(st.sampled_from([*TOKENS, TOKENS[0].upper(), f" {TOKENS[1]} ", TOKENS[2][:63]]), texts),
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
valid_requests = st.fixed_dictionaries(
    {
        "purpose": st.sampled_from(["post_loan_review", "collection", "fraud_investigation"]),
        "subjects": st.lists(
            st.fixed_dictionaries(
                {
                    "correlation_id": st.from_regex(r"[A-Za-z0-9-]{1,64}", fullmatch=True),
                    "id_type": st.sampled_from(["cnid", "mobile", "uscc", "passport"]),
                    "token": st.sampled_from(TOKENS),
                }
            ),
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
