"""What the training pipeline's steps hand each other, as typed models validated when read.

Each step writes its output model as JSON into its `--step_output` folder; the
next step reads it from its `--step_input` folder. A missing file, a wrong
field or a model name that disagrees with the step's `--model_name` is one
clear error naming the file, never a KeyError three calls later.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from ml_service.errors import StepContractError

# Files beside the JSON outputs in Train model's folder.
TEST_DATA = "test_data.parquet"
MODEL_DIR = "model"


class _StepOutput(BaseModel):
    """A step's output file: written by one step, read by the next."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    FILE: ClassVar[str]
    PRODUCER: ClassVar[str]

    model_name: str

    def write(self, folder: str | Path) -> Path:
        """Write the output file into `folder`, creating it."""
        path = Path(folder) / self.FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, folder: str | Path, model_name: str | None = None) -> Self:
        """Read and validate the output `PRODUCER` wrote into `folder`.

        Args:
            folder: the producing step's output folder (this step's --step_input).
            model_name: this step's --model_name; it must be the producer's.

        Raises:
            StepContractError: the file is missing or invalid, or names another model.
        """
        path = Path(folder) / cls.FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as err:
            raise StepContractError(
                f"{path} not found: --step_input must be the output folder of {cls.PRODUCER}"
            ) from err
        try:
            output = cls.model_validate(json.loads(text))
        except json.JSONDecodeError as err:
            raise StepContractError(f"{path} is not valid JSON: {err}") from err
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
                for e in err.errors()
            )
            raise StepContractError(f"{path} is not {cls.PRODUCER}'s output: {problems}") from err
        if model_name is not None and output.model_name != model_name:
            raise StepContractError(
                f"--model_name {model_name!r} disagrees with {path}, which {cls.PRODUCER} wrote "
                f"for model {output.model_name!r}; pass the same --model_name to every step"
            )
        return output

    @classmethod
    def read_if_present(cls, folder: str | Path | None) -> Self | None:
        """The output in `folder`, or None when the step did not write one (it did not run)."""
        if folder is None or not (Path(folder) / cls.FILE).is_file():
            return None
        return cls.read(folder)


class DatasetRef(BaseModel):
    """The dataset version a model was trained on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: int
    digest: str

    @property
    def ref(self) -> str:
        """`name:version`."""
        return f"{self.name}:{self.version}"


class TrainOutput(_StepOutput):
    """Train model's output: the logged model, its data, metrics and code version."""

    FILE: ClassVar[str] = "train_output.json"
    PRODUCER: ClassVar[str] = "the Train model step"

    model_uri: str
    model_run_id: str  # the run that logged the model (an earlier one when reused)
    step_run_id: str
    reused: bool
    dataset: DatasetRef
    metrics: dict[str, float]
    git_commit: str
    cache_key: str


class EvaluationOutput(_StepOutput):
    """Evaluate's output: the challenger against the champion, and what follows."""

    FILE: ClassVar[str] = "evaluation.json"
    PRODUCER: ClassVar[str] = "the Evaluate step"

    better: bool
    metric: str
    challenger: float
    champion: float | None
    reason: str
    outcome: Literal["passed", "cancelled", "continued"]
    champion_version: str | None
    challenger_model_uri: str


class RegistrationOutput(_StepOutput):
    """Register's output: the version created (None: not registered) and the alias it got."""

    FILE: ClassVar[str] = "registration.json"
    PRODUCER: ClassVar[str] = "the Register step"

    version: str | None
    alias: str | None
    reason: str


class BatchScoreOutput(_StepOutput):
    """The batch pipeline's scoring step output: which model scored what, into which file."""

    FILE: ClassVar[str] = "batch_score.json"
    PRODUCER: ClassVar[str] = "the Batch score step"

    model_version: str
    input: str
    input_digest: str
    scores_file: str  # in the step's output folder
    scores_digest: str
    rows_scored: int
    rows_rejected: int


class ParallelScoringModel(BaseModel):
    """Which model one process of the Azure ML parallel job loaded, for the copy step.

    The parallel job's output folder holds only the rows `run()` returned
    (`append_row`), not which model scored them; each scoring process records
    its model here, under `DIR` in that folder, one file per process, so the
    copy step files the scores under the version that produced them and sees
    when two processes loaded different versions.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    DIR: ClassVar[str] = "scoring_models"

    model_name: str
    model_version: str | None
    model_uri: str

    def write(self, folder: str | Path) -> Path:
        """Write this process's record into `folder`/DIR, atomically."""
        import os
        import socket

        directory = Path(folder) / self.DIR
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{socket.gethostname()}-{os.getpid()}.json"
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        os.replace(partial, path)
        return path

    @classmethod
    def read_all(cls, folder: str | Path) -> list[Self]:
        """Every process's record in `folder`/DIR (none when the folder has no DIR).

        Raises:
            StepContractError: a record is not valid.
        """
        records = []
        for path in sorted((Path(folder) / cls.DIR).glob("*.json")):
            try:
                records.append(cls.model_validate_json(path.read_text(encoding="utf-8")))
            except ValidationError as err:
                raise StepContractError(
                    f"{path} is not a record of the parallel job's model: {err.errors()[0]['msg']}"
                ) from err
        return records
