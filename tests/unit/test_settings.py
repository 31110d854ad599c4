"""Settings: MLOpsPython's names, defaults, and one clear error for a bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml_service.errors import SettingsError
from ml_service.settings import load_env

pytestmark = pytest.mark.usefixtures("workspace")


def test_defaults_follow_mlopspython() -> None:
    env = load_env()
    assert env.experiment_name == "mlopspython"
    assert env.model_name == "diabetes_regression_model"
    assert env.training_pipeline_name == "diabetes-Training-Pipeline"
    assert env.dataset_version == "latest"
    assert env.run_evaluation is True
    assert env.allow_run_cancel is True
    assert env.build_buildid == "local"


def test_variables_are_read_by_their_mlopspython_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODEL_NAME", "m")
    monkeypatch.setenv("RUN_EVALUATION", "false")
    monkeypatch.setenv("BUILD_BUILDID", "20261127.3")
    env = load_env()
    assert (env.model_name, env.run_evaluation, env.build_buildid) == ("m", False, "20261127.3")


def test_bad_boolean_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUN_EVALUATION", "maybe")
    with pytest.raises(SettingsError, match=r"RUN_EVALUATION: .*boolean.*'maybe'"):
        load_env()


def test_dotenv_is_read_and_typos_are_refused(workspace: Path) -> None:
    dotenv = Path(".env")
    dotenv.write_text("EXPERIMENT_NAME=from_dotenv\n")
    assert load_env().experiment_name == "from_dotenv"
    dotenv.write_text("RUN_EVALUTION=false\n")
    with pytest.raises(SettingsError, match="RUN_EVALUTION"):
        load_env()


def test_empty_name_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODEL_NAME", "")
    with pytest.raises(SettingsError, match="MODEL_NAME"):
        load_env()


def test_step_module_from_mlopspython_script_paths() -> None:
    env = load_env()
    assert env.step_module(env.train_script_path) == "diabetes_regression.training.train_aml"
    assert env.step_module(env.register_script_path) == (
        "diabetes_regression.register.register_model"
    )


def test_env_example_lists_only_known_settings(workspace: Path) -> None:
    example = Path(__file__).resolve().parents[2] / ".env.example"
    Path(".env").write_text(example.read_text())
    env = load_env()
    assert env.experiment_name
