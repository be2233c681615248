"""Typed readers for configuration from the environment.

Only ``config/settings.py`` calls these. Each one refuses a value it cannot
read (``ImproperlyConfigured``) instead of guessing, so a typo in a deployment
stops the process at start-up rather than running with a surprising default.
"""

import os
import re
import secrets
import stat
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

TRUE_VALUES = frozenset({"1", "true", "yes", "on"})
FALSE_VALUES = frozenset({"0", "false", "no", "off"})


def _raw(name: str, environ: Mapping[str, str]) -> str | None:
    value = environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str, environ: Mapping[str, str] = os.environ) -> str:
    value = _raw(name, environ)
    return default if value is None else value


def env_bool(name: str, default: bool, environ: Mapping[str, str] = os.environ) -> bool:
    value = _raw(name, environ)
    if value is None:
        return default
    if value.lower() in TRUE_VALUES:
        return True
    if value.lower() in FALSE_VALUES:
        return False
    raise ImproperlyConfigured(f"{name} must be one of true/false/1/0/yes/no/on/off, not {value!r}.")


def env_int(
    name: str,
    default: int | None,
    environ: Mapping[str, str] = os.environ,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    """A whole number; with ``default`` None the variable must be set."""
    value = _raw(name, environ)
    if value is None:
        if default is None:
            raise ImproperlyConfigured(f"{name} must be set.")
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}.")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, not {number}.")
    return number


def env_list(name: str, default: list[str], environ: Mapping[str, str] = os.environ) -> list[str]:
    """A comma-separated list; empty items are refused rather than silently dropped."""
    value = _raw(name, environ)
    if value is None:
        return list(default)
    items = [item.strip() for item in value.split(",")]
    if any(item == "" for item in items):
        raise ImproperlyConfigured(f"{name} has an empty item: {value!r}.")
    return items


def env_choice(name: str, default: str, choices: tuple[str, ...], environ: Mapping[str, str] = os.environ) -> str:
    value = env_str(name, default, environ)
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}.")
    return value


def env_secret(
    name: str,
    environ: Mapping[str, str] = os.environ,
    *,
    default: str | None = None,
    generate_into: Path | None = None,
    generator: Callable[[], str] = lambda: secrets.token_urlsafe(50),
    private_file: bool = False,
) -> str:
    """A secret from ``NAME`` or from the file named by ``NAME_FILE``.

    With neither set, ``default`` is used when given; otherwise, with
    ``generate_into`` given (the embedded default), the secret is generated
    once into that folder with mode 0600 and read back on every later start.
    With neither (production) a missing secret stops the process. With
    ``private_file`` (production), a ``NAME_FILE`` that its group or others may
    read or write stops the process too.
    """
    value = _raw(name, environ)
    file_name = _raw(f"{name}_FILE", environ)
    if value is not None and file_name is not None:
        raise ImproperlyConfigured(f"Set {name} or {name}_FILE, not both.")
    if value is not None:
        return value
    if file_name is not None:
        if private_file:
            _refuse_shared_file(name, Path(file_name))
        return _read_secret_file(name, Path(file_name))
    if default is not None:
        return default
    if generate_into is None:
        raise ImproperlyConfigured(f"{name} (or {name}_FILE) must be set in production.")
    path = generate_into / name.lower()
    if not path.exists():
        generate_into.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_private(path, generator())
    return _read_secret_file(name, path)


def _read_secret_file(name: str, path: Path) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ImproperlyConfigured(f"{name}_FILE {path} cannot be read: {error.strerror}.") from None
    if not value:
        raise ImproperlyConfigured(f"{name}_FILE {path} is empty.")
    return value


def _refuse_shared_file(name: str, path: Path) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as error:
        raise ImproperlyConfigured(f"{name}_FILE {path} cannot be read: {error.strerror}.") from None
    if mode & 0o077:
        raise ImproperlyConfigured(
            f"{name}_FILE {path} has mode {mode:04o}: its group or others may read or change it. "
            "Give it to the platform's user with mode 0400 or 0600."
        )


def _write_private(path: Path, value: str) -> None:
    """Create the file with mode 0600 from the start; never overwrite one."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # Another process generated it first; read theirs.
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(value + "\n")


# Production refuses secrets that only look like secrets (config/settings.py calls these when
# RISKSHARE_PRODUCTION is on). Django's own deployment check (security.W009) asks of SECRET_KEY at
# least 50 characters, at least 5 distinct ones, and no "django-insecure-" prefix.
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_DISTINCT = 5
# Words that mark a value someone meant to replace; none is likely in a random key.
PLACEHOLDER_WORDS = (
    "changeme", "change-me", "change_me", "changethis", "replaceme", "replace-me", "placeholder",
    "insecure", "secret", "example", "dummy", "password", "not-a-", "notsecret",
)  # fmt: skip
# 32 random bytes hold about 30 distinct values; fewer than this is a pattern, not a key.
KEY_MIN_DISTINCT_BYTES = 16


def refuse_weak_secret_key(name: str, value: str) -> None:
    """Stop the start on a secret key that is short, repetitive, Django's insecure one, or a placeholder."""
    if len(value) < SECRET_KEY_MIN_LENGTH or len(set(value)) < SECRET_KEY_MIN_DISTINCT:
        raise ImproperlyConfigured(
            f"{name} must be at least {SECRET_KEY_MIN_LENGTH} random characters "
            f"(with at least {SECRET_KEY_MIN_DISTINCT} distinct ones) in production."
        )
    if value.startswith("django-insecure-"):
        raise ImproperlyConfigured(f"{name} is a key Django generated for development (django-insecure-...).")
    if any(word in value.lower() for word in PLACEHOLDER_WORDS) or re.fullmatch(r"(.{1,25})\1+", value, re.DOTALL):
        raise ImproperlyConfigured(f"{name} is a placeholder, not a random key: generate one.")


def refuse_degenerate_key(name: str, key: bytes) -> None:
    """Stop the start on a 32-byte key that is all zeros, one repeated byte or another short pattern."""
    if len(set(key)) < KEY_MIN_DISTINCT_BYTES:
        raise ImproperlyConfigured(f"{name} holds a key with a pattern (such as all zeros), not random bytes.")


def refuse_shared_keys(keys: Mapping[str, Iterable[bytes]]) -> None:
    """Stop the start when two secrets (named by their variables) hold the same key."""
    owner: dict[bytes, str] = {}
    for name, values in keys.items():
        for key in values:
            other = owner.setdefault(key, name)
            if other != name:
                raise ImproperlyConfigured(f"{other} and {name} hold the same key: each needs its own.")


def refuse_wildcard_hosts(name: str, hosts: Iterable[str]) -> None:
    """Stop the start on a host pattern that lets any Host header through."""
    for host in hosts:
        if "*" in host or host.strip(".") == "":
            raise ImproperlyConfigured(
                f"{name} must name the platform's host names in production, not {host!r} "
                "(a leading dot, as in .example.com, takes in subdomains)."
            )
