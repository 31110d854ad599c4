"""Execute the experimentation notebooks headless, and keep their outputs out of git.

    python -m ml_service.project.notebooks run [NOTEBOOK ...]    # default: experimentation/*
    python -m ml_service.project.notebooks strip [NOTEBOOK ...]  # remove outputs before a commit

Notebooks run in a fresh kernel from the folder the command runs in (the
repository root), with the settings of the calling environment (MLOPS_WORKSPACE,
MLFLOW_TRACKING_URI, ...), so they log to the same workspace as `mlops run`.
Executed copies are never written back. Needs the dev extra (nbclient,
nbformat, ipykernel).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ml_service.errors import MlopsError

log = logging.getLogger(__name__)

# Relative to the project folder `make notebooks` runs from.
NOTEBOOK_DIR = Path("experimentation")


class NotebookError(MlopsError):
    """A notebook failed to execute, or cannot be read."""


def notebooks(paths: list[str] | None = None) -> list[Path]:
    """The notebooks named, or every notebook in experimentation/."""
    if paths:
        return [Path(p) for p in paths]
    return sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def execute_notebook(path: Path, env: Mapping[str, str] | None = None, timeout: int = 300) -> Any:
    """Run every cell of a notebook in a new kernel; returns the executed notebook.

    Args:
        path: The .ipynb file.
        env: The kernel's environment variables (default: this process's).
        timeout: Seconds one cell may take.

    Raises:
        NotebookError: a cell raised; the message names the notebook and the error.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(Path.cwd())}},
    )
    try:
        client.execute(env=dict(os.environ if env is None else env))
    except CellExecutionError as err:
        last = [line for line in str(err).splitlines() if line.strip()][-1:]
        raise NotebookError(f"{path.name}: {' '.join(last) or 'a cell failed'}") from err
    return notebook


def strip_outputs(notebook: Any) -> bool:
    """Remove outputs, execution counts and run metadata; returns whether anything changed."""
    changed = False
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if cell.get("outputs") or cell.get("execution_count") is not None:
            changed = True
        cell["outputs"] = []
        cell["execution_count"] = None
        for key in ("execution", "collapsed", "scrolled"):
            if cell.metadata.pop(key, None) is not None:
                changed = True
    return changed


def main(argv: list[str] | None = None) -> int:
    """`run` executes notebooks; `strip` removes their outputs in place."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["run", "strip"])
    parser.add_argument("notebooks", nargs="*")
    args = parser.parse_args(argv)
    import nbformat

    for path in notebooks(args.notebooks):
        if args.action == "strip":
            notebook = nbformat.read(path, as_version=4)
            if strip_outputs(notebook):
                nbformat.write(notebook, path)
                log.info("stripped %s", path)
            continue
        log.info("running %s", path)
        try:
            execute_notebook(path)
        except NotebookError as err:
            log.error("error: %s", err)
            return 1
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    sys.exit(main())
