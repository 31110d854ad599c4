"""The one datastore resolver: datasets and collected data agree on where the store is."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml_service.data.datastore import datastore_uri, filesystem, is_local
from ml_service.settings import load_env


@pytest.mark.usefixtures("workspace")
def test_default_is_the_workspace_folder(workspace: Path) -> None:
    assert datastore_uri(load_env()) == str(workspace.resolve() / "datastore")


@pytest.mark.usefixtures("workspace")
@pytest.mark.parametrize(
    ("setting", "expected"),
    [("file:///data/store/", "file:///data/store"), ("abfs://box/path", "abfs://box/path")],
)
def test_the_setting_wins(setting: str, expected: str) -> None:
    assert datastore_uri(load_env(mlops_datastore_uri=setting)) == expected


def test_filesystem_and_locality(tmp_path: Path) -> None:
    fs, root = filesystem(f"file://{tmp_path}/")
    assert is_local(fs) and root == str(tmp_path)
    memory, path = filesystem("memory://bucket/x")
    assert not is_local(memory) and path == "/bucket/x"
