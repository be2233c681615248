"""Institution codes (GB 32100) and network allow-lists, over free-form input."""

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import uscc

from accounts.validators import validate_network, validate_uscc
from memberkit.identifiers import USCC_ALPHABET

ALPHABET = "".join(sorted(USCC_ALPHABET))
bodies = st.text(alphabet=ALPHABET, min_size=17, max_size=17)


def reason(value: str) -> str | None:
    try:
        validate_uscc(value)
    except ValidationError as error:
        return error.code
    return None


@pytest.mark.parametrize("code", ["91110000600037341L", "91310000MA1FL0D01K", "11100000MB0143D410"])
def test_known_codes_are_valid(code):
    assert reason(code) is None


@given(bodies)
def test_every_body_with_its_check_character_is_valid(body):
    assert reason(body + uscc.calc_check_digit(body)) is None


@given(bodies, st.sampled_from(ALPHABET))
def test_any_other_check_character_is_a_bad_checksum(body, check):
    if check != uscc.calc_check_digit(body):
        assert reason(body + check) == "bad_checksum"


@given(bodies, st.integers(0, 16), st.sampled_from("IOSVZ-a "))
def test_letters_outside_the_alphabet_are_bad_characters(body, position, letter):
    code = body + uscc.calc_check_digit(body)
    assert reason(code[:position] + letter + code[position + 1 :]) == "bad_characters"


@given(st.text(alphabet=ALPHABET).filter(lambda text: len(text) != 18))
def test_anything_but_eighteen_characters_is_bad_length(text):
    assert reason(text) == "bad_length"


@given(st.text())
def test_arbitrary_text_never_crashes_the_validator(text):
    assert reason(text) in {None, "bad_length", "bad_characters", "bad_checksum"}


@pytest.mark.parametrize("network", ["203.0.113.7", "203.0.113.0/24", "2001:db8::/32", "::1"])
def test_addresses_and_networks_are_accepted(network):
    validate_network(network)


@pytest.mark.parametrize("network", ["203.0.113.7/24", "300.1.1.1", "example.com", "", "10.0.0.0/33"])
def test_malformed_networks_are_refused(network):
    with pytest.raises(ValidationError) as raised:
        validate_network(network)
    assert raised.value.code == "bad_network"
