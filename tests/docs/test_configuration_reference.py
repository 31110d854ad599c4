"""docs/configuration.md is generated from the settings models and is not stale."""

from __future__ import annotations

import json

from diabetes_regression.parameters import PARAMETERS_PATH, ModelParameters
from ml_service.project import config_reference
from ml_service.settings import Env, load_env


def test_committed_reference_is_what_the_models_render() -> None:
    expected = config_reference.render_for(load_env())
    committed = config_reference.REFERENCE_PATH.read_text(encoding="utf-8")
    assert committed == expected, "docs/configuration.md is stale: run `make docs`"


def test_check_mode_reports_a_stale_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    stale = tmp_path / "configuration.md"
    stale.write_text("old\n", encoding="utf-8")
    assert config_reference.main(["--check", "--output", str(stale)]) == 1
    assert config_reference.main(["--output", str(stale)]) == 0
    assert config_reference.main(["--check", "--output", str(stale)]) == 0


def test_every_variable_and_key_is_documented() -> None:
    text = config_reference.REFERENCE_PATH.read_text(encoding="utf-8")
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
