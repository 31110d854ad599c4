"""Azure ML's scoring-script contract for the diabetes model: `init()` loads, `run()` scores.

A thin adapter over `ml_service.models`, the code the scoring service uses: the
same model resolution, loading, parsing and checks as `/score`, with the same
settings (SCORING_MAX_ROWS, MODEL_NAME, ...), so a body the service accepts,
`run` accepts. `input_sample` and `output_sample` document the schema, as in
MLOpsPython.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from ml_service.models.load import LoadedModel, load_model
from ml_service.models.resolve import default_model_uri, resolve_model_uri
from ml_service.models.scoring import score_azure_body
from ml_service.settings import load_env

log = logging.getLogger(__name__)

input_sample = np.array([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]])
"""Two rows of the model's 10 features (MLOpsPython's sample)."""
output_sample = np.array([5021.509689995557, 3693.645386402646])
"""One prediction per row (MLOpsPython's sample; the values depend on the model)."""

model: LoadedModel | None = None
max_rows: int = 0


def init(model_uri: str | None = None) -> None:
    """Load the model once: `model_uri`, else AZUREML_MODEL_DIR (a model folder), else the default.

    The default is `models:/<MODEL_NAME>@production` if set, else `@champion`.

    Raises:
        ModelLoadError: the model cannot be found or loaded.
        SettingsError: a setting is invalid.
    """
    global model, max_rows
    env = load_env()
    model_dir = os.environ.get("AZUREML_MODEL_DIR")
    uri = model_uri or (model_dir and mlflow_model_folder(model_dir)) or default_model_uri(env)
    model = load_model(resolve_model_uri(uri, env))
    max_rows = env.scoring_max_rows
    log.info("loaded %s version %s", model.name, model.version)


def mlflow_model_folder(model_dir: str) -> str:
    """The MLflow model folder in AZUREML_MODEL_DIR: itself, or its one subfolder holding MLmodel.

    Azure ML mounts a registered MLflow model's files one folder down (the
    artifact path it was logged under, e.g. `model/`).
    """
    root = Path(model_dir)
    if (root / "MLmodel").is_file():
        return model_dir
    found = sorted(path.parent for path in root.glob("*/MLmodel"))
    return str(found[0]) if len(found) == 1 else model_dir


def run(raw_data: str | bytes) -> dict[str, Any]:
    """Score `{"data": [[10 numbers], ...]}` and answer `{"result": [predictions]}`.

    Raises:
        RuntimeError: `init()` was not called.
        ScoringInputError: the body is malformed; the message says what is wrong.
    """
    if model is None:
        raise RuntimeError("call init() before run()")
    body = raw_data.encode() if isinstance(raw_data, str) else raw_data
    batch = score_azure_body(model, body, max_rows=max_rows)
    result = batch.predictions.tolist()
    log.info(json.dumps({"rows": len(result), "model_version": model.version}))
    return {"result": result}
