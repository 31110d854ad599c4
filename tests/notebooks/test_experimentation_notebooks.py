"""Every experimentation notebook runs against a fresh workspace and logs what it promises."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import nbformat
import pytest
from mlflow.tracking import MlflowClient

from ml_service.project import notebooks
from ml_service.registry.tags import RunTag

PLAIN = "Diabetes Ridge Regression Training.ipynb"
TRACKED = "Diabetes Ridge Regression Training MLflow.ipynb"
SWEEP = "Diabetes Ridge Regression Parameter Experimentation.ipynb"
EXPERIMENT = "diabetes-experimentation"
ALL = sorted(notebooks.notebooks())


@dataclass(frozen=True)
class Executed:
    """The executed notebooks, by file name, and the tracking store they logged to."""

    notebooks: dict[str, Any]
    client: MlflowClient
    tracking_uri: str


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Executed]:
    workspace = tmp_path_factory.mktemp("notebooks") / "ws"
    uri = f"sqlite:///{workspace / 'mlflow.db'}"
    env = {**os.environ, "MLOPS_WORKSPACE": str(workspace), "MLFLOW_TRACKING_URI": uri}
    for name in ("MLOPS_REGISTRY_URI", "MLOPS_DATASTORE_URI", "MLFLOW_REGISTRY_URI"):
        env.pop(name, None)
    ran = {path.name: notebooks.execute_notebook(path, env=env) for path in ALL}
    yield Executed(ran, MlflowClient(uri, uri), uri)


def _outputs_text(notebook: Any) -> str:
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            texts.append(json.dumps(output.get("data", {})))
    return "\n".join(texts)


def _runs(executed: Executed, run_name: str) -> list[Any]:
    experiment = executed.client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None, f"no experiment {EXPERIMENT!r} was logged"
    return executed.client.search_runs(
        [experiment.experiment_id], filter_string=f"attributes.run_name = '{run_name}'"
    )


def test_the_three_notebooks_exist() -> None:
    assert {path.name for path in ALL} == {PLAIN, TRACKED, SWEEP}


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_committed_notebooks_have_no_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name} has outputs: run `python -m ml_service.project.notebooks strip`"
            )


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_notebooks_call_the_package_instead_of_copying_it(path: Path) -> None:
    source = "\n".join(
        cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"
    )
    assert "from diabetes_regression.training.train import" in source
    for copied in ("def split_data", "def train_model", "def get_model_metrics", "Ridge("):
        assert copied not in source


def test_plain_notebook_scores_the_model(executed: Executed) -> None:
    text = _outputs_text(executed.notebooks[PLAIN])
    for metric in ("mse", "rmse", "mae", "r2"):
        assert f"'{metric}'" in text


def test_tracked_notebook_logs_params_metrics_model_dataset_and_commit(executed: Executed) -> None:
    (run,) = _runs(executed, "notebook: ridge training")
    data = run.data
    assert data.tags["mlflow.note.content"].startswith("Baseline")
    assert len(data.tags["mlops.git_commit"]) in (40, len("unknown"))
    assert data.tags["mlops.dataset"] == "diabetes_ds:1"
    assert {"alpha", "test_size", "random_state", "dataset_version"} <= set(data.params)
    assert {"mse", "rmse", "mae", "r2"} <= set(data.metrics)
    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.dataset.name == "diabetes_ds"
    assert {t.key: t.value for t in dataset_input.tags}["version"] == "1"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", executed.tracking_uri)
        mlflow.set_tracking_uri(executed.tracking_uri)
        try:
            info = mlflow.models.get_model_info(f"runs:/{run.info.run_id}/model")
        finally:
            mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    assert info.signature is not None
    assert [c.name for c in info.signature.inputs.inputs][:3] == ["AGE", "SEX", "BMI"]
    plots = {a.path for a in executed.client.list_artifacts(run.info.run_id, "plots")}
    assert plots == {"plots/predicted_vs_actual.png", "plots/residuals.png"}


def test_sweep_notebook_logs_one_nested_run_per_alpha_and_a_comparison(
    executed: Executed,
) -> None:
    (parent,) = _runs(executed, "notebook: alpha sweep")
    assert parent.data.tags["mlflow.note.content"].startswith("Alpha sweep")
    alphas = parent.data.params["alphas"].split(",")
    experiment = executed.client.get_experiment_by_name(EXPERIMENT)
    children = executed.client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{RunTag.PARENT_RUN_ID}` = '{parent.info.run_id}'",
    )
    assert sorted(float(c.data.params["alpha"]) for c in children) == sorted(map(float, alphas))
    assert all("mse" in c.data.metrics for c in children)
    best = min(children, key=lambda c: c.data.metrics["mse"])
    assert float(parent.data.params["best_alpha"]) == float(best.data.params["alpha"])
    artifacts = {a.path for a in executed.client.list_artifacts(parent.info.run_id)}
    assert "alpha_sweep.png" in artifacts


def test_a_failing_notebook_is_one_error_naming_it(tmp_path: Path) -> None:
    broken = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")])
    path = tmp_path / "broken.ipynb"
    nbformat.write(broken, path)
    with pytest.raises(notebooks.NotebookError, match=r"broken\.ipynb: .*ZeroDivisionError"):
        notebooks.execute_notebook(path)


def test_strip_removes_outputs(tmp_path: Path) -> None:
    cell = nbformat.v4.new_code_cell("1 + 1", execution_count=3)
    cell.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"})]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    path = tmp_path / "with_outputs.ipynb"
    nbformat.write(notebook, path)
    assert notebooks.main(["strip", str(path)]) == 0
    stripped = nbformat.read(path, as_version=4)
    assert stripped.cells[0].outputs == [] and stripped.cells[0].execution_count is None
    assert notebooks.strip_outputs(stripped) is False
