"""`mlops bootstrap` makes a new model project whose own pipeline runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from ml_service.cli import cli
from ml_service.project.bootstrap import BootstrapError, check_name, plan_project

MLOPS = Path(sys.executable).with_name("mlops")


def test_plan_renames_modules_and_sets_the_settings() -> None:
    template = {
        "parameters.py": b'"""x"""\nPATH = "diabetes_regression/parameters.json"\n',
        "training/train_aml.py": b"from diabetes_regression.training.train import f\n",
        "evaluate/data.bin": b"\x00diabetes_regression",
    }
    plan = plan_project("churn", template, b"a,b\n1,2\n", "diabetes_regression")
    assert plan.files["churn/training/train_aml.py"] == b"from churn.training.train import f\n"
    assert b"diabetes_regression" not in plan.files["churn/parameters.py"]
    assert plan.files["churn/evaluate/data.bin"] == b"\x00diabetes_regression"  # binary: as is
    env = plan.files[".env"].decode()
    assert "SOURCES_DIR_TRAIN=churn\n" in env and "MODEL_NAME=churn_model\n" in env
    assert plan.files["data/sample.csv"] == b"a,b\n1,2\n"


@pytest.mark.parametrize("name", ["My_Project", "1abc", "my-project", "class", "", "json"])
def test_unusable_names_are_refused(name: str) -> None:
    with pytest.raises(BootstrapError, match="name"):
        check_name(name)


def test_existing_folder_is_refused_and_untouched(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    result = CliRunner().invoke(cli, ["bootstrap", "--name", "taken", "--output", str(tmp_path)])
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["keep.txt"]


def test_bootstrapped_project_runs_its_own_pipeline(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["bootstrap", "--name", "my_project", "--output", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    project = tmp_path / "my_project"
    assert not any("diabetes_regression" in p.read_text() for p in project.rglob("*.py"))
    # A change in the copy must be what trains: the pipeline runs the new package.
    parameters_file = project / "my_project" / "parameters.json"
    parameters = json.loads(parameters_file.read_text())
    parameters["training"]["alpha"] = 0.9
    parameters_file.write_text(json.dumps(parameters))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "MLFLOW_"))}
    completed = subprocess.run(
        [str(MLOPS), "run", "--data-file-path", "data/sample.csv"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "registered my_project_model version 1, now @champion" in completed.stdout

    uri = f"sqlite:///{project / '.mlops' / 'mlflow.db'}"
    client = MlflowClient(uri, uri)
    version = client.get_model_version_by_alias("my_project_model", "champion")
    assert version.tags["experiment"] == "my_project"
    assert version.tags["dataset_name"] == "my_project_ds"
    train_run = client.get_run(version.run_id)
    assert train_run.data.params["alpha"] == "0.9"


def test_data_commands_use_the_project_s_own_data_checks(tmp_path: Path) -> None:
    """`mlops data validate` in a bootstrapped project checks against that project's
    parameters.json (found through SOURCES_DIR_TRAIN), not the diabetes template's."""
    result = CliRunner().invoke(
        cli, ["bootstrap", "--name", "strict_checks", "--output", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    project = tmp_path / "strict_checks"
    parameters_file = project / "strict_checks" / "parameters.json"
    parameters = json.loads(parameters_file.read_text())
    parameters["data"]["target_range"] = [0, 100]  # the sample's target goes up to 346
    parameters_file.write_text(json.dumps(parameters))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "MLFLOW_"))}

    def validate(cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(MLOPS), "data", "validate", str(project / "data" / "sample.csv")],
            cwd=cwd,
            env={**env, "MLOPS_WORKSPACE": str(tmp_path / "ws")},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    in_project = validate(project)
    assert in_project.returncode == 1
    assert "outside the plausible range [0, 100]" in in_project.stderr
    assert "Traceback" not in in_project.stderr
    in_template = validate(tmp_path)
    assert in_template.returncode == 0, in_template.stderr
