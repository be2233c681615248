"""Production settings refuse to start on laptop defaults; the repository root stays importable."""

import hashlib
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def fixed_key(label: str) -> str:
    """A key that looks random (64 hex characters) and is the same on every run."""
    return hashlib.sha256(label.encode()).hexdigest()


PRODUCTION = {
    "RISKSHARE_PRODUCTION": "true",
    "SECRET_KEY": fixed_key("secret key") + "-K9mQ",
    "ALLOWED_HOSTS": "riskshare.example",
    "DATABASE_URL": "postgres://riskshare@127.0.0.1:5432/riskshare",
    "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
    "NUM_PROXIES": "1",
    "AUDIT_SIGNING_KEY": fixed_key("audit"),
    "REPORT_SIGNING_KEY": fixed_key("report"),
    "PLATFORM_PEPPER": "1 " + fixed_key("pepper"),
    "DETAILS_MASTER_KEY": "1 " + fixed_key("master"),
}
SECRETS = ("SECRET_KEY", "AUDIT_SIGNING_KEY", "REPORT_SIGNING_KEY", "PLATFORM_PEPPER", "DETAILS_MASTER_KEY")


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


@pytest.mark.parametrize(
    ("url", "switch", "expected"),
    [
        # PostgreSQL's connections plan prepared statements once, beside what the URL asks for.
        (
            "postgres://riskshare@127.0.0.1:5432/riskshare?options=-c%20statement_timeout%3D5000",
            "true",
            "0 '-c statement_timeout=5000 -c plan_cache_mode=force_generic_plan'",
        ),
        # Behind a pooler that cannot keep them: nothing prepared, nothing added to the connection.
        ("postgres://riskshare@127.0.0.1:5432/riskshare", "false", "None None"),
        ("sqlite:///riskshare.sqlite3", "true", "None None"),
    ],
)
def test_prepared_statements_are_set_on_postgresql_connections_only(url, switch, expected, tmp_path):
    code = (
        "from django.conf import settings as s; o = s.DATABASES['default'].get('OPTIONS', {});"
        " print(o.get('prepare_threshold'), repr(o.get('options')) if 'options' in o else None)"
    )
    env = {"DATABASE_URL": url, "DATABASE_PREPARED_STATEMENTS": switch}
    result = run(["manage.py", "shell", "--no-imports", "-c", code], env, tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


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


# Each weak configuration, and the variable the refusal must name.
WEAK = [
    pytest.param({"SECRET_KEY": "x"}, "SECRET_KEY", id="secret-key-x"),
    pytest.param({"SECRET_KEY": "changeme"}, "SECRET_KEY", id="secret-key-changeme"),
    pytest.param({"SECRET_KEY": "secret"}, "SECRET_KEY", id="secret-key-secret"),
    pytest.param({"SECRET_KEY": fixed_key("short")[:49]}, "SECRET_KEY", id="secret-key-49-characters"),
    pytest.param({"SECRET_KEY": "abcd" * 20}, "SECRET_KEY", id="secret-key-4-distinct-characters"),
    pytest.param({"SECRET_KEY": "0123456789" * 6}, "SECRET_KEY", id="secret-key-repeated-pattern"),
    pytest.param(
        {"SECRET_KEY": "django-insecure-" + fixed_key("insecure")}, "SECRET_KEY", id="secret-key-django-insecure"
    ),
    pytest.param(
        {"SECRET_KEY": "changeme-" + fixed_key("placeholder")}, "SECRET_KEY", id="secret-key-long-placeholder"
    ),
    pytest.param(
        {"SECRET_KEY": "your-secret-key-goes-here-1234567890-abcdefghijklmnop"},
        "SECRET_KEY",
        id="secret-key-your-secret-key",
    ),
    pytest.param({"AUDIT_SIGNING_KEY": "00" * 32}, "AUDIT_SIGNING_KEY", id="audit-key-zeros"),
    pytest.param({"REPORT_SIGNING_KEY": "ff" * 32}, "REPORT_SIGNING_KEY", id="report-key-one-byte"),
    pytest.param({"REPORT_SIGNING_KEY": "0123456789abcdef" * 4}, "REPORT_SIGNING_KEY", id="report-key-pattern"),
    pytest.param({"PLATFORM_PEPPER": "1 " + "00" * 32}, "PLATFORM_PEPPER", id="pepper-zeros"),
    pytest.param(
        {"PLATFORM_PEPPER": f"1 {fixed_key('pepper')}\n2 {'5e' * 32}"}, "PLATFORM_PEPPER", id="pepper-v2-one-byte"
    ),
    pytest.param({"DETAILS_MASTER_KEY": "1 " + "00" * 32}, "DETAILS_MASTER_KEY", id="master-key-zeros"),
    pytest.param(
        {"DETAILS_MASTER_KEY": "1 " + fixed_key("pepper")},
        "PLATFORM_PEPPER and DETAILS_MASTER_KEY",
        id="pepper-is-master",
    ),
    pytest.param(
        {"DETAILS_MASTER_KEY": f"1 {fixed_key('master')}\n2 {fixed_key('pepper').upper()}"},
        "PLATFORM_PEPPER and DETAILS_MASTER_KEY",
        id="master-key-v2-is-pepper",
    ),
    pytest.param(
        {"REPORT_SIGNING_KEY": fixed_key("audit").upper()},
        "AUDIT_SIGNING_KEY and REPORT_SIGNING_KEY",
        id="report-key-is-audit-key",
    ),
    pytest.param({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS", id="hosts-star"),
    pytest.param({"ALLOWED_HOSTS": "riskshare.example,*"}, "ALLOWED_HOSTS", id="hosts-star-among-names"),
    pytest.param({"ALLOWED_HOSTS": "*.riskshare.example"}, "ALLOWED_HOSTS", id="hosts-star-subdomains"),
    pytest.param({"ALLOWED_HOSTS": "."}, "ALLOWED_HOSTS", id="hosts-bare-dot"),
]


@pytest.mark.parametrize(("weak", "named"), WEAK)
def test_production_refuses_to_start_on_a_weak_configuration(weak, named, tmp_path):
    result = run(["manage.py", "check"], {**PRODUCTION, **weak}, tmp_path)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr.strip().splitlines()[-1]
    for name, value in weak.items():
        if name != "ALLOWED_HOSTS" and len(value) >= 16:
            assert value not in result.stderr  # The refusal names the variable, never the secret.


def test_the_embedded_default_still_starts_with_weak_values(tmp_path):
    # A laptop may run with SECRET_KEY=x and one key in two roles; only production refuses.
    weak = {
        "SECRET_KEY": "x",
        "AUDIT_SIGNING_KEY": "00" * 32,
        "REPORT_SIGNING_KEY": "00" * 32,
        "PLATFORM_PEPPER": "1 " + fixed_key("pepper"),
        "DETAILS_MASTER_KEY": "1 " + fixed_key("pepper"),
        "ALLOWED_HOSTS": "*",
    }

    result = run(["manage.py", "check"], weak, tmp_path)

    assert result.returncode == 0, result.stderr


def write_secret_files(folder: Path, mode: int) -> dict[str, str]:
    """The CI's production configuration: every secret from a NAME_FILE, freshly generated."""
    folder.mkdir(mode=0o700)
    values = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "AUDIT_SIGNING_KEY": secrets.token_hex(32),
        "REPORT_SIGNING_KEY": secrets.token_hex(32),
        "PLATFORM_PEPPER": f"1 {secrets.token_hex(32)}",
        "DETAILS_MASTER_KEY": f"1 {secrets.token_hex(32)}",
        "DATABASE_URL": PRODUCTION["DATABASE_URL"],
        "CELERY_BROKER_URL": PRODUCTION["CELERY_BROKER_URL"],
    }
    env = {k: v for k, v in PRODUCTION.items() if k not in values}
    for name, value in values.items():
        path = folder / name.lower()
        path.write_text(value + "\n")
        path.chmod(mode)
        env[f"{name}_FILE"] = str(path)
    return env


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_the_ci_production_configuration_from_private_files_passes_the_checklist(mode, tmp_path):
    env = write_secret_files(tmp_path / "secrets", mode)

    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env, tmp_path)

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("name", "mode"),
    [
        *((name, 0o644) for name in (*SECRETS, "DATABASE_URL", "CELERY_BROKER_URL")),
        *(("SECRET_KEY", mode) for mode in (0o640, 0o620, 0o604, 0o602, 0o610)),
    ],
)
def test_production_refuses_a_secret_file_its_group_or_others_may_read_or_change(name, mode, tmp_path):
    env = write_secret_files(tmp_path / "secrets", 0o600)
    Path(env[f"{name}_FILE"]).chmod(mode)

    result = run(["manage.py", "check"], env, tmp_path)

    assert result.returncode != 0
    assert f"{name}_FILE" in result.stderr
    assert f"mode {mode:04o}" in result.stderr


def test_the_embedded_default_reads_a_secret_file_of_any_mode(tmp_path):
    path = tmp_path / "secret_key"
    path.write_text(secrets.token_urlsafe(50))
    path.chmod(0o644)

    result = run(["manage.py", "check"], {"SECRET_KEY_FILE": str(path)}, tmp_path)

    assert result.returncode == 0, result.stderr
