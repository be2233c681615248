"""Small-cell suppression: what it hides, and that nothing hidden can be worked out again."""

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from sharing.reports.suppression import Line, is_small, suppress


def table(grid: list[list[int]]) -> tuple[dict[object, int], list[Line]]:
    """A table with row totals, column totals and a grand total, as cells and lines."""
    rows, columns = len(grid), len(grid[0])
    values: dict[object, int] = {}
    for r in range(rows):
        for c in range(columns):
            values[r, c] = grid[r][c]
        values[r, "all"] = sum(grid[r])
    for c in range(columns):
        values["all", c] = sum(grid[r][c] for r in range(rows))
    values["all", "all"] = sum(map(sum, grid))
    lines = [Line((r, "all"), tuple((r, c) for c in range(columns))) for r in range(rows)]
    lines += [Line(("all", c), tuple((r, c) for r in range(rows))) for c in range(columns)]
    lines.append(Line(("all", "all"), tuple((r, "all") for r in range(rows))))
    lines.append(Line(("all", "all"), tuple(("all", c) for c in range(columns))))
    return values, lines


def determined(hidden: set[object], lines: list[Line]) -> set[object]:
    """The hidden cells that the lines pin down, by a method of its own: x is determined exactly
    when dropping its column lowers the rank of the system over the hidden cells (exact fractions)."""
    order = sorted(hidden, key=repr)
    matrix = []
    for line in lines:
        row = [Fraction(0)] * len(order)
        for cell, sign in ((line.total, 1), *((part, -1) for part in line.parts)):
            if cell in hidden:
                row[order.index(cell)] += sign
        if any(row):
            matrix.append(row)
    full = rank(matrix)
    return {cell for n, cell in enumerate(order) if rank([r[:n] + r[n + 1 :] for r in matrix]) < full}


def rank(matrix: list[list[Fraction]]) -> int:
    rows = [list(row) for row in matrix]
    found = 0
    columns = len(rows[0]) if rows else 0
    for column in range(columns):
        pivot = next((n for n in range(found, len(rows)) if rows[n][column] != 0), None)
        if pivot is None:
            continue
        rows[found], rows[pivot] = rows[pivot], rows[found]
        for n in range(len(rows)):
            if n != found and rows[n][column] != 0:
                factor = rows[n][column] / rows[found][column]
                rows[n] = [a - factor * b for a, b in zip(rows[n], rows[found], strict=True)]
        found += 1
    return found


def test_a_small_cell_and_its_complements_in_row_and_column():
    values, lines = table([[40, 12], [25, 3], [30, 0]])

    hidden = suppress(values, lines)

    # 3 is small; 25 keeps the row from giving it away, 12 the column, and 40 then both of theirs.
    assert hidden == {(1, 1), (1, 0), (0, 1), (0, 0)}
    assert not determined(hidden, lines)


def test_nothing_is_suppressed_when_nothing_is_small():
    values, lines = table([[40, 12], [25, 0]])

    assert suppress(values, lines) == set()


def test_a_small_total_is_suppressed_with_its_parts():
    values, lines = table([[4, 0], [50, 60]])

    hidden = suppress(values, lines)

    assert {(0, 0), (0, "all")} <= hidden
    assert not determined(hidden, lines)


def test_three_lines_that_would_give_a_cell_away_together_are_broken():
    """x + y = 10 + ..., y + z, x + z: each line holds two suppressed cells, but together they solve."""
    values = {"x": 5, "y": 20, "z": 30, "xy": 25, "yz": 50, "xz": 35}
    lines = [Line("xy", ("x", "y")), Line("yz", ("y", "z")), Line("xz", ("x", "z"))]

    hidden = suppress(values, lines)

    assert "x" in hidden
    assert not determined(hidden, lines)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(st.one_of(st.integers(0, 12), st.integers(11, 500)), min_size=2, max_size=5),
        min_size=2,
        max_size=5,
    ).filter(lambda grid: len({len(row) for row in grid}) == 1)
)
def test_every_small_cell_is_suppressed_and_none_can_be_worked_out(grid):
    values, lines = table(grid)

    hidden = suppress(values, lines)

    assert {cell for cell, value in values.items() if is_small(value)} <= hidden
    for line in lines:
        assert sum(cell in hidden for cell in line.cells) != 1, line
    assert not determined(hidden, lines)
