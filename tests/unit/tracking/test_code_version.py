"""The code version read from one `git status --porcelain=v2 --branch` call."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ml_service.tracking.code_version import UNKNOWN, CodeVersion, code_version, parse_status

OID = "0123456789abcdef0123456789abcdef01234567"


def test_a_clean_checkout_is_its_commit() -> None:
    status = f"# branch.oid {OID}\n# branch.head main\n"
    assert parse_status(status) == CodeVersion(commit=OID, dirty=False)


def test_a_changed_tracked_file_makes_it_dirty() -> None:
    status = (
        f"# branch.oid {OID}\n# branch.head (detached)\n"
        "1 .M N... 100644 100644 100644 aaaa aaaa train.py\n"
    )
    assert parse_status(status) == CodeVersion(commit=OID, dirty=True)


def test_a_repository_without_commits_has_no_version() -> None:
    status = "# branch.oid (initial)\n# branch.head main\n1 A. N... 000000 100644 100644 0 a f\n"
    assert parse_status(status) == CodeVersion(commit=UNKNOWN, dirty=False)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_against_git_itself(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    git("init", "-q")
    (tmp_path / "train.py").write_text("alpha = 1\n")
    assert code_version(tmp_path) == CodeVersion(commit=UNKNOWN, dirty=False)
    git("add", "train.py")
    git("commit", "-q", "-m", "first")
    head = git("rev-parse", "HEAD")
    assert code_version(tmp_path) == CodeVersion(commit=head, dirty=False)
    (tmp_path / "notes.txt").write_text("untracked files do not count\n")
    assert code_version(tmp_path) == CodeVersion(commit=head, dirty=False)
    (tmp_path / "train.py").write_text("alpha = 2\n")
    assert code_version(tmp_path) == CodeVersion(commit=head, dirty=True)
