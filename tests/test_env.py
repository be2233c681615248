"""Configuration helpers refuse values they cannot read instead of guessing."""

import os
import secrets
import stat

import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given
from hypothesis import strategies as st

from config.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_secret,
    refuse_degenerate_key,
    refuse_shared_keys,
    refuse_weak_secret_key,
    refuse_wildcard_hosts,
)


@pytest.mark.parametrize(("raw", "value"), [("true", True), ("ON", True), ("1", True), ("no", False), ("0", False)])
def test_env_bool_reads_the_usual_spellings(raw, value):
    assert env_bool("X", not value, {"X": raw}) is value


def test_env_bool_uses_the_default_when_unset_or_blank():
    assert env_bool("X", True, {}) is True
    assert env_bool("X", False, {"X": "  "}) is False


@given(st.text().filter(lambda s: s.strip().lower() not in {"1", "0", "true", "false", "yes", "no", "on", "off", ""}))
def test_env_bool_refuses_anything_else(raw):
    with pytest.raises(ImproperlyConfigured, match="X must be one of"):
        env_bool("X", False, {"X": raw})


def test_env_int_checks_type_and_bounds():
    assert env_int("N", 5, {"N": "7"}) == 7
    with pytest.raises(ImproperlyConfigured, match="whole number"):
        env_int("N", 5, {"N": "7.5"})
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int("N", 5, {"N": "0"}, minimum=1)
    with pytest.raises(ImproperlyConfigured, match="at most 3"):
        env_int("N", 1, {"N": "4"}, maximum=3)


def test_env_list_splits_on_commas_and_refuses_empty_items():
    assert env_list("L", ["a"], {"L": "x.example, y.example"}) == ["x.example", "y.example"]
    assert env_list("L", ["a"], {}) == ["a"]
    with pytest.raises(ImproperlyConfigured, match="empty item"):
        env_list("L", [], {"L": "x,,y"})


def test_env_choice_refuses_unknown_values():
    with pytest.raises(ImproperlyConfigured, match="one of"):
        env_choice("C", "a", ("a", "b"), {"C": "c"})


def test_secret_from_the_environment_or_a_file(tmp_path):
    assert env_secret("S", {"S": "from-env"}) == "from-env"
    path = tmp_path / "s"
    path.write_text("from-file\n")
    assert env_secret("S", {"S_FILE": str(path)}) == "from-file"


def test_secret_in_both_places_is_ambiguous(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="not both"):
        env_secret("S", {"S": "a", "S_FILE": str(tmp_path / "s")})


def test_secret_file_must_exist_and_hold_something(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env_secret("S", {"S_FILE": str(tmp_path / "missing")})
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ImproperlyConfigured, match="is empty"):
        env_secret("S", {"S_FILE": str(tmp_path / "empty")})


def test_missing_secret_stops_production():
    with pytest.raises(ImproperlyConfigured, match="must be set in production"):
        env_secret("S", {})


def test_embedded_default_generates_a_secret_once_with_mode_0600(tmp_path):
    first = env_secret("S", {}, generate_into=tmp_path / "secrets")
    second = env_secret("S", {}, generate_into=tmp_path / "secrets")

    assert first == second
    assert len(first) >= 50
    mode = stat.S_IMODE(os.stat(tmp_path / "secrets" / "s").st_mode)
    assert mode == 0o600


def test_a_private_secret_file_refuses_every_group_or_other_permission(tmp_path):
    path = tmp_path / "s"
    path.write_text("from-file\n")
    for bit in (stat.S_IRGRP, stat.S_IWGRP, stat.S_IXGRP, stat.S_IROTH, stat.S_IWOTH, stat.S_IXOTH):
        path.chmod(0o600 | bit)
        with pytest.raises(ImproperlyConfigured, match=r"S_FILE .* has mode"):
            env_secret("S", {"S_FILE": str(path)}, private_file=True)
        assert env_secret("S", {"S_FILE": str(path)}) == "from-file"
    path.chmod(0o400)
    assert env_secret("S", {"S_FILE": str(path)}, private_file=True) == "from-file"


def test_generated_keys_are_never_taken_for_weak_ones():
    # What secrets.example/README.md and the embedded default generate must always pass.
    for _ in range(2000):
        refuse_weak_secret_key("SECRET_KEY", secrets.token_urlsafe(50))
        refuse_degenerate_key("K", secrets.token_bytes(32))


@given(st.binary(min_size=32, max_size=32).map(lambda b: b[:4] * 8))
def test_a_key_of_a_repeated_pattern_is_refused(key):
    with pytest.raises(ImproperlyConfigured, match="K holds a key with a pattern"):
        refuse_degenerate_key("K", key)


@given(st.text(min_size=1, max_size=25))
def test_a_secret_key_of_a_repeated_unit_is_refused(unit):
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        refuse_weak_secret_key("SECRET_KEY", unit * (60 // len(unit) + 2))


def test_one_key_under_two_names_is_refused_whichever_version():
    a, b, c = (secrets.token_bytes(32) for _ in range(3))
    refuse_shared_keys({"P": [a, b], "M": [c]})
    with pytest.raises(ImproperlyConfigured, match="P and M hold the same key"):
        refuse_shared_keys({"P": [a, b], "M": [c, b]})


@pytest.mark.parametrize("host", ["*", "*.example.com", "ex*mple.com", ".", ".."])
def test_wildcard_hosts_are_refused(host):
    with pytest.raises(ImproperlyConfigured, match="ALLOWED_HOSTS"):
        refuse_wildcard_hosts("ALLOWED_HOSTS", ["riskshare.example", host])
    refuse_wildcard_hosts("ALLOWED_HOSTS", ["riskshare.example", ".riskshare.example"])
