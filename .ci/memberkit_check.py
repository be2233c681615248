"""What .ci/memberkit checks in the virtual environment where the member kit's wheel alone is installed.

Run with the platform's interpreter (it signs with ``cryptography`` and builds an audit proof with
``accounts.auditproof``, neither needing Django); every check runs the kit's commands from BIN:

    .venv/bin/python .ci/memberkit_check.py VENV/bin WORKDIR

1. ``riskshare-member hash`` on every test vector of docs/identifiers.md: the documented token,
   or the documented refusal in the error file; then on rows holding a borrower's identifiers of
   every type at once, written as the platform's columns id_type/token ... id_type_4/token_4;
2. ``riskshare-member verify`` on a file signed here, then on the same file changed;
3. ``python -m memberkit.signatures`` on an audit event's inclusion proof, then on a forged one.
"""

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accounts import auditproof  # noqa: E402 - after the repository is on the path
from memberkit.identifiers import TYPES  # noqa: E402
from tests.memberkit.test_identifiers import VECTORS, vectors  # noqa: E402


def run(*command: str | Path, expect: int) -> str:
    """Run a command of the kit; its standard output, or exit here if its exit code is not ``expect``."""
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != expect:
        sys.exit(
            f"{' '.join(map(str, command))}: exit {result.returncode}, not {expect}\n{result.stdout}{result.stderr}"
        )
    return result.stdout + result.stderr


def check_hash(bin_dir: Path, work: Path) -> int:
    found = re.search(r"Test key: `([0-9a-f]{64})`", VECTORS.read_text(encoding="utf-8"))
    assert found is not None, "docs/identifiers.md names no test key"
    key_file = work / "consortium.key"
    key_file.write_text(found.group(1) + "\n")
    rows = vectors()
    for id_type in sorted({row[0] for row in rows}):
        # Numbered as hash numbers the rows it refuses: the data rows of this file, from 1.
        wanted = [(raw, token or f"refused: {refusal}") for kind, raw, _, refusal, token in rows if kind == id_type]
        cases = [(number, raw, want) for number, (raw, want) in enumerate(wanted, 1)]
        source, target, errors = (work / f"{id_type}{suffix}" for suffix in (".csv", ".tokens.csv", ".errors.csv"))
        with source.open("w", newline="", encoding="utf-8") as file:
            csv.writer(file).writerows([["number", "identifier"], *([str(number), raw] for number, raw, _ in cases)])
        command: list[str | Path] = [bin_dir / "riskshare-member", "hash", source, target, "--key-file", key_file]
        command += ["--column", f"identifier={id_type}", "--errors", errors, "--workers", "1", "--quiet"]
        if id_type not in TYPES:  # a type the standard does not know: hash refuses the mapping itself
            assert all(want == "refused: unknown_type" for *_, want in cases), cases
            assert "TYPE one of" in run(*command, expect=2)
            continue
        run(*command, expect=1 if any(want.startswith("refused") for *_, want in cases) else 0)
        with target.open(newline="", encoding="utf-8") as file:
            tokens = {row[0]: row[1] for row in list(csv.reader(file))[1:]}
        with errors.open(newline="", encoding="utf-8") as file:
            reasons = {row[0]: row[2] for row in list(csv.reader(file))[1:]}
        for number, raw, want in cases:
            got = tokens.get(str(number)) or f"refused: {reasons.get(str(number))}"
            if got != want:
                sys.exit(f"hash {id_type} {raw!r}: {got}, not {want} (docs/identifiers.md)")
    return len(rows)


def numbered(name: str, n: int) -> str:
    """A column of the n-th identifier of a row: ``token``, then ``token_2`` ..."""
    return name if n == 1 else f"{name}_{n}"


def check_pairs(bin_dir: Path, work: Path) -> int:
    """Rows of typed pairs, one valid vector of each type a row: the documented tokens, in the platform's columns."""
    valid: dict[str, list[tuple[str, str]]] = {}
    for id_type, raw, _, _, token in vectors():
        if token:
            valid.setdefault(id_type, []).append((raw, token))
    types = sorted(valid)
    # Row n holds the n-th valid vector of each type (the shorter lists start again): (type, raw, token) each.
    rows = [
        [(id_type, *valid[id_type][n % len(valid[id_type])]) for id_type in types]
        for n in range(max(map(len, valid.values())))
    ]
    positions = range(1, len(types) + 1)
    source, target = work / "pairs.csv", work / "pairs.tokens.csv"
    with source.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["row", *(numbered(name, n) for n in positions for name in ("id_type", "identifier"))])
        writer.writerows(
            [str(n), *(cell for id_type, raw, _ in row for cell in (id_type, raw))] for n, row in enumerate(rows)
        )
    command: list[str | Path] = [
        bin_dir / "riskshare-member",
        "hash",
        source,
        target,
        "--key-file",
        work / "consortium.key",
    ]
    run(*command, "--workers", "1", "--quiet", expect=0)
    wanted = [["row", *(numbered(name, n) for n in positions for name in ("id_type", "token"))]]
    wanted += [
        [str(n), *(cell for id_type, _, token in row for cell in (id_type, token))] for n, row in enumerate(rows)
    ]
    with target.open(newline="", encoding="utf-8") as file:
        written = list(csv.reader(file))
    if written != wanted:
        sys.exit(f"hash of typed pairs wrote {written}, not {wanted} (docs/identifiers.md)")
    return len(rows)


def check_verify(bin_dir: Path, work: Path) -> None:
    private = Ed25519PrivateKey.generate()
    key = work / "report-key.pem"
    key.write_bytes(
        private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    report = work / "report.csv"
    report.write_text("institution,category,flags\nM001,overdue_90,145\n", encoding="utf-8")
    (work / "report.csv.sig").write_bytes(private.sign(report.read_bytes()))
    assert "signature good" in run(bin_dir / "riskshare-member", "verify", report, "--public-key", key, expect=0)
    report.write_text("institution,category,flags\nM001,overdue_90,146\n", encoding="utf-8")
    out = run(bin_dir / "riskshare-member", "verify", report, "--public-key", key, expect=1)
    assert "SIGNATURE DOES NOT MATCH" in out, out


def check_proof(bin_dir: Path, work: Path) -> None:
    private = Ed25519PrivateKey.generate()
    events = [{"id": n, "action": "me.view", "occurred_at": f"2026-01-0{n}T00:00:00.000000Z"} for n in range(1, 6)]
    digests = [auditproof.digest(event) for event in events]
    checkpoint = {
        "number": 1,
        "first_seq": 1,
        "last_seq": len(events),
        "horizon": 5,
        "merkle_root": auditproof.merkle_root(digests).hex(),
        "chain_head": "00" * 32,
        "signed_at": "2026-01-06T00:00:00.000000Z",
        "key_id": auditproof.key_id(private.public_key()),
    }
    checkpoint["signature"] = auditproof.sign_checkpoint(checkpoint, private)
    proof = {"event": events[3], "seq": 4, "path": [step.hex() for step in auditproof.inclusion_path(digests, 3)]}
    proof["checkpoint"] = checkpoint
    (work / "audit-key.pem").write_text(auditproof.published_key(private.public_key())["public_key_pem"])
    (work / "proof.json").write_text(json.dumps(proof))
    forged = {**proof, "event": {**events[3], "action": "auth.login"}}
    (work / "forged.json").write_text(json.dumps(forged))
    python = bin_dir / "python"
    out = run(python, "-m", "memberkit.signatures", work / "proof.json", work / "audit-key.pem", expect=0)
    assert out.startswith("valid: event 4 (me.view) is entry 4 of checkpoint 1"), out
    out = run(python, "-m", "memberkit.signatures", work / "forged.json", work / "audit-key.pem", expect=1)
    assert "NOT VALID" in out, out


def main() -> None:
    bin_dir, work = Path(sys.argv[1]), Path(sys.argv[2])
    work.mkdir(parents=True, exist_ok=True)
    count = check_hash(bin_dir, work)
    print(f"hash: the {count} test vectors of docs/identifiers.md give their tokens and refusals")
    count = check_pairs(bin_dir, work)
    print(
        f"hash: {count} rows holding an identifier of every type give the documented tokens in the platform's columns"
    )
    check_verify(bin_dir, work)
    print("verify: a signed file verifies, a changed one does not")
    check_proof(bin_dir, work)
    print("audit proof: an inclusion proof verifies, a forged one does not")


if __name__ == "__main__":
    main()
