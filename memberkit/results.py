"""The output file of ``query``: the answers so far, one line per subject, appended a batch at a time.

CSV (one line per subject: its flags in a few columns, then the multi-lender figures) or JSON
Lines (each subject's answer object as the platform gave it). A run that stops is continued by
running the same command again: ``Results.answered`` reads the correlation ids the file already
holds, so that their subjects are not asked again.
"""

import csv
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from memberkit.problems import ApiError
from memberkit.subjects import JSONL_SUFFIXES
from memberkit.vocabulary import LENDING_FIGURES

FLAG_COLUMNS = ("correlation_id", "hit", "categories", "latest_event_month", "disputed", "resolved", "own")
CSV_COLUMNS = (*FLAG_COLUMNS, *LENDING_FIGURES)
TAIL_BYTES = 64 * 1024


def result_row(answer: Mapping[str, Any]) -> list[str]:
    """A subject's answer as one CSV line: categories as ``category:institutions`` pairs, own flags likewise,
    then the multi-lender figures (empty when the answer has none: ``lending`` null or absent)."""
    categories: list[dict[str, Any]] = answer["categories"]
    own: list[dict[str, Any]] = answer["own"]
    lending = answer.get("lending") or {}
    return [
        str(answer["correlation_id"]),
        _boolean(answer["hit"]),
        ";".join(f"{group['category']}:{group['institutions']}" for group in categories),
        max((str(group["latest_event_month"]) for group in categories), default=""),
        _boolean(any(group["disputed"] for group in categories)),
        _boolean(any(group["resolved"] for group in categories)),
        ";".join(f"{group['category']}:{group['flags']}" for group in own),
        *(_figure(lending.get(figure)) for figure in LENDING_FIGURES),
    ]


def _figure(value: object) -> str:
    return "" if value is None else str(value)


def _boolean(value: object) -> str:
    return "true" if value is True else "false"


class Results:
    """The output file: the correlation ids it holds already, and answers appended a batch at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.jsonl = path.suffix.lower() in JSONL_SUFFIXES

    def answered(self) -> set[str]:
        """The correlation ids of an earlier run's answers (empty for a new file).

        Memory grows with the answers already given, not with the file being
        queried: a fresh run holds none.
        """
        if not self.path.exists():
            return set()
        self._drop_partial_line()
        ids: set[str] = set()
        foreign = ValueError(
            f"{self.path} exists and is not a results file of this command: name another --output, or remove it"
        )
        with self.path.open(encoding="utf-8", newline="") as file:
            if self.jsonl:
                for line in file:
                    if not line.strip():
                        continue
                    try:
                        answer = json.loads(line)
                    except ValueError:
                        raise foreign from None
                    if not isinstance(answer, dict) or not isinstance(answer.get("correlation_id"), str):
                        raise foreign
                    ids.add(answer["correlation_id"])
                return ids
            reader = csv.reader(file)
            header = next(reader, None)
            if header is not None and tuple(header) == FLAG_COLUMNS:
                raise ValueError(
                    f"{self.path} was written by an earlier version of this command, without the multi-lender "
                    "figures: name another --output, or remove it"
                )
            if header is not None and tuple(header) != CSV_COLUMNS:
                raise foreign
            ids.update(row[0] for row in reader if row)
        return ids

    def _drop_partial_line(self) -> None:
        """Cut a line that a run killed mid-write left half written: it could read as another, shorter id."""
        with self.path.open("r+b") as file:
            end = position = file.seek(0, os.SEEK_END)
            keep = 0
            while position > 0:
                start = max(position - TAIL_BYTES, 0)
                file.seek(start)
                newline = file.read(position - start).rfind(b"\n")
                if newline != -1:
                    keep = start + newline + 1
                    break
                position = start
            if keep < end:
                file.truncate(keep)

    def open(self) -> TextIO:
        out = self.path.open("a", encoding="utf-8", newline="")
        if not self.jsonl and out.tell() == 0:
            csv.writer(out).writerow(CSV_COLUMNS)
            out.flush()
        return out

    def write(self, out: TextIO, answers: Sequence[Mapping[str, Any]]) -> None:
        """Append a batch in one write, flushed: once ``ask`` returns, its answers must survive an interruption."""
        buffer = io.StringIO()
        try:
            if self.jsonl:
                buffer.writelines(json.dumps(answer, ensure_ascii=False) + "\n" for answer in answers)
            else:
                csv.writer(buffer).writerows(result_row(answer) for answer in answers)
        except (KeyError, TypeError, AttributeError):
            raise ApiError("the platform's answer is not a query answer; is --url the platform?") from None
        out.write(buffer.getvalue())
        out.flush()
