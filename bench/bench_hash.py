"""Benchmark: the member client's ``hash`` over 1,000,000 resident identity numbers.

    .venv/bin/python bench/bench_hash.py [--rows N]

Generates a CSV of valid, random resident identity numbers in a temporary folder
(deleted afterwards), then measures in the same run:
- the raw rate of pre-keyed HMAC-SHA256 over the same canonical messages on this
  machine (the baseline: what tokenizing costs with no reading, cleaning,
  checking or writing at all);
- ``python -m memberkit hash`` with one worker and with every core, as a
  member runs it, including reading and writing the files;
- the peak memory of each run, to show it does not grow with the file.
Each is measured ``--repeat`` times (3 by default) and the best of each is
compared: on a shared machine noise only ever slows a run down, and it slows the
client's runs and the baseline's alike.
Target (issue 4): on one core, at least a quarter of the raw rate.
"""

import argparse
import csv
import datetime
import hashlib
import hmac
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def check_character(body: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]


def generate(path: Path, rows: int) -> None:
    random_ = random.Random(20261128)
    first = datetime.date(1940, 1, 1).toordinal()
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["loan_ref", "id_number", "amount"])
        for index in range(rows):
            born = datetime.date.fromordinal(first + random_.randrange(25_000))
            body = f"{random_.randrange(110000, 660000)}{born:%Y%m%d}{random_.randrange(1000):03d}"
            cnid = body + check_character(body)
            writer.writerow([f"L{index:07d}", cnid, random_.randrange(1_000, 500_000)])


def canonical_messages(path: Path) -> list[bytes]:
    """The same identifiers' messages for the raw baseline, read after the client has run: held in
    memory while it runs, they would count in its peak memory through the fork that starts it."""
    with path.open(newline="", encoding="utf-8") as file:
        return [f"rs1:cnid:{row[1]}".encode() for row in list(csv.reader(file))[1:]]


def raw_rate(messages: list[bytes], key: bytes) -> float:
    keyed = hmac.new(key, digestmod=hashlib.sha256)
    started = time.perf_counter()
    for message in messages:
        one = keyed.copy()
        one.update(message)
        one.hexdigest()
    return len(messages) / (time.perf_counter() - started)


def run_hash(source: Path, target: Path, key_file: Path, workers: int) -> tuple[float, float]:
    """Seconds and peak memory (MiB, the largest process) of one run of the client."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "memberkit",
            "hash",
            str(source),
            str(target),
            "--key-file",
            str(key_file),
            "--column",
            "id_number=cnid",
            "--workers",
            str(workers),
            "--quiet",
        ],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - started
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return seconds, peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    key = os.urandom(32)
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "key.hex").write_text(key.hex())
        source = work / "portfolio.csv"
        generate(source, args.rows)
        size = source.stat().st_size / 2**20
        ones, alls = [], []
        for _ in range(args.repeat):
            ones.append(run_hash(source, work / "one.csv", work / "key.hex", 1))
            alls.append(run_hash(source, work / "all.csv", work / "key.hex", cores))
        messages = canonical_messages(source)  # only now: see canonical_messages
        baselines = [raw_rate(messages, key) for _ in range(args.repeat)]
        with (work / "one.csv").open() as one, (work / "all.csv").open() as every:
            assert one.read() == every.read(), "one worker and every core must write the same file"
        one_seconds, one_peak = min(ones)
        all_seconds, all_peak = min(alls)
        baseline = max(baselines)
        print("runs, seconds:", ", ".join(f"{seconds:.2f}" for seconds, _peak in ones), "(1 worker);")
        print("              ", ", ".join(f"{seconds:.2f}" for seconds, _peak in alls), f"({cores} workers);")
        print("raw rates:    ", ", ".join(f"{rate:,.0f}" for rate in baselines), "per s")

    one_rate, all_rate = args.rows / one_seconds, args.rows / all_seconds
    print(f"hash over {args.rows:,} resident identity numbers ({size:.0f} MiB CSV); {cores} cores")
    print(f"  raw pre-keyed HMAC-SHA256, same messages, one core: {baseline:>10,.0f} per s   (baseline, best)")
    print(
        f"  memberkit hash, 1 worker:                       {one_rate:>10,.0f} rows/s "
        f"= {one_rate / baseline:.0%} of raw   peak memory {one_peak:.0f} MiB"
    )
    print(
        f"  memberkit hash, {cores} workers:                       {all_rate:>10,.0f} rows/s "
        f"= {all_rate / baseline:.0%} of raw   peak memory {all_peak:.0f} MiB (largest process)"
    )
    verdict = "met" if one_rate >= baseline / 4 else "NOT met"
    print(f"Target, one core at least 1/4 of raw ({baseline / 4:,.0f} rows/s): {verdict}")


if __name__ == "__main__":
    main()
