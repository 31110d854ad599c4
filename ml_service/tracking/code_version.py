"""The code version a run came from: the git commit of the model project, and local changes."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

UNKNOWN = "unknown"


@dataclass(frozen=True)
class CodeVersion:
    """The git commit the code ran from, and whether the work tree had changes."""

    commit: str
    dirty: bool


def code_version(path: Path) -> CodeVersion:
    """The git commit of the checkout holding `path`, or `unknown` outside a git checkout.

    One `git status` answers both: porcelain v2 with `--branch` names the commit
    (`# branch.oid`) and lists tracked files with changes (untracked files do not count).
    """
    try:
        status = subprocess.run(
            ["git", "status", "--porcelain=v2", "--branch", "--untracked-files=no"],
            cwd=path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return CodeVersion(commit=UNKNOWN, dirty=False)
    return parse_status(status)


def parse_status(status: str) -> CodeVersion:
    """The code version `git status --porcelain=v2 --branch` describes.

    A repository without a commit yet (`# branch.oid (initial)`) has no version: `unknown`.
    """
    commit = UNKNOWN
    dirty = False
    for line in status.splitlines():
        if line.startswith("# branch.oid "):
            oid = line.removeprefix("# branch.oid ").strip()
            commit = oid if oid and oid != "(initial)" else UNKNOWN
        elif line.strip() and not line.startswith("#"):
            dirty = True
    if commit == UNKNOWN:
        return CodeVersion(commit=UNKNOWN, dirty=False)
    return CodeVersion(commit=commit, dirty=dirty)
