"""``riskshare-member`` (or ``python -m memberkit``): the member client's commands."""

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from memberkit import hashing, inspecting, querying, session, uploading, verifying
from memberkit.vocabulary import FILE_FORMATS, ID_TYPES, LENDING_THRESHOLD_FIGURES, PURPOSES, UPLOAD_KINDS

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Opts = TypeVar("Opts", bound="DataclassInstance")


def main(argv: Sequence[str] | None = None, prog: str = "python -m memberkit") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
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
        help="an identifier column and its type (cnid, mobile, uscc, passport); repeat for several. "
        "Without it, the file names each identifier's type in its rows: columns id_type and identifier, "
        "id_type_2 and identifier_2 ... up to 5, written as id_type, token, id_type_2, token_2 ...",
    )
    hash_parser.add_argument(
        "--pairs",
        action="store_true",
        help="write the mapped columns' tokens to the platform's columns id_type, token, id_type_2, token_2 ... "
        "instead of in place",
    )
    hash_parser.add_argument(
        "--errors", type=Path, help="refused rows: row, column, reason (default: TARGET.errors.csv)"
    )
    hash_parser.add_argument(
        "--workers", type=int, default=hashing.default_workers(), help="processes (default: every core)"
    )
    hash_parser.add_argument("--quiet", action="store_true", help="no progress bar")

    upload_parser = commands.add_parser(
        "upload", help="send a file of flags (or of loans), follow its job to the end and fetch its error report"
    )
    upload_parser.add_argument("file", type=Path, help="the flags or loans, tokenized (.csv or .jsonl)")
    _platform_arguments(upload_parser)
    upload_parser.add_argument(
        "--kind",
        choices=UPLOAD_KINDS,
        default="flags",
        help="what the file holds: flags (the default) or loans",
    )
    upload_parser.add_argument(
        "--errors",
        type=Path,
        metavar="PATH",
        help="the error report, if rows are rejected, superseded or warned of (default: FILE.upload-errors.csv)",
    )
    _format_arguments(upload_parser)

    query_parser = commands.add_parser(
        "query", help="look up the borrowers of a tokenized file, 100 a request, and write what others flagged"
    )
    query_parser.add_argument("file", type=Path, help="the subjects, tokenized (.csv or .jsonl)")
    _platform_arguments(query_parser)
    _purpose_arguments(query_parser)
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
        choices=ID_TYPES,
        metavar="TYPE",
        help=f"the identifier type of every row, for a file with no id_type column: {', '.join(ID_TYPES)}",
    )

    inspect_parser = commands.add_parser(
        "inspect", help="inspect a tokenized portfolio against other members' flags and download the results"
    )
    inspect_parser.add_argument(
        "file",
        type=Path,
        help="the portfolio, tokenized: correlation_id, id_type, token (and id_type_2, token_2 ...) (.csv or .jsonl)",
    )
    _platform_arguments(inspect_parser)
    inspect_parser.add_argument(
        "--portfolio",
        required=True,
        metavar="NAME",
        help="the portfolio's name: results say what is new since its previous inspection",
    )
    _purpose_arguments(inspect_parser)
    inspect_parser.add_argument(
        "--output",
        type=Path,
        metavar="PATH",
        help="the results, CSV or .jsonl (default: FILE.inspection.csv)",
    )
    inspect_parser.add_argument(
        "--errors",
        type=Path,
        metavar="PATH",
        help="the rows that could not be matched, if any (default: OUTPUT.errors.csv)",
    )
    inspect_parser.add_argument(
        "--lending-threshold",
        action="append",
        default=[],
        metavar="FIGURE=N",
        help="a subject is new when FIGURE rose by at least N since the portfolio's previous inspection; "
        f"repeat for several: {', '.join(LENDING_THRESHOLD_FIGURES)}",
    )
    _format_arguments(inspect_parser)
    verify_parser = commands.add_parser(
        "verify", help="check a downloaded report file against its signature and the platform's public key"
    )
    verify_parser.add_argument("file", type=Path, help="the report file (.csv or .xlsx), as downloaded")
    verify_parser.add_argument(
        "--signature", type=Path, metavar="PATH", help="its signature, as downloaded (default: FILE.sig)"
    )
    verify_parser.add_argument(
        "--public-key", type=Path, required=True, metavar="PATH", help="the platform's report key (PEM)"
    )
    args = parser.parse_args(argv)

    if args.command == "verify":
        return verifying.run(args.file, args.signature, args.public_key)

    if args.command == "query":
        return querying.run(_options(querying.Options, args))
    if args.command == "upload":
        return uploading.run(_options(uploading.Options, args))
    if args.command == "inspect":
        return inspecting.run(_options(inspecting.Options, args))
    return _hash(args)


def command() -> int:
    """``riskshare-member``, the console command a member gets from installing the kit."""
    return main(prog="riskshare-member")


def _options(options: type[Opts], args: argparse.Namespace) -> Opts:
    """A command's options from its command line: each field from the argument of the same name."""
    return options(**{field.name: getattr(args, field.name) for field in dataclasses.fields(options)})


def _platform_arguments(command: argparse.ArgumentParser) -> None:
    """Where the platform is and how to reach it: the same for every command that talks to it."""
    command.add_argument("--url", required=True, help="the platform, e.g. https://riskshare.example.org")
    command.add_argument(
        "--api-key-file",
        type=Path,
        metavar="PATH",
        help=f"a file holding the API key (default: the environment variable {session.KEY_VARIABLE})",
    )
    command.add_argument(
        "--ca-file",
        type=Path,
        metavar="PATH",
        help="a CA bundle to trust besides the system's, for a platform with its own CA",
    )
    command.add_argument("--quiet", action="store_true", help="no progress bar")


def _purpose_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--purpose",
        required=True,
        choices=PURPOSES,
        metavar="PURPOSE",
        help=f"why you look them up, recorded with every request: {', '.join(PURPOSES)}",
    )
    command.add_argument(
        "--consent-reference",
        metavar="REF",
        help="the reference of the borrowers' written authorization (required for loan_application, credit_review)",
    )


def _format_arguments(command: argparse.ArgumentParser) -> None:
    """A file sent as a job, and how often the job is polled."""
    command.add_argument(
        "--format",
        dest="file_format",
        choices=FILE_FORMATS,
        help="the file's format (default: from its name, .csv or .jsonl)",
    )
    command.add_argument(
        "--poll-seconds", type=_seconds, default=2.0, metavar="N", help="seconds between two polls (default: 2)"
    )


def _hash(args: argparse.Namespace) -> int:
    try:
        mapping = hashing.Mapping.parse(args.column, args.pairs)
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
