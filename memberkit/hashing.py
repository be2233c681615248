"""Turning a file of raw identifiers into member tokens, in constant memory.

Rows are read and written as a stream, in chunks that worker processes token
in parallel while the order of rows is kept. A row with an identifier that the
standard refuses is not written out at all: it goes to the error file with its
row number, column and reason, and its raw values never leave this machine.

Each token replaces its identifier in place (``--column``), or the identifiers of
a row go to the platform's columns ``id_type``/``token`` ... ``id_type_5``/``token_5``
(``memberkit.pairs``: a file that names each identifier's type in its rows, or
``--pairs``).
"""

import csv
import hashlib
import hmac
import io
import json
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from itertools import chain, islice
from pathlib import Path
from typing import Any, TextIO

from memberkit import identifiers, pairs
from memberkit.progress import Progress

CHUNK_ROWS = 5_000


@dataclass(frozen=True)
class Mapping:
    """Which columns hold which identifier types, and whether the tokens go to the platform's columns.

    No columns: the file names each identifier's type in its rows (``id_type``/``identifier``,
    ``id_type_2``/``identifier_2`` ...), and the tokens always go to the platform's columns
    (``memberkit.pairs``). Otherwise each token replaces its identifier in place, or, with
    ``pairs``, goes to the platform's columns.
    """

    columns: dict[str, str]
    pairs: bool = False

    @classmethod
    def parse(cls, pairs: Iterable[str], to_pairs: bool = False) -> "Mapping":
        columns = {}
        for pair in pairs:
            column, equals, id_type = pair.partition("=")
            if not equals or not column or id_type not in identifiers.TYPES:
                raise ValueError(f"map a column as COLUMN=TYPE, TYPE one of {', '.join(identifiers.TYPES)}: {pair!r}")
            columns[column] = id_type
        return cls(columns, to_pairs or not columns)


@dataclass
class Outcome:
    rows: int = 0
    written: int = 0
    refused: int = 0


def load_key(path: Path) -> bytes:
    """The consortium key file: 64 hexadecimal characters (whitespace around them is ignored)."""
    text = path.read_text(encoding="ascii").strip()
    key = bytes.fromhex(text)
    if len(key) != identifiers.KEY_BYTES:
        raise ValueError(f"the key file holds {len(key)} bytes, not {identifiers.KEY_BYTES}")
    return key


class Tokenizer:
    """Member tokens with the key's HMAC state prepared once, not once per identifier."""

    def __init__(self, key: bytes) -> None:
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def token(self, id_type: str, raw: str) -> str:
        return self.of(id_type)(raw)

    def of(self, id_type: str) -> Callable[[str], str]:
        """The token function of one type, for a loop over a column: what can be, is looked up once."""
        copy, normalize = self._keyed.copy, identifiers.normalizer(id_type)
        prefix = identifiers.message(id_type, "").decode()

        def token(raw: str) -> str:
            keyed = copy()
            keyed.update((prefix + normalize(raw)).encode())
            return keyed.hexdigest()

        return token


# Each worker process builds its tokenizer once, from the key it is started with.
_worker_tokenizer: Tokenizer | None = None


def _start_worker(key: bytes) -> None:
    global _worker_tokenizer
    _worker_tokenizer = Tokenizer(key)


Row = Any  # a list of CSV fields, or a JSON object
Refusal = tuple[int, str, str]
# Where each identifier sits in a row (a CSV field's index, a JSON key), its column name and its type.
Columns = list[tuple[int | str, str, str]]
# What is done to a chunk of rows, the first numbered as given; the tokenizer is the worker's if None.
Work = Callable[..., tuple[list[Row], list[Refusal]]]


def token_rows(
    rows: list[Row], first_number: int, columns: Columns, tokenizer: Tokenizer | None = None
) -> tuple[list[Row], list[Refusal]]:
    """Replace each mapped column by its token; a row with a refused identifier is dropped and reported."""
    tokenizer = tokenizer or _worker_tokenizer
    assert tokenizer is not None
    functions = [(place, name, tokenizer.of(id_type)) for place, name, id_type in columns]
    good: list[Row] = []
    refused: list[Refusal] = []
    # CSV rows are lists and every field is text; JSON objects may lack a key or hold a number.
    lists = all(isinstance(place, int) for place, _name, _type in columns)
    start = 0
    if lists and len(functions) == 1:  # the usual file: rows tokenized in place, in a short loop, until one fails
        start = _tokenized_until_refused(rows, functions[0])
        good.extend(rows[:start])
    for number, row in enumerate(rows[start:], start=first_number + start):
        try:
            for place, name, token in functions:  # noqa: B007 - name reports a refusal below
                if lists:
                    if value := row[place]:  # an empty field: no identifier of this type
                        row[place] = token(value)
                elif (value := row.get(place)) is not None and value != "":
                    row[place] = token(str(value))
        except identifiers.InvalidIdentifier as error:
            refused.append((number, name, error.reason))
        except IndexError:
            refused.append((number, name, "missing_field"))
        else:
            good.append(row)
    return good, refused


def paired_rows(
    rows: list[Row], first_number: int, layout: pairs.Layout, tokenizer: Tokenizer | None = None
) -> tuple[list[Row], list[Refusal]]:
    """``pairs.pair_rows`` with the worker's tokenizer, for a file whose tokens go to the platform's columns."""
    tokenizer = tokenizer or _worker_tokenizer
    assert tokenizer is not None
    return pairs.pair_rows(rows, first_number, layout, tokenizer)


def _tokenized_until_refused(rows: list[Row], column: tuple[Any, str, Callable[[str], str]]) -> int:
    """Tokenize one CSV column in place; how many rows were done before the first that fails (all, if none).

    The failing row is left as it was, for ``token_rows`` to check and report with the rest.
    """
    place, _name, token = column
    for index, row in enumerate(rows):
        try:
            if value := row[place]:  # an empty field: no identifier of this type
                row[place] = token(value)
        except (identifiers.InvalidIdentifier, IndexError):
            return index
    return len(rows)


def hash_file(
    source: Path,
    target: Path,
    errors: Path,
    mapping: Mapping,
    key: bytes,
    workers: int = 1,
    progress: bool = True,
) -> Outcome:
    """Write ``target`` with every mapped identifier of ``source`` replaced by its member token."""
    fmt = _format_of(source)
    outcome = Outcome()
    bar = Progress(source.stat().st_size, enabled=progress)
    with (
        source.open("rb") as raw_in,
        target.open("w", encoding="utf-8", newline="") as out,
        errors.open("w", encoding="utf-8", newline="") as err,
    ):
        text_in = io.TextIOWrapper(raw_in, encoding="utf-8-sig", newline="")
        reader, writer, work = _reader_writer(fmt, text_in, out, mapping)
        error_writer = csv.writer(err)
        error_writer.writerow(["row", "column", "reason"])
        for good, refused in _run_chunks(_chunks(reader), work, key, workers):
            writer(good)
            error_writer.writerows(refused)
            outcome.rows += len(good) + len(refused)
            outcome.written += len(good)
            outcome.refused += len(refused)
            bar.update(raw_in.tell(), outcome.rows)
        bar.update(source.stat().st_size, outcome.rows, final=True)
    return outcome


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise ValueError(f"read CSV (.csv) or JSON Lines (.jsonl), not {path.name}")


def _reader_writer(
    fmt: str, text_in: TextIO, out: TextIO, mapping: Mapping
) -> tuple[Iterator[Row], Callable[[list[Row]], None], Work]:
    if fmt == "csv":
        reader = csv.reader(text_in)
        header = next(reader, [])
        missing = sorted(set(mapping.columns) - set(header))
        if missing:
            raise ValueError(f"the file has no column {', '.join(missing)}")
        csv_writer = csv.writer(out)
        if mapping.pairs:
            layout, written = pairs.csv_layout(header, mapping.columns)
            csv_writer.writerow(written)
            return reader, csv_rows_writer(out, csv_writer), partial(paired_rows, layout=layout)
        csv_writer.writerow(header)
        places: Columns = [(header.index(name), name, id_type) for name, id_type in mapping.columns.items()]
        return reader, csv_rows_writer(out, csv_writer), partial(token_rows, columns=places)

    def rows() -> Iterator[Row]:
        for line in text_in:
            if line.strip():
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("every JSON Lines row is an object")
                yield row

    def write(good: list[Row]) -> None:
        out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in good)

    if mapping.pairs:
        return rows(), write, partial(paired_rows, layout=pairs.json_layout(mapping.columns))
    return (
        rows(),
        write,
        partial(token_rows, columns=[(name, name, id_type) for name, id_type in mapping.columns.items()]),
    )


# What makes csv.writer quote a field (QUOTE_MINIMAL, the excel dialect).
_QUOTED = (",", '"', "\r", "\n")


def csv_rows_writer(out: TextIO, writer: Any) -> Callable[[list[Row]], None]:
    """``writer.writerows``, faster for the usual chunk: what csv.writer would write, byte for byte.

    A chunk with no field that needs quoting, and no row of one empty field
    (which csv.writer writes as ``""``), is joined in one go; any other goes
    through ``writer``. Writing one row at a time costs more than tokenizing it.
    """

    def write(rows: list[Row]) -> None:
        if not rows:
            return
        cells = "".join(chain.from_iterable(rows))
        if [""] in rows or any(special in cells for special in _QUOTED):
            writer.writerows(rows)
        else:
            out.write("\r\n".join(map(",".join, rows)) + "\r\n")

    return write


def _chunks(rows: Iterator[Row]) -> Iterator[tuple[list[Row], int]]:
    first = 1
    while chunk := list(islice(rows, CHUNK_ROWS)):
        yield chunk, first
        first += len(chunk)


def _run_chunks(
    chunks: Iterator[tuple[list[Row], int]], work: Work, key: bytes, workers: int
) -> Iterator[tuple[list[Row], list[Refusal]]]:
    if workers <= 1:
        tokenizer = Tokenizer(key)
        for chunk, first in chunks:
            yield work(chunk, first, tokenizer=tokenizer)
        return
    from concurrent.futures import ProcessPoolExecutor  # only now: one worker needs no pool

    # At most two chunks per worker in flight: memory stays constant however long the file.
    with ProcessPoolExecutor(max_workers=workers, initializer=_start_worker, initargs=(key,)) as pool:
        pending: deque[Future[tuple[list[Row], list[Refusal]]]] = deque()
        for chunk, first in chunks:
            pending.append(pool.submit(work, chunk, first))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def default_workers() -> int:
    return os.cpu_count() or 1
