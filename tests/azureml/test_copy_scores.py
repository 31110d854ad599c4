"""The batch pipeline's copy step reads both scoring layouts: the local step's and Azure ML's."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from diabetes_regression.scoring import parallel_batchscore
from ml_service.data.datastore import datastore_uri
from ml_service.errors import StepContractError
from ml_service.pipelines import copy_scores
from ml_service.pipelines.azureml.compiler import MODEL_RECORD_FLAG
from ml_service.pipelines.contracts import BatchScoreOutput, ParallelScoringModel
from ml_service.settings import load_env
from tests.conftest import DIABETES_CSV
from tests.integration.serving.diabetes_model import (
    MODEL_NAME,
    RegisteredModel,
    register_diabetes_model,
)


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> RegisteredModel:
    return register_diabetes_model(tmp_path_factory.mktemp("copy-workspace"))


@pytest.fixture
def model_env(
    registered: RegisteredModel, workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MLOPS_WORKSPACE", str(registered.workspace))
    # The registry is shared by the module's tests; each test copies into its own datastore.
    monkeypatch.setenv("MLOPS_DATASTORE_URI", str(tmp_path / "datastore"))
    yield registered
    parallel_batchscore.model = None


def dated_folder(version: str) -> str:
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    return f"{datastore_uri(load_env())}/scores/{MODEL_NAME}/{version}/{day}"


def copy(step_input: Path, tmp_path: Path, model_name: str = MODEL_NAME) -> str:
    return copy_scores.main(
        ["--model_name", model_name, "--step_input", str(step_input),
         "--step_output", str(tmp_path / "copied")]
    )  # fmt: skip


def parallel_job_output(folder: Path, file_name: str = copy_scores.APPEND_ROW_FILE) -> Path:
    """What an Azure ML parallel job leaves: the scoring script's records, the appended rows.

    init() reads its record folder from the command line, as the compiled component
    passes it; the driver writes each returned row space-separated, without a header.
    """
    argv = ["driver.py", "--mini_batch_size", "5", MODEL_RECORD_FLAG, str(folder)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", argv)
        parallel_batchscore.init()
    first, second = folder.parent / "part-1.csv", folder.parent / "part-2.csv"
    data = pd.read_csv(DIABETES_CSV)
    data.iloc[:200].to_csv(first, index=False)
    data.iloc[200:].to_csv(second, index=False)
    rows = pd.concat(
        [parallel_batchscore.run([str(first)]), parallel_batchscore.run([str(second)])]
    )
    path = folder / file_name
    rows.to_csv(path, sep=" ", header=False, index=False)
    return path


def test_the_local_layout_is_copied_with_its_rejects(model_env, tmp_path: Path) -> None:
    scored = tmp_path / "score"
    scored.mkdir()
    pd.DataFrame({"AGE": [0.1, 0.2], "score": [150.0, 151.0]}).to_parquet(scored / "scores.parquet")
    (scored / "scores.rejects.csv").write_text("file,row,reason\n")
    BatchScoreOutput(
        model_name=MODEL_NAME, model_version="7", input="x.csv", input_digest="d",
        scores_file="scores.parquet", scores_digest="s", rows_scored=2, rows_rejected=0,
    ).write(scored)  # fmt: skip

    location = copy(scored, tmp_path)

    folder = dated_folder("7")
    assert location.endswith(folder.split("://", 1)[-1])
    assert pd.read_parquet(f"{folder}/scores.parquet")["score"].tolist() == [150.0, 151.0]
    assert Path(f"{folder}/scores.rejects.csv").read_text() == "file,row,reason\n"
    assert (tmp_path / "copied" / "scores_location.txt").read_text().strip() == location


@pytest.mark.parametrize("file_name", [copy_scores.APPEND_ROW_FILE, "diabetes_scores.txt"])
def test_the_parallel_job_layout_is_copied_under_the_version_that_scored(
    model_env: RegisteredModel, tmp_path: Path, file_name: str
) -> None:
    output = tmp_path / "score"
    output.mkdir()
    rows = parallel_job_output(output, file_name)
    records = ParallelScoringModel.read_all(output)
    assert [(r.model_name, r.model_version) for r in records] == [(MODEL_NAME, "1")]

    location = copy(output, tmp_path)

    folder = dated_folder(model_env.version)
    assert location.endswith(folder.split("://", 1)[-1])
    copied = Path(folder) / file_name
    assert copied.read_bytes() == rows.read_bytes()
    assert len(copied.read_text().splitlines()) == 442
    assert sorted(p.name for p in Path(folder).iterdir()) == [file_name]


def record(folder: Path, name: str, version: str | None, process: str) -> None:
    (folder / ParallelScoringModel.DIR).mkdir(parents=True, exist_ok=True)
    (folder / ParallelScoringModel.DIR / f"{process}.json").write_text(
        ParallelScoringModel(
            model_name=name, model_version=version, model_uri="m"
        ).model_dump_json()
    )


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({}, "is empty: expected the output folder of the Batch score step's"),
        ({"a.txt": "1\n", "b.txt": "2\n"}, "holds a.txt, b.txt: not a scoring output layout"),
        ({"parallel_run_step.txt": "1 2\n"}, "no scoring_models/ record of the model"),
        (
            {"parallel_run_step.txt": "1 2\n", "records": [("1", "node-a"), ("2", "node-b")]},
            "loaded different models .*1, .*2.*the alias moved during the job",
        ),
        (
            {"parallel_run_step.txt": "1 2\n", "records": [("1", "a")], "name": "other"},
            "whose scoring processes loaded model 'other'",
        ),
        ({"parallel_run_step.txt": "1 2\n", "scoring_models/x.json": "{"}, "is not a record"),
    ],
    ids=["empty", "unknown", "no-records", "two-versions", "other-model", "bad-record"],
)
def test_a_layout_the_copy_step_cannot_read_is_one_clear_error(
    workspace: Path, tmp_path: Path, layout: dict, message: str
) -> None:
    folder = tmp_path / "score"
    folder.mkdir()
    layout = dict(layout)
    name = layout.pop("name", MODEL_NAME)
    for version, process in layout.pop("records", []):
        record(folder, name, version, process)
    for path, text in layout.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    with pytest.raises(StepContractError, match=message):
        copy(folder, tmp_path)
    assert not (tmp_path / "copied").exists()
    assert not (workspace / "datastore").exists() or not any(
        (workspace / "datastore").rglob("*.txt")
    )


def test_a_local_layout_naming_missing_files_is_refused(workspace: Path, tmp_path: Path) -> None:
    folder = tmp_path / "score"
    BatchScoreOutput(
        model_name=MODEL_NAME, model_version="1", input="x", input_digest="d",
        scores_file="scores.parquet", scores_digest="s", rows_scored=0, rows_rejected=0,
    ).write(folder)  # fmt: skip
    with pytest.raises(StepContractError, match=r"names files that are not there: .*scores\.p"):
        copy(folder, tmp_path)


def test_the_step_command_prints_one_error_line(workspace: Path, tmp_path: Path) -> None:
    (tmp_path / "score").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "ml_service.pipelines.copy_scores", "--model_name", MODEL_NAME,
         "--step_input", str(tmp_path / "missing"), "--step_output", str(tmp_path / "out")],
        capture_output=True, text=True, env={**os.environ}, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: --step_input {tmp_path / 'missing'} is not a folder: give the scoring step's "
        "output folder"
    ]
    assert not (tmp_path / "out").exists()


def test_init_records_nothing_without_a_record_folder(model_env, tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", ["pytest", "-q"])
        patch.chdir(tmp_path)
        parallel_batchscore.init()
    assert list(tmp_path.iterdir()) == []
