"""Configuration helpers refuse values they cannot read instead of guessing."""

import os
import stat

import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given
from hypothesis import strategies as st

from config.env import env_bool, env_choice, env_int, env_list, env_secret


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
