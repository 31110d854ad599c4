"""docs/configuration.md and .env.example are generated from the settings models and
are not stale."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from diabetes_regression.parameters import PARAMETERS_PATH, ModelParameters
from ml_service.project import config_reference
from ml_service.settings import Env, load_env
from tests.conftest import REPO_ROOT

REFERENCE = REPO_ROOT / config_reference.REFERENCE_PATH
ENV_EXAMPLE = REPO_ROOT / config_reference.ENV_EXAMPLE_PATH

# The defaults, not the developer's own variables or `.env`, are what the files show.
pytestmark = pytest.mark.usefixtures("workspace")


def test_committed_reference_is_what_the_models_render() -> None:
    expected = config_reference.render_for(load_env())
    committed = REFERENCE.read_text(encoding="utf-8")
    assert committed == expected, "docs/configuration.md is stale: run `make docs`"


def test_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "configuration.md"
    example = tmp_path / "env.example"
    stale.write_text("old\n", encoding="utf-8")
    files = ["--output", str(stale), "--env-example", str(example)]
    assert config_reference.main(["--check", *files]) == 1
    assert config_reference.main(files) == 0
    assert config_reference.main(["--check", *files]) == 0
    example.write_text("old\n", encoding="utf-8")
    assert config_reference.main(["--check", *files]) == 1


def test_committed_env_example_is_what_the_settings_render() -> None:
    committed = ENV_EXAMPLE.read_text(encoding="utf-8")
    assert committed == config_reference.render_env_example(Env), (
        ".env.example is stale: run `make docs`"
    )


def _env_example_names() -> list[str]:
    """Every variable .env.example sets or shows commented out (`# NAME=`)."""
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    return re.findall(r"^(?:# )?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE)


def test_env_example_lists_every_setting() -> None:
    listed = set(_env_example_names())
    missing = [name.upper() for name in Env.model_fields if name.upper() not in listed]
    assert missing == [], f".env.example lacks {missing}: run `make docs`"


def test_env_example_lists_only_settings() -> None:
    names = _env_example_names()
    unknown = [name for name in names if name.lower() not in Env.model_fields]
    assert unknown == [], f".env.example names {unknown}, which are no settings"
    assert len(names) == len(set(names)), "a variable is listed twice"


def test_every_variable_and_key_is_documented() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    for name in Env.model_fields:
        assert f"| `{name.upper()}` |" in text
    shipped = json.loads(PARAMETERS_PATH.read_text(encoding="utf-8"))
    for section, keys in shipped.items():
        assert f"### `{section}`" in text
        for key in keys:
            assert f"| `{section}.{key}` |" in text
    for section in ModelParameters.model_fields:
        assert f"### `{section}`" in text


def test_every_setting_has_a_description() -> None:
    missing = [name for name, field in Env.model_fields.items() if not field.description]
    assert missing == []
