"""Typed readers for configuration from the environment.

Only ``config/settings.py`` calls these. Each one refuses a value it cannot
read (``ImproperlyConfigured``) instead of guessing, so a typo in a deployment
stops the process at start-up rather than running with a surprising default.
"""

import os
import secrets
from collections.abc import Callable, Mapping
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
) -> str:
    """A secret from ``NAME`` or from the file named by ``NAME_FILE``.

    With neither set, ``default`` is used when given; otherwise, with
    ``generate_into`` given (the embedded default), the secret is generated
    once into that folder with mode 0600 and read back on every later start.
    With neither (production) a missing secret stops the process.
    """
    value = _raw(name, environ)
    file_name = _raw(f"{name}_FILE", environ)
    if value is not None and file_name is not None:
        raise ImproperlyConfigured(f"Set {name} or {name}_FILE, not both.")
    if value is not None:
        return value
    if file_name is not None:
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


def _write_private(path: Path, value: str) -> None:
    """Create the file with mode 0600 from the start; never overwrite one."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # Another process generated it first; read theirs.
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(value + "\n")
