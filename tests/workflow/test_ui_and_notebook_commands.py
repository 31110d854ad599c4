"""`mlops ui` builds the right server command; `python -m ml_service.project.notebooks run` reports."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from ml_service.cli import cli
from ml_service.project import notebooks
from ml_service.settings import Env
from ml_service.tracking import ui


def test_ui_command_serves_the_workspace_store(tmp_path: Path) -> None:
    env = Env(mlops_workspace=tmp_path, mlflow_tracking_uri=None)
    command = ui.ui_command(env, port=5123)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert command[1:4] == ["-m", "mlflow", "ui"]
    assert command[command.index("--backend-store-uri") + 1] == uri
    assert command[command.index("--registry-store-uri") + 1] == uri
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "5123"
    artifacts = command[command.index("--default-artifact-root") + 1]
    assert artifacts == (tmp_path / "artifacts").as_uri()


def test_ui_command_follows_a_tracking_server(tmp_path: Path) -> None:
    env = Env(mlops_workspace=tmp_path, mlflow_tracking_uri="postgresql://db/mlflow")
    command = ui.ui_command(env)
    assert command[command.index("--backend-store-uri") + 1] == "postgresql://db/mlflow"
    assert "--default-artifact-root" not in command


@pytest.mark.usefixtures("reset_mlflow_uris")
def test_mlops_ui_starts_the_server_with_the_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = {}

    def fake_run_ui(env: Env, host: str, port: int) -> int:
        started.update(workspace=env.workspace, host=host, port=port)
        return 0

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLOPS_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setattr(ui, "run_ui", fake_run_ui)
    result = CliRunner().invoke(cli, ["ui", "--port", "5999"])
    assert result.exit_code == 0, result.output
    assert started == {"workspace": tmp_path / "ws", "host": "127.0.0.1", "port": 5999}
    assert (tmp_path / "ws" / "mlflow.db").is_file()


def _notebook(path: Path, source: str) -> Path:
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)]), path)
    return path


def test_notebooks_run_reports_success_and_failure(tmp_path: Path) -> None:
    good = _notebook(tmp_path / "good.ipynb", "x = 1 + 1")
    bad = _notebook(tmp_path / "bad.ipynb", "raise RuntimeError('boom')")
    assert notebooks.main(["run", str(good)]) == 0
    assert notebooks.main(["run", str(good), str(bad)]) == 1
    assert nbformat.read(good, as_version=4).cells[0].outputs == []  # never written back
