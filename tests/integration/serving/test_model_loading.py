"""Resolving model URIs and loading models, and the score.py init()/run() contract."""

from __future__ import annotations

import json
import shutil

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.models import infer_signature
from sklearn.linear_model import Ridge

from diabetes_regression.scoring import score
from ml_service.errors import ModelLoadError, ScoringInputError
from ml_service.models.load import load_model
from ml_service.models.resolve import (
    _MODELS_URI,
    _resolve_with_mlflow,
    default_model_uri,
    resolve_model_uri,
)
from ml_service.settings import load_env
from tests.integration.serving.conftest import SAMPLE
from tests.integration.serving.diabetes_model import FEATURES


@pytest.fixture
def env(registered_model):
    return load_env(mlops_workspace=registered_model.workspace)


def test_alias_and_version_resolve_to_the_same_model(env, registered_model):
    by_alias = resolve_model_uri(f"models:/{registered_model.name}@champion", env)
    by_version = resolve_model_uri(f"models:/{registered_model.name}/1", env)
    assert by_alias.version == by_version.version == registered_model.version
    assert by_alias.local_dir == by_version.local_dir
    assert (by_alias.local_dir / "MLmodel").is_file()


def test_mlflow_api_resolves_the_same_as_the_direct_read(env, registered_model):
    uri = f"models:/{registered_model.name}@champion"
    via_mlflow = _resolve_with_mlflow(uri, _MODELS_URI.match(uri), registered_model.tracking_uri)
    assert via_mlflow.version == registered_model.version
    assert (via_mlflow.local_dir / "MLmodel").read_text() == (
        resolve_model_uri(uri, env).local_dir / "MLmodel"
    ).read_text()


def test_other_uris_go_through_mlflow(env, registered_model):
    logged = (
        mlflow.MlflowClient(registered_model.tracking_uri)
        .get_model_version(registered_model.name, registered_model.version)
        .source
    )
    resolved = resolve_model_uri(logged, env)
    assert (resolved.local_dir / "MLmodel").is_file()
    local = resolve_model_uri(str(registered_model.local_dir), env)
    assert local.local_dir == registered_model.local_dir


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("models:/diabetes_regression_model@nope", "has no alias 'nope'"),
        ("models:/diabetes_regression_model/99", "has no version 99"),
        ("models:/unknown_model@champion", "has no alias"),
    ],
)
def test_unknown_alias_or_version_is_a_model_load_error(env, uri, message):
    with pytest.raises(ModelLoadError, match=message):
        resolve_model_uri(uri, env)


def test_mlflow_path_errors_are_model_load_errors(registered_model):
    uri = "models:/unknown_model@champion"
    with pytest.raises(ModelLoadError, match="cannot resolve model"):
        _resolve_with_mlflow(uri, _MODELS_URI.match(uri), registered_model.tracking_uri)


def test_missing_registry_is_a_model_load_error(tmp_path):
    with pytest.raises(ModelLoadError, match="no model registry"):
        resolve_model_uri("models:/m@champion", load_env(mlops_workspace=tmp_path))


def test_default_prefers_production_over_champion(env, registered_model):
    assert default_model_uri(env) == f"models:/{registered_model.name}@champion"
    client = mlflow.MlflowClient(registered_model.tracking_uri)
    client.set_registered_model_alias(registered_model.name, "production", registered_model.version)
    try:
        assert default_model_uri(env) == f"models:/{registered_model.name}@production"
    finally:
        client.delete_registered_model_alias(registered_model.name, "production")


def test_loaded_model_has_features_example_and_predicts(env, registered_model):
    model = load_model(resolve_model_uri(f"models:/{registered_model.name}@champion", env))
    assert model.features == FEATURES
    assert model.input_example is not None and len(model.input_example) == 2
    predictions = model.predict(np.array(SAMPLE["data"], dtype=float))
    assert predictions.shape == (2,)


class CustomRidge(Ridge):
    """A type skops does not trust by default."""


def _save(tmp_path, estimator, **kwargs):
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(20, 10)), columns=list(FEATURES))
    estimator.fit(frame, frame.sum(axis=1))
    path = tmp_path / "model"
    mlflow.sklearn.save_model(estimator, path, pip_requirements=["scikit-learn"], **kwargs)
    return path


def test_skops_trusted_types_listed_in_the_model_are_ignored(tmp_path, env):
    """A model cannot widen skops' allow-list for itself."""
    path = _save(
        tmp_path,
        CustomRidge(),
        serialization_format="skops",
        signature=infer_signature(pd.DataFrame(np.zeros((1, 10)), columns=list(FEATURES))),
        skops_trusted_types=[f"{__name__}.CustomRidge"],
    )
    with pytest.raises(ModelLoadError, match="does not trust"):
        load_model(resolve_model_uri(str(path), env))


def test_model_without_signature_is_refused(tmp_path, env):
    path = _save(tmp_path, Ridge(), serialization_format="skops")
    with pytest.raises(ModelLoadError, match="no input signature"):
        load_model(resolve_model_uri(str(path), env))


def test_model_fitted_on_other_features_is_refused(tmp_path, env):
    other = pd.DataFrame(np.zeros((1, 10)), columns=[f"X{i}" for i in range(10)])
    path = _save(tmp_path, Ridge(), serialization_format="skops", signature=infer_signature(other))
    with pytest.raises(ModelLoadError, match="fitted on features"):
        load_model(resolve_model_uri(str(path), env))


def test_other_formats_load_through_pyfunc_when_allowed(tmp_path, env, monkeypatch):
    signature = infer_signature(pd.DataFrame(np.zeros((1, 10)), columns=list(FEATURES)))
    path = _save(tmp_path, Ridge(), serialization_format="cloudpickle", signature=signature)
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    model = load_model(resolve_model_uri(str(path), env))
    assert model.predict(np.ones((3, 10))).shape == (3,)
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    with pytest.raises(ModelLoadError, match="MLFLOW_ALLOW_PICKLE_DESERIALIZATION"):
        load_model(resolve_model_uri(str(path), env))


def test_score_py_init_and_run(registered_model, monkeypatch):
    monkeypatch.setenv("MLOPS_WORKSPACE", str(registered_model.workspace))
    monkeypatch.setattr(score, "model", None)
    with pytest.raises(RuntimeError, match="init"):
        score.run(json.dumps(SAMPLE))
    score.init()
    answer = score.run(json.dumps(SAMPLE))
    assert list(answer) == ["result"] and len(answer["result"]) == 2
    assert score.run(json.dumps(SAMPLE).encode()) == answer
    with pytest.raises(ScoringInputError, match="has 9 values"):
        score.run(json.dumps({"data": [[1] * 9]}))


def test_score_py_reads_azureml_model_dir(registered_model, monkeypatch):
    monkeypatch.setenv("MLOPS_WORKSPACE", str(registered_model.workspace))
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(registered_model.local_dir))
    monkeypatch.setattr(score, "model", None)
    score.init()
    assert score.model.features == FEATURES
    assert score.input_sample.shape == (2, 10)
    assert len(score.run(json.dumps({"data": score.input_sample.tolist()}))["result"]) == len(
        score.output_sample
    )


def test_score_py_finds_the_mlflow_model_one_folder_down(registered_model, monkeypatch, tmp_path):
    # Azure ML mounts a registered MLflow model under AZUREML_MODEL_DIR/<artifact path>/.
    mounted = tmp_path / "azureml-models" / "diabetes_regression_model" / "3"
    shutil.copytree(registered_model.local_dir, mounted / "model")
    monkeypatch.setenv("MLOPS_WORKSPACE", str(registered_model.workspace))
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(mounted))
    monkeypatch.setattr(score, "model", None)
    score.init()
    assert score.model is not None and score.model.features == FEATURES
    assert score.mlflow_model_folder(str(tmp_path)) == str(tmp_path)
