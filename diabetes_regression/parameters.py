"""The model's settings file, parameters.json, as strict typed models.

A typo in a key is an error that names the key, never a silent default.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ml_service.data.checks import DataChecks
from ml_service.errors import SettingsError
from ml_service.monitoring.drift import DriftChecks

PARAMETERS_PATH = Path(__file__).with_name("parameters.json")

MetricName = Literal["mse", "rmse", "mae", "r2"]

# Which way is better for each metric: the rule is configured by name only.
METRIC_DIRECTION: dict[str, Literal["minimize", "maximize"]] = {
    "mse": "minimize",
    "rmse": "minimize",
    "mae": "minimize",
    "r2": "maximize",
}


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TrainingParameters(_Strict):
    """Ridge regression and the train/test split."""

    alpha: float = Field(gt=0, description="Ridge regularization strength.")
    test_size: float = Field(gt=0, lt=1, description="Share of rows held out for testing.")
    random_state: int = Field(ge=0, description="Seed of the train/test split.")


class EvaluationParameters(_Strict):
    """How a challenger is compared with the champion."""

    metric: MetricName = Field(description="Metric both models are scored on.")
    min_improvement: float = Field(
        ge=0,
        description="Relative improvement the challenger needs over the champion "
        "(0.01 = 1 % better); 0 means strictly better.",
    )

    @property
    def direction(self) -> Literal["minimize", "maximize"]:
        """Whether a lower or a higher value of the metric is better."""
        return METRIC_DIRECTION[self.metric]


class RegistrationParameters(_Strict):
    """What a registered model version carries."""

    tags: list[MetricName] = Field(description="Metrics copied onto the model version as tags.")
    onnx_tolerance: float = Field(
        ge=0,
        description="Largest absolute difference allowed between the ONNX twin's predictions "
        "and the model's own on the test split; a twin that differs more is not attached.",
    )


class ModelParameters(_Strict):
    """The whole parameters.json."""

    data: DataChecks
    training: TrainingParameters
    evaluation: EvaluationParameters
    registration: RegistrationParameters
    monitoring: DriftChecks


def load_parameters(path: Path = PARAMETERS_PATH) -> ModelParameters:
    """Read and validate parameters.json, or raise SettingsError naming the file and key."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise SettingsError(f"{path}: cannot be read: {err.strerror}") from err
    except json.JSONDecodeError as err:
        raise SettingsError(f"{path}: not valid JSON: {err}") from err
    try:
        return ModelParameters.model_validate(raw)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in err.errors()
        )
        raise SettingsError(f"{path}: {problems}") from err
