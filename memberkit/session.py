"""What every command that talks to the platform shares: the API key, the connection, the screen, the last words.

``upload``, ``query`` and ``inspect`` read the key the same way, warn the same way about plain
http, draw one progress bar at a time on standard error, and say the same way why they stopped.
"""

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memberkit import api
from memberkit.problems import ApiError
from memberkit.progress import Bar

KEY_VARIABLE = "RISKSHARE_API_KEY"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True, kw_only=True)
class PlatformOptions:
    """What every command that talks to the platform is given: its file, where the platform is, how to
    reach it, how loud to be. Each command's ``Options`` add their own: values a test or another program
    can pass without argparse."""

    file: Path
    url: str
    api_key_file: Path | None = None
    ca_file: Path | None = None
    quiet: bool = False


class Screen:
    """Where the command talks to a person: one bar at a time on standard error, notes on lines of their own."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar = Bar(enabled=False)

    def new_bar(self) -> Bar:
        self.bar.break_line()
        self.bar = Bar(enabled=not self.quiet)
        return self.bar

    def note(self, message: str) -> None:
        self.bar.break_line()
        print(message, file=sys.stderr, flush=True)


def load_api_key(path: Path | None, environ: Mapping[str, str]) -> str:
    """The key from ``--api-key-file`` or else ``RISKSHARE_API_KEY``; a file keeps it out of the process list."""
    key = path.read_text(encoding="utf-8").strip() if path is not None else environ.get(KEY_VARIABLE, "").strip()
    if not key:
        where = f"the file {path}" if path is not None else f"the environment variable {KEY_VARIABLE}"
        raise ValueError(f"no API key: {where} is empty or missing (pass --api-key-file or set {KEY_VARIABLE})")
    return key


def connect(
    options: PlatformOptions, environ: Mapping[str, str], screen: Screen, carried: str, **settings: Any
) -> api.Client:
    """A client for the platform with the member's API key, warning when ``carried`` travels in clear."""
    key = load_api_key(options.api_key_file, environ)
    client = api.Client(options.url, key, ca_file=options.ca_file, notify=screen.note, **settings)
    if not client.encrypted and client.host not in LOCAL_HOSTS:
        screen.note(f"warning: {client.host} over plain http: the API key and {carried} travel unencrypted")
    return client


def explain(error: ApiError | OSError | ValueError, advice: Mapping[str, str] | None = None) -> str:
    """What a command that stops prints: the error, its details and notes, and what to do for its code."""
    if isinstance(error, ApiError):
        headline, *details = error.lines()
        more = [advice[error.code]] if advice and error.code in advice else []
    else:
        headline, details, more = str(error), [], []
        if isinstance(error, OSError) and error.strerror and error.filename:
            headline = f"{error.strerror}: {error.filename}"
    return "\n".join([f"error: {headline}", *details, *getattr(error, "__notes__", []), *more])
