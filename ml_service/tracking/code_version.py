"""The code version a run came from: the git commit of the model project, and local changes."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CodeVersion:
    """The git commit the code ran from, and whether the work tree had changes."""

    commit: str
    dirty: bool


def code_version(path: Path) -> CodeVersion:
    """The git commit of the checkout holding `path`, or `unknown` outside a git checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return CodeVersion(commit="unknown", dirty=False)
    return CodeVersion(commit=commit, dirty=bool(status.strip()))
