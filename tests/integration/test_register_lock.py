"""Register re-judges the challenger under the per-model lock: a champion that appears while
it waits for the lock is the one it compares against, not the one Evaluate saw."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.models import infer_signature
from sklearn.linear_model import LinearRegression

from diabetes_regression.parameters import load_parameters
from diabetes_regression.register import register_model
from diabetes_regression.training import train_aml
from ml_service.pipelines.contracts import TEST_DATA, RegistrationOutput, TrainOutput
from ml_service.registry.database import model_lock, registry_engine
from ml_service.settings import load_env
from ml_service.tracking.store import configure_tracking
from tests.conftest import DIABETES_CSV

MODEL = "diabetes_regression_model"


def _train(output: Path, data: Path) -> TrainOutput:
    return train_aml.main(
        ["--model_name", MODEL, "--step_output", str(output), "--data_file_path", str(data)]
    )


def _register(step_input: Path) -> RegistrationOutput:
    return register_model.main(["--model_name", MODEL, "--step_input", str(step_input)])


def _log_better_model(test_data: Path) -> str:
    """A model fitted on the very rows the challenger is judged on: it beats the challenger
    there. Returns its model URI (logged, not yet registered)."""
    frame = pd.read_parquet(test_data)
    X, y = frame.drop(columns=["Y"]), frame["Y"]
    model = LinearRegression().fit(X, y)
    with mlflow.start_run(run_name="better champion"):
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            serialization_format="skops",
            signature=infer_signature(X, model.predict(X)),
        )
    return info.model_uri


def test_register_judges_against_the_champion_of_the_moment_it_holds_the_lock(
    workspace: Path,
    tmp_path: Path,
    small_subset_csv: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # v1, a weak champion: a 60-row sample.
    _train(tmp_path / "weak", small_subset_csv)
    assert _register(tmp_path / "weak").version == "1"
    # The challenger beats v1 (as Evaluate would have found) ...
    challenger = _train(tmp_path / "challenger", DIABETES_CSV)
    client = configure_tracking(load_env()).client
    judge = register_model.champion_judge(MODEL, str(tmp_path / "challenger"), load_parameters())
    assert judge(client.get_model_version(MODEL, "1"))[0]
    better_uri = _log_better_model(tmp_path / "challenger" / TEST_DATA)

    waiting = threading.Event()

    @contextmanager
    def observed_lock(engine, name: str) -> Iterator[None]:  # type: ignore[no-untyped-def]
        waiting.set()
        with model_lock(engine, name):
            yield

    monkeypatch.setattr(register_model, "model_lock", observed_lock)
    outcome: dict[str, RegistrationOutput | BaseException] = {}

    def register_in_background() -> None:
        try:
            outcome["result"] = _register(tmp_path / "challenger")
        except BaseException as err:  # reported by the assertion below
            outcome["result"] = err

    # ... but while Register waits for the lock, a better champion is registered.
    with model_lock(registry_engine(load_env()), MODEL):
        register = threading.Thread(target=register_in_background)
        register.start()
        assert waiting.wait(300), "Register never reached the lock"
        better = client.create_model_version(
            MODEL, source=better_uri, model_id=better_uri.removeprefix("models:/")
        )
        client.set_registered_model_alias(MODEL, "champion", better.version)
    register.join(300)
    assert not register.is_alive()

    result = outcome["result"]
    assert isinstance(result, RegistrationOutput), result
    assert result.version is None and result.alias is None
    assert "not better" in result.reason
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == str(better.version)
    versions = sorted(str(v.version) for v in client.search_model_versions(f"name = '{MODEL}'"))
    assert versions == ["1", "2"]
    assert challenger.model_run_id not in {
        v.run_id for v in client.search_model_versions(f"name = '{MODEL}'")
    }
