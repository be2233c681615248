"""``python -m sharing.client``: the member client's commands."""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sharing.client import hashing


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sharing.client", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    hash_parser = commands.add_parser(
        "hash", help="replace the identifiers in a CSV or JSON Lines file by member tokens"
    )
    hash_parser.add_argument("source", type=Path, help="the raw file (.csv or .jsonl)")
    hash_parser.add_argument("target", type=Path, help="where the tokenized rows go (same format)")
    hash_parser.add_argument("--key-file", type=Path, required=True, help="the consortium key: 64 hex characters")
    hash_parser.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="COLUMN=TYPE",
        help="an identifier column and its type (cnid, mobile, uscc, passport); repeat for several",
    )
    hash_parser.add_argument(
        "--errors", type=Path, help="refused rows: row, column, reason (default: TARGET.errors.csv)"
    )
    hash_parser.add_argument(
        "--workers", type=int, default=hashing.default_workers(), help="processes (default: every core)"
    )
    hash_parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    try:
        mapping = hashing.Mapping.parse(args.column)
        key = hashing.load_key(args.key_file)
        errors = args.errors or args.target.with_name(args.target.name + ".errors.csv")
        outcome = hashing.hash_file(
            args.source, args.target, errors, mapping, key, workers=args.workers, progress=not args.quiet
        )
    except (OSError, ValueError) as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    print(f"{outcome.rows} rows: {outcome.written} written to {args.target}, {outcome.refused} refused (see {errors})")
    return 1 if outcome.refused else 0
