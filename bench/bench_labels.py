"""Benchmark: what refusing identifiers in references costs ``Checker.check``, per row.

    .venv/bin/python bench/bench_labels.py [--rows N] [--repeat N]

Checks ``--rows`` typical flags (100,000 by default) with ``Checker.check`` as it is, and with
``memberkit.labels.holds_identifier`` replaced by a function that finds nothing, in turn, and prints the
microseconds per row of each, best of ``--repeat`` (7 by default). The references mix the styles members use
(``L0001234``, ``LN-2026-000123``, 14-digit numbers, 18-digit numbers), none of them an
identifier, so every row is stored: the cost measured is the check's on rows that pass it. Also
prints the cost of ``holds_identifier`` alone for each style. No database, no Django settings.
"""

import argparse
import random
import sys
import time
import timeit
from datetime import date
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from memberkit import labels
from sharing.flags import checking as rows
from sharing.keys.tokens import Peppers

STYLES = {
    "L0001234": lambda index: f"L{index:07d}",
    "LN-2026-000123": lambda index: f"LN-2026-{index:06d}",
    "20260115000123 (14 digits)": lambda index: f"20260115{index:06d}",
    "202601150930001234 (18 digits)": lambda index: f"2026011509{index:08d}",
}


def flags(count: int) -> list[dict[str, object]]:
    random_ = random.Random(20261203)
    styles = list(STYLES.values())
    return [
        {
            "reference": styles[index % len(styles)](index),
            "id_type": "cnid",
            "token": random_.randbytes(32).hex(),
            "category": "overdue_90",
            "event_date": "2026-01-15",
            "amount_band": "10k_50k",
            "notice_date": "2026-01-20",
            "notice_channel": "sms",
        }
        for index in range(count)
    ]


def finds_nothing(label: str) -> bool:
    """The check without its cost: a plain function, not a mock, whose own call costs microseconds."""
    return False


def per_row(checker: rows.Checker, items: list[dict[str, object]], repeat: int) -> tuple[float, float]:
    """Microseconds per row with the label check and without it, best of ``repeat`` runs of each,
    taken in turn so that the load of a shared machine weighs on both alike."""

    def run() -> float:
        started = time.perf_counter()
        for item in items:
            checker.check(item)
        return (time.perf_counter() - started) / len(items) * 1e6

    with_check, without = [], []
    for _ in range(repeat):
        with_check.append(run())
        with mock.patch.object(rows, "holds_identifier", new=finds_nothing):
            without.append(run())
    return min(with_check), min(without)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    options = parser.parse_args()
    items = flags(options.rows)
    checker = rows.Checker(Peppers({1: bytes(range(32))}), date(2026, 12, 3))
    sample = checker.check(items[0])
    assert not isinstance(sample, list), sample
    assert not any(labels.holds_identifier(str(item["reference"])) for item in items)
    with_check, without = per_row(checker, items, options.repeat)
    print(f"Checker.check over {len(items):,} rows, best of {options.repeat}:")
    print(f"  with the label check     {with_check:6.2f} µs/row")
    print(f"  without it               {without:6.2f} µs/row")
    print(f"  difference               {with_check - without:6.2f} µs/row ({with_check / without - 1:+.1%})")
    print("holds_identifier alone, per reference style:")
    for name, style in STYLES.items():
        references = [style(index) for index in range(10_000)]
        best = min(timeit.repeat(lambda: list(map(labels.holds_identifier, references)), number=1, repeat=5))  # noqa: B023
        print(f"  {name:32} {best / len(references) * 1e6:6.2f} µs")


if __name__ == "__main__":
    main()
