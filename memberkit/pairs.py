"""A row's identifiers written as the platform reads them: ``id_type``/``token`` up to ``id_type_5``/``token_5``.

A borrower is known by one to ``IDENTIFIERS_MAX`` identifiers, at most one of each type
(docs/identifiers.md). ``hash`` reads them from a raw file in one of two layouts:

- typed pairs: the file names each identifier's type in its row, in the columns ``id_type`` and
  ``identifier``, ``id_type_2`` and ``identifier_2``, and so on;
- one column per type (``--column borrower_id=cnid --column mobile=mobile --pairs``).

Either way the identifiers of a row come out as member tokens in the platform's columns, the
first one given in ``id_type``/``token``, the next in ``id_type_2``/``token_2`` and so on, in
the place of the columns they were read from. A row with two identifiers of one type, more than
``IDENTIFIERS_MAX``, an identifier without its type, or one that the standard refuses is not
written: it is refused with its row number, the column and the reason, never its value.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from memberkit import identifiers
from memberkit.vocabulary import IDENTIFIERS_MAX, NUMBERED_COLUMNS

# The platform's columns, in order: the first identifier's, then the numbered ones.
PAIRS = (("id_type", "token"), *NUMBERED_COLUMNS)
OUT_COLUMNS = frozenset(name for pair in PAIRS for name in pair)
# A typed pair of a raw file: ``id_type``/``identifier`` (number 1), ``id_type_2``/``identifier_2`` ...
_RAW_COLUMN = re.compile(r"(id_type|identifier)(?:_([2-9]|[1-9][0-9]+))?")

Row = Any  # a list of CSV fields, or a JSON object
Place = int | str  # a CSV field's index, or a JSON key
Refusal = tuple[int, str, str]  # row, column, reason


class Tokens(Protocol):
    def of(self, id_type: str) -> Callable[[str], str]: ...


@dataclass(frozen=True)
class Source:
    """Where a row holds one identifier: its value, and its type (a column of its own, or one for the column)."""

    place: Place
    column: str
    type_place: Place | None = None  # the id_type column of a typed pair
    type_column: str = ""
    id_type: str = ""  # the type of a column of one type


@dataclass(frozen=True)
class Layout:
    """How ``pair_rows`` reads and writes the rows of one file.

    ``sources`` are read in order; a JSON Lines file of typed pairs finds them in each row
    (``typed``). A CSV row keeps its other fields, at ``keep``, with ``width`` pairs in the
    place of the first identifier column (before ``keep[at]``).
    """

    sources: tuple[Source, ...] = ()
    typed: bool = False
    keep: tuple[int, ...] = ()
    at: int = 0
    width: int = 0
    names: tuple[str, ...] = ()  # a CSV file's header


def typed_pairs(names: Sequence[str], by_name: bool = False) -> list[Source]:
    """The typed pairs among ``names`` (a CSV header, or a JSON object's keys), in number order.

    Each is placed by its index among ``names``, or ``by_name``. Raises ``MissingColumn`` for a
    pair that lacks one of its two columns.
    """
    found: dict[int, dict[str, str]] = {}
    places: dict[str, Place] = {}
    for index, name in enumerate(names):
        if match := _RAW_COLUMN.fullmatch(name):
            found.setdefault(int(match.group(2) or 1), {})[match.group(1)] = name
            places[name] = name if by_name else index
    sources = []
    for number in sorted(found):
        pair = found[number]
        suffix = "" if number == 1 else f"_{number}"
        for needed in ("id_type", "identifier"):
            if needed not in pair:
                raise MissingColumn(needed + suffix, next(iter(pair.values())))
        value, kind = pair["identifier"], pair["id_type"]
        sources.append(Source(places[value], value, places[kind], kind))
    return sources


class MissingColumn(ValueError):
    """A typed pair with one of its two columns only."""

    def __init__(self, missing: str, given: str) -> None:
        super().__init__(f"the file has a column {given} but no {missing}")
        self.missing = missing


def csv_layout(header: Sequence[str], columns: dict[str, str]) -> tuple[Layout, list[str]]:
    """The layout of a CSV file and the header it is written with.

    ``columns`` maps columns of one type each; empty, the file's typed pairs are read.
    """
    if columns:
        sources = [Source(header.index(name), name, id_type=id_type) for name, id_type in columns.items()]
    else:
        sources = typed_pairs(header)
        if not sources:
            raise ValueError(
                "the file has no column identifier: name each identifier column and its type with "
                "--column COLUMN=TYPE, or give the file the columns id_type and identifier "
                "(id_type_2 and identifier_2 ... for more identifiers of a borrower)"
            )
    # A CSV file's sources are placed by index.
    read = {place for source in sources for place in (source.place, source.type_place) if isinstance(place, int)}
    clash = sorted(name for index, name in enumerate(header) if name in OUT_COLUMNS and index not in read)
    if clash:
        raise ValueError(
            f"the file has a column {', '.join(clash)} already: the tokens are written to id_type, token, "
            "id_type_2, token_2 ... (rename it, or map it with --column)"
        )
    keep = tuple(index for index in range(len(header)) if index not in read)
    first = min(read)
    at = sum(index < first for index in keep)
    width = min(len(sources), IDENTIFIERS_MAX)
    written = [header[index] for index in keep]
    written[at:at] = [name for pair in PAIRS[:width] for name in pair]
    return Layout(tuple(sources), keep=keep, at=at, width=width, names=tuple(header)), written


def json_layout(columns: dict[str, str]) -> Layout:
    """The layout of a JSON Lines file: its mapped keys, or each row's own typed pairs."""
    if not columns:
        return Layout(typed=True)
    return Layout(tuple(Source(name, name, id_type=id_type) for name, id_type in columns.items()))


def pair_rows(rows: list[Row], first_number: int, layout: Layout, tokenizer: Tokens) -> tuple[list[Row], list[Refusal]]:
    """Each row with its identifiers replaced by the platform's pairs of tokens; refused rows apart."""
    functions: dict[str, Callable[[str], str]] = {}
    good: list[Row] = []
    refused: list[Refusal] = []
    for number, row in enumerate(rows, start=first_number):
        outcome = _row_pairs(row, layout, functions, tokenizer)
        if isinstance(outcome, tuple):
            refused.append((number, *outcome))
        else:
            good.append(_written(row, layout, outcome))
    return good, refused


def _row_pairs(
    row: Row, layout: Layout, functions: dict[str, Callable[[str], str]], tokenizer: Tokens
) -> list[tuple[str, str]] | tuple[str, str]:
    """The row's (type, token) pairs, or why it is refused: (column, reason)."""
    lists = isinstance(row, list)
    sources = layout.sources
    if layout.typed:
        try:
            sources = tuple(typed_pairs(list(row), by_name=True))
        except MissingColumn as missing:
            return missing.missing, "missing_field"
        if not sources:
            return "identifier", "missing_field"
    given: list[tuple[Source, str]] = []
    for source in sources:
        if lists:
            for place, column in ((source.place, source.column), (source.type_place, source.type_column)):
                if isinstance(place, int) and place >= len(row):
                    return column, "missing_field"
            value = row[source.place]
        else:
            value = row.get(source.place)
            value = "" if value is None else str(value)
        if value != "":
            given.append((source, value))
    if len(given) > IDENTIFIERS_MAX:
        return given[IDENTIFIERS_MAX][0].column, "too_many_identifiers"
    pairs: list[tuple[str, str]] = []
    for source, value in given:
        id_type = source.id_type
        if source.type_place is not None:
            named = row[source.type_place] if lists else row.get(source.type_place)
            if named is None or named == "":
                return source.type_column, "required"
            id_type = named.strip() if isinstance(named, str) else ""
            if id_type not in identifiers.TYPES:
                return source.type_column, "unknown_type"
        if any(seen == id_type for seen, _ in pairs):
            return source.type_column or source.column, "duplicate_id_type"
        if id_type not in functions:
            functions[id_type] = tokenizer.of(id_type)
        try:
            pairs.append((id_type, functions[id_type](value)))
        except identifiers.InvalidIdentifier as error:
            return source.column, error.reason
    return pairs


def _written(row: Row, layout: Layout, pairs: list[tuple[str, str]]) -> Row:
    if isinstance(row, list):
        cells = [cell for pair in pairs for cell in pair]
        cells += [""] * (2 * layout.width - len(cells))
        kept = [row[index] for index in layout.keep if index < len(row)]
        return [*kept[: layout.at], *cells, *kept[layout.at :], *row[len(layout.names) :]]
    read = _read_keys(row, layout)
    out: dict[str, Any] = {}
    placed = False
    for name, value in row.items():
        if name in read:
            if not placed:
                out.update(_json_pairs(pairs))
                placed = True
        elif name not in OUT_COLUMNS:
            out[name] = value
    if not placed:
        out.update(_json_pairs(pairs))
    return out


def _read_keys(row: dict[str, Any], layout: Layout) -> set[Any]:
    if layout.typed:
        return {name for name in row if _RAW_COLUMN.fullmatch(name)}
    return {source.place for source in layout.sources}


def _json_pairs(pairs: list[tuple[str, str]]) -> dict[str, str]:
    return {
        name: value for names, pair in zip(PAIRS, pairs, strict=False) for name, value in zip(names, pair, strict=True)
    }
