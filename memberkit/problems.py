"""What goes wrong, as the member client reports it: the platform's refusals and this machine's problems.

The platform refuses with RFC 9457 problem documents (``type``, ``title``, ``status``, ``detail``,
a stable ``code`` and field-level ``errors``); ``ApiError`` reads one, or a proxy's page in its
place, and says what to fix. ``LocalError`` is a problem on this machine, never retried.
"""

import json
from typing import NamedTuple


class FieldError(NamedTuple):
    """One entry of a problem's ``errors``: which field (None for the request as a whole), why, in words."""

    field: str | None
    code: str
    message: str


class ApiError(Exception):
    """The platform refused the request, or could not be reached in ``ATTEMPTS`` attempts.

    ``lines()`` is what a person needs: the status and code, the detail, and
    each field error as ``field: message (code)``.
    """

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        code: str = "",
        errors: tuple[FieldError, ...] = (),
        request_id: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail, self.status, self.code, self.errors, self.request_id = detail, status, code, errors, request_id

    @classmethod
    def from_answer(cls, status: int, reason: str, body: bytes) -> "ApiError":
        """Read a problem document; anything else (a proxy's HTML page) becomes its status line."""
        try:
            problem = json.loads(body)
        except ValueError:
            problem = None
        if not isinstance(problem, dict):
            return cls(f"{status} {reason}".strip(), status=status)
        errors = tuple(
            FieldError(
                None if error.get("field") is None else str(error["field"]),
                str(error.get("code") or ""),
                str(error.get("message") or ""),
            )
            for error in problem.get("errors") or ()
            if isinstance(error, dict)
        )
        request_id = problem.get("request_id")
        return cls(
            str(problem.get("detail") or problem.get("title") or reason),
            status=status,
            code=str(problem.get("code") or ""),
            errors=errors,
            request_id=None if request_id is None else str(request_id),
        )

    def headline(self) -> str:
        where = " ".join(part for part in (f"HTTP {self.status}" if self.status else "", self.code) if part)
        return f"{where}: {self.detail}" if where else self.detail

    def gave_up(self, attempts: int) -> "ApiError":
        return ApiError(
            f"gave up after {attempts} attempts: {self.detail}",
            status=self.status,
            code=self.code,
            errors=self.errors,
            request_id=self.request_id,
        )

    def lines(self) -> list[str]:
        lines = [self.headline()]
        for error in self.errors:
            place = f"{error.field}: " if error.field else ""
            lines.append(f"  {place}{error.message} ({error.code})")
        if self.request_id:
            lines.append(f"  request id: {self.request_id}")
        return lines


class LocalError(ValueError):
    """A problem on this machine (a file that cannot be read or written), not the network's: never retried."""
