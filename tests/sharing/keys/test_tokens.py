"""Platform tokens: keyed again by the platform, re-keyable by chaining without member tokens."""

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memberkit.identifiers import member_token
from sharing.keys.tokens import InvalidMemberToken, Peppers, platform_token, rekey

ONE = Peppers.parse("1 " + "11" * 32)
TWO = Peppers.parse("1 " + "11" * 32 + "\n2 " + "22" * 32)
member_tokens = st.binary(min_size=32, max_size=32).map(bytes.hex)


def test_platform_token_is_hmac_of_the_member_tokens_bytes():
    token = member_token("cnid", "11010519491231002X", bytes(32))

    expected = hmac.new(bytes.fromhex("11" * 32), bytes.fromhex(token), hashlib.sha256).digest()
    assert platform_token(token, ONE) == expected
    assert len(expected) == 32


@given(member_tokens)
def test_rekeying_a_stored_token_gives_what_a_new_arrival_gets(token):
    stored = platform_token(token, ONE)

    assert rekey(stored, TWO.by_version[2]) == platform_token(token, TWO)
    assert platform_token(token, TWO) != stored


@pytest.mark.parametrize("bad", ["", "AB" * 32, "ab" * 31, "zz" * 32, "11010519491231002X"])
def test_only_member_tokens_are_accepted(bad):
    with pytest.raises(InvalidMemberToken):
        platform_token(bad, ONE)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no pepper"),
        ("1 abc", "64 hexadecimal"),
        ("2 " + "11" * 32, "without gaps"),
        ("1 " + "11" * 32 + "\n1 " + "22" * 32, "appears twice"),
    ],
)
def test_pepper_files_are_checked(text, message):
    with pytest.raises(ValueError, match=message):
        Peppers.parse(text)


def test_the_newest_pepper_is_the_current_version():
    assert (ONE.version, TWO.version) == (1, 2)
    assert Peppers.parse("# rotated 2026-11\n1 " + "11" * 32 + "\n\n2 " + "22" * 32 + "\n").version == 2


@given(st.binary(max_size=100), st.binary(max_size=200))
def test_the_pre_keyed_hmac_is_hmac_sha256(key, message):
    from sharing.keys.tokens import PreKeyed

    assert PreKeyed(key).digest(message) == hmac.digest(key, message, "sha256")
