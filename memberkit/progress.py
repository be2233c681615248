"""The client's progress bars: one line on standard error, redrawn in place.

Every command draws the same bar, so a member who has watched ``hash`` reads
``upload`` at a glance. Redrawing is throttled to five times a second: a bar
must never slow the work it reports on, however small the steps.
"""

import sys
import time
from typing import TextIO

WIDTH = 30
INTERVAL = 0.2  # seconds between two redraws


class Bar:
    """A bar and a caption after it: how far along, and in words what has been done."""

    def __init__(self, stream: TextIO | None = None, enabled: bool = True) -> None:
        # Looked up now, not at import: a caller (or a test) that swaps sys.stderr gets the bar.
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.started = self.last = time.monotonic()
        self._open = False  # a line is drawn and not yet ended
        self._width = 0

    def draw(self, done: int, total: int, text: str, final: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not final and now - self.last < INTERVAL):
            return
        self.last = now
        share = min(done / max(total, 1), 1.0)
        line = f"\r[{'#' * int(share * WIDTH):<{WIDTH}}] {share:6.1%}  {text}"
        # Blank out what a longer previous line left behind ("1,204 rows/s" then "998 rows/s").
        self.stream.write(line.ljust(self._width))
        self._width = len(line)
        self._open = not final
        if final:
            self.stream.write("\n")
        self.stream.flush()

    def rate(self, count: float) -> float:
        """``count`` per second since the bar was made."""
        return count / max(time.monotonic() - self.started, 1e-9)

    def break_line(self) -> None:
        """End the bar's line, so that a message printed now starts on a line of its own."""
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open, self._width = False, 0


class Progress(Bar):
    """``hash``'s bar: by bytes read of the input file, with rows and rows per second."""

    def __init__(self, total_bytes: int, stream: TextIO | None = None, enabled: bool = True) -> None:
        super().__init__(stream, enabled)
        self.total = max(total_bytes, 1)

    def update(self, done_bytes: int, rows: int, final: bool = False) -> None:
        self.draw(done_bytes, self.total, f"{rows:,} rows  {self.rate(rows):,.0f} rows/s", final)


def size(count: int) -> str:
    """A byte count as people read it: 4.0 GB, 12.5 MB, 812 B (powers of 1,000, as disks are sold)."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count} B"
