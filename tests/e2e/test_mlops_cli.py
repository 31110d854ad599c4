"""The user's path through the `mlops` command, as a newcomer runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BAD_EXAMPLES, DIABETES_CSV

MLOPS = str(Path(sys.executable).with_name("mlops"))

pytestmark = pytest.mark.e2e


def mlops(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MLOPS, *args], env=env, capture_output=True, text=True, check=False, timeout=300
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], message: str) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: ")
    assert message in done.stderr


def test_lifecycle(subprocess_env: dict[str, str], small_subset_csv: Path) -> None:
    env = subprocess_env

    # 1. First run: a registered champion, with a summary that says so.
    first = mlops("run", "--data-file-path", str(DIABETES_CSV), env=env)
    assert first.returncode == 0, first.stderr
    assert "completed" in first.stdout
    assert "dataset  diabetes_ds:1" in first.stdout
    assert "mse 3295.7149" in first.stdout
    assert "registered diabetes_regression_model version 1, now @champion" in first.stdout
    assert "Tracking store: sqlite:///" in first.stdout
    assert "make ui" in first.stdout
    assert "[1/3] Train model" in first.stderr

    # 2. Same data again: nothing registered, the reason given, exit 0.
    second = mlops("run", "--data-file-path", str(DIABETES_CSV), env=env)
    assert second.returncode == 0, second.stderr
    assert "cancelled" in second.stdout
    assert "not registered: not better than champion v1" in second.stdout
    assert "training reused run" in second.stdout

    # 3. Data and models can be inspected.
    listed = mlops("data", "list", env=env)
    assert "diabetes_ds:1" in listed.stdout and "442" in listed.stdout
    shown = mlops("data", "show", "diabetes_ds:1", env=env)
    assert "sha256" in shown.stdout and "BMI" in shown.stdout
    models = mlops("model", "list", env=env)
    assert "diabetes_regression_model" in models.stdout and "@champion=v1" in models.stdout
    trace = mlops("model", "lineage", "diabetes_regression_model@champion", env=env)
    assert trace.returncode == 0, trace.stderr
    assert "dataset    diabetes_ds:1 (sha256 " in trace.stdout
    assert "code       git " in trace.stdout

    # 4. A bad file is refused by `data validate` and by the pipeline, changing nothing.
    bad = str(BAD_EXAMPLES / "non_numeric_cell.csv")
    assert_one_line_error(mlops("data", "validate", bad, env=env), "column 'BP': non-numeric")
    assert_one_line_error(
        mlops("run", "--data-file-path", bad, env=env), "step 'Train model' failed"
    )
    assert "diabetes_ds:2" not in mlops("data", "list", env=env).stdout
    good = mlops("data", "validate", str(DIABETES_CSV), env=env)
    assert (
        good.returncode == 0
        and "valid (442 rows, distribution matches diabetes_ds:1)" in good.stdout
    )

    # 5. Registering by hand, then training on an explicit version.
    registered = mlops(
        "data", "register", "--name", "diabetes_ds", "--path", str(small_subset_csv), env=env
    )
    assert "registered diabetes_ds:2 (60 rows" in registered.stdout
    again = mlops(
        "data", "register", "--name", "diabetes_ds", "--path", str(small_subset_csv), env=env
    )
    assert "already registered as diabetes_ds:2; nothing changed" in again.stdout
    weaker = mlops("run", "--dataset-version", "2", env=env)
    assert weaker.returncode == 0, weaker.stderr
    assert "dataset  diabetes_ds:2" in weaker.stdout
    assert "not registered" in weaker.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["model", "lineage", "diabetes_regression_model:9"], "has no version 9"),
        (["data", "show", "nope"], "dataset 'nope' has no versions"),
        (["data", "register", "--name", "d", "--path", "missing.csv"], "missing.csv: no such file"),
        (["run", "--dataset-version", "3"], "dataset 'diabetes_ds' has no versions"),
        (
            ["data", "validate", str(BAD_EXAMPLES / "missing_column.csv")],
            "column 'S6': column is missing",
        ),
    ],
)
def test_user_mistakes_are_one_line(
    subprocess_env: dict[str, str], args: list[str], message: str
) -> None:
    assert_one_line_error(mlops(*args, env=subprocess_env), message)


def test_missing_data_file_is_refused_before_anything_runs(subprocess_env: dict[str, str]) -> None:
    done = mlops("run", "--data-file-path", "missing.csv", env=subprocess_env)
    assert done.returncode == 2
    assert "File 'missing.csv' does not exist" in done.stderr
    assert "Traceback" not in done.stderr
    assert not Path(subprocess_env["MLOPS_WORKSPACE"]).exists()


def test_bad_setting_is_one_line(subprocess_env: dict[str, str]) -> None:
    env = {**subprocess_env, "RUN_EVALUATION": "maybe"}
    assert_one_line_error(mlops("run", env=env), "RUN_EVALUATION")


@pytest.mark.parametrize(
    "command",
    [[], ["run"], ["data"], ["data", "register"], ["data", "list"], ["data", "show"],
     ["data", "validate"], ["model"], ["model", "list"], ["model", "lineage"]],
)  # fmt: skip
def test_help_everywhere(subprocess_env: dict[str, str], command: list[str]) -> None:
    done = mlops(*command, "--help", env=subprocess_env)
    assert done.returncode == 0
    assert "Usage: mlops" in done.stdout
