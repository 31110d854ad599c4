"""Step outputs: written by one step, validated when the next one reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml_service.errors import StepContractError
from ml_service.pipelines.contracts import (
    DatasetRef,
    EvaluationOutput,
    RegistrationOutput,
    TrainOutput,
)

TRAIN = TrainOutput(
    model_name="m",
    model_uri="models:/m-1",
    model_run_id="r1",
    step_run_id="r2",
    reused=True,
    dataset=DatasetRef(name="ds", version=3, digest="ab" * 32),
    metrics={"mse": 1.5, "r2": 0.5},
    git_commit="c0ffee",
    cache_key="k",
)


def test_an_output_reads_back_equal_and_keeps_metric_order(tmp_path: Path) -> None:
    TRAIN.write(tmp_path)
    read = TrainOutput.read(tmp_path, model_name="m")
    assert read == TRAIN
    assert list(read.metrics) == ["mse", "r2"]
    assert read.dataset.ref == "ds:3"


def test_a_missing_output_names_the_step_that_makes_it(tmp_path: Path) -> None:
    with pytest.raises(StepContractError, match="output folder of the Train model step"):
        TrainOutput.read(tmp_path)


def test_a_model_name_that_disagrees_is_refused(tmp_path: Path) -> None:
    TRAIN.write(tmp_path)
    with pytest.raises(StepContractError, match="--model_name 'other' disagrees"):
        TrainOutput.read(tmp_path, model_name="other")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"model_name": "m"}', "model_uri: Field required"),
        (TRAIN.model_dump_json().replace('"reused":true', '"reused":"maybe"'), "reused"),
        (TRAIN.model_dump_json()[:-1] + ',"extra": 1}', "extra: Extra inputs"),
    ],
)
def test_an_invalid_output_names_the_file_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / TrainOutput.FILE).write_text(text)
    with pytest.raises(StepContractError, match=message) as raised:
        TrainOutput.read(tmp_path)
    assert str(tmp_path / "train_output.json") in str(raised.value)


def test_read_if_present(tmp_path: Path) -> None:
    assert RegistrationOutput.read_if_present(None) is None
    assert RegistrationOutput.read_if_present(tmp_path) is None
    RegistrationOutput(model_name="m", version="2", alias="champion", reason="better").write(
        tmp_path
    )
    assert RegistrationOutput.read_if_present(tmp_path) is not None
    assert EvaluationOutput.read_if_present(tmp_path) is None
