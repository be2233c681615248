"""Envelope encryption of flag details: sealed in place, wrapped keys, master keys by version."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sharing.keys import envelope
from sharing.keys.envelope import CannotOpen, MasterKeys

ONE = MasterKeys.parse("1 " + "11" * 32)
TWO = MasterKeys.parse("1 " + "11" * 32 + "\n2 " + "22" * 32)


@given(st.binary(max_size=4096), st.binary(max_size=64))
def test_what_is_sealed_opens_with_its_key_in_its_place(plaintext, context):
    key = envelope.new_data_key()

    sealed = envelope.seal(key, plaintext, context)

    assert envelope.open_sealed(key, sealed, context) == plaintext
    assert envelope.Sealer(key).seal(plaintext, context) != sealed  # a fresh nonce every time


def test_a_ciphertext_does_not_open_elsewhere_or_altered():
    key = envelope.new_data_key()
    sealed = envelope.seal(key, b'{"amount": 1}', b"riskshare:flag-details:v1:1:A-1")

    with pytest.raises(CannotOpen):
        envelope.open_sealed(key, sealed, b"riskshare:flag-details:v1:1:A-2")
    with pytest.raises(CannotOpen):
        envelope.open_sealed(envelope.new_data_key(), sealed, b"riskshare:flag-details:v1:1:A-1")
    with pytest.raises(CannotOpen):
        envelope.open_sealed(key, sealed[:-1] + bytes([sealed[-1] ^ 1]), b"riskshare:flag-details:v1:1:A-1")


def test_data_keys_are_wrapped_by_the_newest_master_key_and_unwrap_by_version():
    data_key = envelope.new_data_key()

    version, wrapped = envelope.wrap(TWO, data_key, b"institution 7")

    assert version == 2
    assert envelope.unwrap(TWO, 2, wrapped, b"institution 7") == data_key
    with pytest.raises(CannotOpen, match="version 2 is not configured"):
        envelope.unwrap(ONE, 2, wrapped, b"institution 7")
    with pytest.raises(CannotOpen):
        envelope.unwrap(TWO, 1, wrapped, b"institution 7")


def test_master_key_files_are_checked_like_pepper_files():
    with pytest.raises(ValueError, match="no master key given"):
        MasterKeys.parse("# empty\n")
    with pytest.raises(ValueError, match="master key line 2: version 2 appears twice"):
        MasterKeys.parse("2 " + "11" * 32 + "\n2 " + "22" * 32)
    with pytest.raises(ValueError, match="master key versions start at 1"):
        MasterKeys.parse("0 " + "11" * 32)
    assert TWO.current == bytes.fromhex("22" * 32)


def test_a_retired_master_key_may_leave_the_keyring_but_no_pepper_may():
    from sharing.keys.tokens import Peppers

    assert MasterKeys.parse("2 " + "22" * 32).version == 2
    with pytest.raises(ValueError, match="pepper versions run 1, 2, 3"):
        Peppers.parse("2 " + "22" * 32)
