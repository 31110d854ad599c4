"""A lock between processes of one machine, on a lock file beside what it guards.

Used where a file-backed store must be created or migrated by exactly one
process at a time (MLflow's SQLite store, the project's SQLite registry). Locks
between machines live in the database (`registry.database.lock_row`).
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing) until the block ends.

    The lock dies with the process, so a crash never leaves it held.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
