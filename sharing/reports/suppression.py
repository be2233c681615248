"""Small-cell suppression for published counts of borrowers (docs/reports.md).

A report's counts form a set of cells tied together by additive relations, *lines*: a
total and the parts it is the sum of (a row of a table and its row total, the members of a
sector and the sector's figure, ...). Every cell that counts borrowers and holds 1 to 10
is suppressed (*primary* suppression). A suppressed cell whose value could then be worked
out from the published cells is protected by suppressing others (*complementary*
suppression):

1. Along every line, no suppressed cell may be the only one: otherwise the total minus
   the published parts gives it. The complement chosen is the line's smallest published
   non-zero part, else its total, else a zero part: the least information lost. Lines are
   mended smallest total first.
2. Lines together can still give a cell away (three lines over three suppressed cells,
   say). So the published relations are solved as a system of linear equations in the
   suppressed cells, and while any suppressed cell is determined by them, a further
   cell on one of its lines is suppressed, and step 1 is applied again.

The result: no suppressed value can be computed exactly from the published values and
the lines. What it does not promise: that a suppressed cell cannot be narrowed to a
range (a suppressed 3 beside a suppressed 500 in a line of known total is known to lie
between 1 and 10 if the other is known to be at least 493); nor protection against
knowledge from outside the report (an institution knows its own figures).
"""

import heapq
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SMALLEST_PUBLISHED = 11  # counts from 1 to 10 are suppressed; zero is published
# Equations are solved modulo this prime (2**61 - 1): exact for the ranks that matter here.
_PRIME = 2**61 - 1


@dataclass(frozen=True)
class Line:
    """``total`` is the sum of ``parts``."""

    total: Hashable
    parts: tuple[Hashable, ...]

    @property
    def cells(self) -> tuple[Hashable, ...]:
        return (self.total, *self.parts)


class Cells:
    """Published counts of borrowers, by key, and the additive relations between them."""

    def __init__(self) -> None:
        self.values: dict[Hashable, int] = {}
        self.lines: list[Line] = []

    def add(self, key: Hashable, value: int) -> None:
        self.values[key] = value

    def relate(self, total: Hashable, parts: Iterable[Hashable]) -> None:
        self.lines.append(Line(total, tuple(parts)))


def is_small(value: int) -> bool:
    return 0 < value < SMALLEST_PUBLISHED


def suppress(values: Mapping[Any, int], lines: Sequence[Line]) -> set[Hashable]:
    """The cells of ``values`` to suppress: every small count, and complements until none can be worked out."""
    hidden = {cell for cell, value in values.items() if is_small(value)}
    while True:
        _complete_lines(values, lines, hidden)
        exposed = _determined(lines, hidden)
        if not exposed:
            return hidden
        hidden.add(_complement_for(exposed, values, lines, hidden))


def _complete_lines(values: Mapping[Any, int], lines: Sequence[Line], hidden: set[Hashable]) -> None:
    """Step 1: until no line has exactly one suppressed cell.

    Lines are mended smallest total first: a complement chosen in a small line (a member's row)
    then usually completes the larger lines above it too (its sector, the whole), where choosing
    first in the large line would pick a cell elsewhere and start a cascade.
    """
    by_cell: dict[Hashable, list[int]] = {}
    for n, line in enumerate(lines):
        for cell in line.cells:
            by_cell.setdefault(cell, []).append(n)

    def order(n: int) -> tuple[int, int, int]:
        return values[lines[n].total], len(lines[n].parts), n

    pending = [order(n) for n, line in enumerate(lines) if _alone(line, hidden)]
    heapq.heapify(pending)
    while pending:
        line = lines[heapq.heappop(pending)[2]]
        if not _alone(line, hidden):
            continue
        cell = _cheapest(line, values, hidden)
        hidden.add(cell)
        for n in by_cell[cell]:
            if _alone(lines[n], hidden):
                heapq.heappush(pending, order(n))


def _alone(line: Line, hidden: set[Hashable]) -> bool:
    return sum(1 for cell in line.cells if cell in hidden) == 1


def _cheapest(line: Line, values: Mapping[Any, int], hidden: set[Hashable]) -> Hashable:
    """The cell of ``line`` whose suppression loses least: the smallest published non-zero part,
    else the total, else a zero part."""
    parts = [cell for cell in line.parts if cell not in hidden]
    nonzero = [cell for cell in parts if values[cell] > 0]
    if nonzero:
        return min(nonzero, key=lambda cell: (values[cell], repr(cell)))
    if line.total not in hidden:
        return line.total
    return min(parts, key=repr)


def _complement_for(
    exposed: Hashable, values: Mapping[Any, int], lines: Sequence[Line], hidden: set[Hashable]
) -> Hashable:
    """A further cell to suppress on one of ``exposed``'s lines: the cheapest published one."""
    candidates = {cell for line in lines if exposed in line.cells for cell in line.cells if cell not in hidden}
    if not candidates:  # every cell of its lines is suppressed already: suppress a neighbour's neighbour
        candidates = {cell for line in lines for cell in line.cells if cell not in hidden}
    return min(candidates, key=lambda cell: (values[cell] == 0, values[cell], repr(cell)))


def _determined(lines: Iterable[Line], hidden: set[Hashable]) -> Hashable | None:
    """A suppressed cell whose value the published cells and the lines determine, if any.

    Each line is an equation over its suppressed cells (the published ones are constants).
    A suppressed cell is determined exactly when its unit vector lies in the equations' row
    space: after reduction to row echelon form, some row holds that cell alone.
    """
    order = sorted(hidden, key=repr)
    index = {cell: n for n, cell in enumerate(order)}
    rows: list[dict[int, int]] = []
    for line in lines:
        row: dict[int, int] = {}
        for cell, sign in ((line.total, 1), *((part, _PRIME - 1) for part in line.parts)):
            if cell in index:
                row[index[cell]] = (row.get(index[cell], 0) + sign) % _PRIME
        row = {k: v for k, v in row.items() if v}
        if row:
            rows.append(row)
    basis = _reduced(rows)
    for row in basis.values():
        if len(row) == 1:
            return order[next(iter(row))]
    return None


def _reduced(rows: list[dict[int, int]]) -> dict[int, dict[int, int]]:
    """Reduced row echelon form over GF(p) of sparse rows, keyed by pivot column."""
    basis: dict[int, dict[int, int]] = {}
    for row in rows:
        row = dict(row)
        for pivot in sorted(row):
            if pivot in basis and pivot in row:
                _eliminate(row, basis[pivot], pivot)
        if not row:
            continue
        pivot = min(row)
        inverse = pow(row[pivot], _PRIME - 2, _PRIME)
        row = {k: v * inverse % _PRIME for k, v in row.items()}
        for other in basis.values():
            if pivot in other:
                _eliminate(other, row, pivot)
        basis[pivot] = row
    return basis


def _eliminate(row: dict[int, int], by: dict[int, int], pivot: int) -> None:
    """Subtract ``row[pivot]`` times ``by`` (whose pivot coefficient is 1) from ``row``, in place."""
    factor = row[pivot]
    for column, value in by.items():
        new = (row.get(column, 0) - factor * value) % _PRIME
        if new:
            row[column] = new
        else:
            row.pop(column, None)
