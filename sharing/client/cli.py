"""``python -m sharing.client``: the member client's commands."""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sharing.client import hashing, querying, uploading
from sharing.identifiers import TYPES


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

    upload_parser = commands.add_parser(
        "upload", help="send a file of flags, follow its job to the end and fetch its error report"
    )
    upload_parser.add_argument("file", type=Path, help="the flags, tokenized (.csv or .jsonl)")
    upload_parser.add_argument("--url", required=True, help="the platform, e.g. https://riskshare.example.org")
    upload_parser.add_argument(
        "--api-key-file",
        type=Path,
        metavar="PATH",
        help=f"a file holding the API key (default: the environment variable {uploading.KEY_VARIABLE})",
    )
    upload_parser.add_argument(
        "--errors",
        type=Path,
        metavar="PATH",
        help="the error report, if rows are rejected or superseded (default: FILE.upload-errors.csv)",
    )
    upload_parser.add_argument(
        "--format", choices=("csv", "jsonl"), help="the file's format (default: from its name, .csv or .jsonl)"
    )
    upload_parser.add_argument("--quiet", action="store_true", help="no progress bar")
    upload_parser.add_argument(
        "--poll-seconds", type=_seconds, default=2.0, metavar="N", help="seconds between two polls (default: 2)"
    )
    upload_parser.add_argument(
        "--ca-file",
        type=Path,
        metavar="PATH",
        help="a CA bundle to trust besides the system's, for a platform with its own CA",
    )
    _query_arguments(
        commands.add_parser(
            "query", help="look up the borrowers of a tokenized file, 100 a request, and write what others flagged"
        )
    )
    args = parser.parse_args(argv)

    if args.command == "query":
        return querying.run(
            querying.Options(
                file=args.file,
                url=args.url,
                purpose=args.purpose,
                consent_reference=args.consent_reference,
                api_key_file=args.api_key_file,
                output=args.output,
                quiet=args.quiet,
                ca_file=args.ca_file,
                token_column=args.token_column,
                id_type=args.id_type,
                correlation_column=args.correlation_column,
            )
        )
    if args.command == "upload":
        return uploading.run(
            uploading.Options(
                file=args.file,
                url=args.url,
                api_key_file=args.api_key_file,
                errors=args.errors,
                file_format=args.format,
                quiet=args.quiet,
                poll_seconds=args.poll_seconds,
                ca_file=args.ca_file,
            )
        )
    return _hash(args)


def _query_arguments(query_parser: argparse.ArgumentParser) -> None:
    query_parser.add_argument("file", type=Path, help="the subjects, tokenized (.csv or .jsonl)")
    query_parser.add_argument("--url", required=True, help="the platform, e.g. https://riskshare.example.org")
    query_parser.add_argument(
        "--purpose",
        required=True,
        choices=querying.PURPOSES,
        metavar="PURPOSE",
        help=f"why you look them up, recorded with every query: {', '.join(querying.PURPOSES)}",
    )
    query_parser.add_argument(
        "--consent-reference",
        metavar="REF",
        help="the reference of the borrowers' written authorization (required for loan_application, credit_review)",
    )
    query_parser.add_argument(
        "--api-key-file",
        type=Path,
        metavar="PATH",
        help=f"a file holding the API key (default: the environment variable {uploading.KEY_VARIABLE})",
    )
    query_parser.add_argument(
        "--output",
        type=Path,
        metavar="PATH",
        help="the answers, CSV or .jsonl; an existing one is continued (default: FILE.results.csv)",
    )
    query_parser.add_argument(
        "--token-column", default="token", metavar="NAME", help="the column of member tokens (default: token)"
    )
    query_parser.add_argument(
        "--correlation-column",
        default="correlation_id",
        metavar="NAME",
        help="the column of your own ids for the rows (default: correlation_id)",
    )
    query_parser.add_argument(
        "--id-type",
        choices=TYPES,
        metavar="TYPE",
        help=f"the identifier type of every row, for a file with no id_type column: {', '.join(TYPES)}",
    )
    query_parser.add_argument("--quiet", action="store_true", help="no progress bar")
    query_parser.add_argument(
        "--ca-file",
        type=Path,
        metavar="PATH",
        help="a CA bundle to trust besides the system's, for a platform with its own CA",
    )


def _hash(args: argparse.Namespace) -> int:
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


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600:
        raise argparse.ArgumentTypeError(f"give 0 to 3600 seconds, not {text}")
    return seconds
