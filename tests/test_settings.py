"""Production settings refuse to start on laptop defaults; the repository root stays importable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "RISKSHARE_PRODUCTION": "true",
    "SECRET_KEY": "x" * 60 + "-production-like-secret-for-the-check-only",
    "ALLOWED_HOSTS": "riskshare.example",
    "DATABASE_URL": "postgres://riskshare@127.0.0.1:5432/riskshare",
    "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
    "NUM_PROXIES": "1",
    "AUDIT_SIGNING_KEY": "5e" * 32,
    "REPORT_SIGNING_KEY": "6f" * 32,
    "PLATFORM_PEPPER": "1 " + "7a" * 32,
    "DETAILS_MASTER_KEY": "1 " + "3c" * 32,
}


def run(code: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            (
                *("DATABASE_URL", "CELERY_", "SECRET_KEY", "NUM_PROXIES", "AUDIT_", "REPORT_"),
                *("PLATFORM_PEPPER", "DETAILS_MASTER"),
            )
        )
    }
    return subprocess.run(  # noqa: S603  (our own interpreter and arguments)
        [sys.executable, *code],
        cwd=ROOT,
        env={**clean, "RISKSHARE_VAR_DIR": str(tmp_path / "var"), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_python_platform_module_is_not_shadowed_by_the_platform_folder(tmp_path):
    result = run(["-c", "import platform, uuid; print(platform.system())"], {}, tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Linux"
    assert not (ROOT / "platform" / "__init__.py").exists()


@pytest.mark.parametrize(
    "missing",
    [
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "NUM_PROXIES",
        "AUDIT_SIGNING_KEY",
        "REPORT_SIGNING_KEY",
        "PLATFORM_PEPPER",
        "DETAILS_MASTER_KEY",
    ],
)
def test_production_refuses_to_start_without(missing, tmp_path):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}

    result = run(["manage.py", "check"], env, tmp_path)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr
    assert not (tmp_path / "var" / "secrets").exists()


def test_production_refuses_sqlite_and_debug(tmp_path):
    sqlite = run(["manage.py", "check"], {**PRODUCTION, "DATABASE_URL": "sqlite:///x.db"}, tmp_path)
    debug = run(["manage.py", "check"], {**PRODUCTION, "DEBUG": "true"}, tmp_path)

    assert "PostgreSQL" in sqlite.stderr
    assert "DEBUG must be off" in debug.stderr


def test_production_settings_pass_the_deployment_checklist(tmp_path):
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION, tmp_path)

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_a_bad_value_stops_the_start_with_its_name(tmp_path):
    result = run(["manage.py", "check"], {"CONN_MAX_AGE": "forever"}, tmp_path)

    assert result.returncode != 0
    assert "CONN_MAX_AGE must be a whole number" in result.stderr


@pytest.mark.parametrize("schedule", ["monthly", "30 6 1 *", "30 6 32 * *"])
def test_a_report_schedule_that_is_no_crontab_line_stops_the_start(schedule, tmp_path):
    result = run(["manage.py", "check"], {"REPORT_SCHEDULE": schedule}, tmp_path)

    assert result.returncode != 0
    assert "REPORT_SCHEDULE must be a crontab line" in result.stderr


def test_embedded_default_needs_no_configuration(tmp_path):
    result = run(["manage.py", "check"], {}, tmp_path)

    assert result.returncode == 0, result.stderr
    secret = tmp_path / "var" / "secrets" / "secret_key"
    assert oct(secret.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("name", ["PLATFORM_PEPPER", "DETAILS_MASTER_KEY"])
def test_a_keyring_with_a_bad_line_stops_the_start(name, tmp_path):
    result = run(["manage.py", "check"], {name: "1 " + "ab" * 31}, tmp_path)

    assert result.returncode != 0
    assert f"{name}: " in result.stderr
    assert "line 1: write a version and 64 hexadecimal characters" in result.stderr


def test_the_embedded_default_generates_its_pepper_and_master_key_once(tmp_path):
    code = "from django.conf import settings as s; print(s.PLATFORM_PEPPERS.version, s.DETAILS_MASTER_KEYS.version)"
    first = run(["manage.py", "shell", "--no-imports", "-c", code], {}, tmp_path)
    pepper = "from django.conf import settings as s; print(s.PLATFORM_PEPPERS.current.hex())"
    again = run(["manage.py", "shell", "--no-imports", "-c", pepper], {}, tmp_path)

    assert first.stdout.split() == ["1", "1"], first.stderr
    pepper_file = (tmp_path / "var" / "secrets" / "platform_pepper").read_text()
    assert pepper_file.split() == ["1", again.stdout.strip()]
    for name in ("platform_pepper", "details_master_key"):
        secret = tmp_path / "var" / "secrets" / name
        assert oct(secret.stat().st_mode & 0o777) == "0o600"
