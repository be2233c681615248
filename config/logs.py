"""Log lines that never carry what a member sent: exceptions by type and frames, never by message.

An exception's message and arguments are where member data leaks into a log: a
``UnicodeEncodeError`` holds the whole string it could not encode (sealed details, say),
a database error quotes the row it refused, and Celery logs every task failure as
``raised unexpected: <repr of the exception>``. The platform's logs keep what an operator
needs to find a fault, the exception's type and the frames it passed through (file,
line, function, source line), and drop the rest.

``ScrubExceptions`` is a filter on every handler in ``settings.LOGGING``, so it applies
to every record that reaches a log, whichever logger made it; the worker and beat log
through the same configuration (``config.celery``).
"""

import logging
import traceback
from typing import Any

WITHHELD = "(message withheld)"

# Celery's task records (celery.app.trace) pass a dict of values; these hold the exception's repr and
# its formatted traceback, both with the message.
_CELERY_EXCEPTION_KEYS = ("exc", "traceback")


def scrubbed_traceback(error: BaseException) -> str:
    """The traceback of ``error`` and of the exceptions it was raised from, without their messages."""
    lines: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    chain: list[BaseException] = []
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    for number, exception in enumerate(reversed(chain)):
        if number:
            lines.append("\nwhich led to:\n")
        lines.append("Traceback (most recent call last):\n")
        lines.extend(traceback.format_tb(exception.__traceback__))
        lines.append(f"{described(exception)}\n")
    return "".join(lines).rstrip("\n")


def described(error: BaseException) -> str:
    """The exception's type, which says what went wrong without saying with what."""
    kind = type(error)
    module = kind.__module__
    name = kind.__qualname__ if module in ("builtins", "__main__") else f"{module}.{kind.__qualname__}"
    return f"{name} {WITHHELD}"


class ScrubExceptions(logging.Filter):
    """Replace every exception in a record, its traceback text and any exception among its arguments,
    by the exception's type and frames."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "scrubbed", False):  # another handler of the same record got here first
            return True
        record.scrubbed = True
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            record.exc_text = scrubbed_traceback(error)
        elif record.exc_text:
            record.exc_text = WITHHELD  # formatted before it reached us: nothing in it can be trusted
        record.exc_info = None  # a handler that formats exc_info itself would print the message
        if isinstance(record.msg, BaseException):
            record.msg = described(record.msg)
        record.args = _scrubbed_args(record.args, error, record.name)
        data = getattr(record, "data", None)
        if isinstance(data, dict):  # Celery's ``extra={"data": context}``, the same values again
            record.data = _scrubbed_mapping(data, error, record.name)
        return True


def _scrubbed_args(args: Any, error: BaseException | None, name: str) -> Any:
    if isinstance(args, tuple):
        return tuple(described(arg) if isinstance(arg, BaseException) else arg for arg in args)
    if isinstance(args, dict):
        return _scrubbed_mapping(args, error, name)
    return args


def _scrubbed_mapping(values: dict[str, Any], error: BaseException | None, name: str) -> dict[str, Any]:
    scrubbed = {key: described(value) if isinstance(value, BaseException) else value for key, value in values.items()}
    if name.startswith("celery"):
        for key in _CELERY_EXCEPTION_KEYS:
            if key in scrubbed:
                scrubbed[key] = described(error) if error is not None and key == "exc" else WITHHELD
    return scrubbed
