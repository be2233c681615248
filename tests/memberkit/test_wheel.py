"""The member kit installs alone: its wheel, in a fresh virtual environment without Django, hashes as documented.

CI does more of the same (.ci/memberkit: every test vector, ``verify``, an audit proof); this keeps
the packaging honest in the suite too. About 20 seconds: a wheel, a virtual environment, and the
kit's four dependencies from the package index pip is configured with.
"""

import csv
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.memberkit.test_identifiers import VECTORS, vectors

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.wheel


def run(*command: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreters and the kit's command
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, check=False, timeout=300
    )


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin directory of a fresh virtual environment where only the kit's wheel is installed."""
    where = tmp_path_factory.mktemp("kit")
    # Built from a copy: a build in place leaves build/ and an egg-info behind in the working tree.
    source = shutil.copytree(
        ROOT / "memberkit", where / "source", ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info")
    )
    venv = run(sys.executable, "-m", "venv", where / "venv")
    if venv.returncode != 0:
        pytest.skip(f"no virtual environment can be made here (python -m venv: {venv.stderr.strip()})")
    built = run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", where / "dist", source)
    assert built.returncode == 0, built.stderr
    [wheel] = (where / "dist").glob("riskshare_memberkit-*.whl")
    installed = run(where / "venv" / "bin" / "python", "-m", "pip", "install", "--quiet", wheel)
    assert installed.returncode == 0, installed.stderr
    return where / "venv" / "bin"


def test_the_kit_installs_without_django(kit):
    found = run(kit / "python", "-c", "import django")

    assert found.returncode == 1
    assert "No module named 'django'" in found.stderr


def test_riskshare_member_hash_gives_the_documented_tokens(kit, tmp_path):
    key = re.search(r"Test key: `([0-9a-f]{64})`", VECTORS.read_text(encoding="utf-8"))
    assert key is not None
    (tmp_path / "consortium.key").write_text(key.group(1) + "\n")
    cnids = [(raw, token) for id_type, raw, _, _, token in vectors() if id_type == "cnid" and token]
    with (tmp_path / "book.csv").open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([["loan", "cnid"], *([f"L{n}", raw] for n, (raw, _) in enumerate(cnids))])

    hashed = run(
        kit / "riskshare-member", "hash", "book.csv", "book.tokens.csv", "--key-file", "consortium.key",
        "--column", "cnid=cnid", "--workers", "1", "--quiet", cwd=tmp_path,
    )  # fmt: skip

    assert hashed.returncode == 0, hashed.stderr
    with (tmp_path / "book.tokens.csv").open(newline="", encoding="utf-8") as file:
        assert [row[1] for row in list(csv.reader(file))[1:]] == [token for _, token in cnids]


def test_python_m_memberkit_still_runs_the_commands(kit):
    helped = run(kit / "python", "-m", "memberkit", "--help")

    assert helped.returncode == 0
    assert "{hash,upload,query,inspect,verify}" in helped.stdout
