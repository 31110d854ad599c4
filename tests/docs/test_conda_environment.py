"""diabetes_regression/conda_dependencies.yml pins what pyproject.toml and requirements.lock pin."""

from __future__ import annotations

import re
import tomllib

import yaml
from packaging.requirements import Requirement

from tests.conftest import REPO_ROOT

CONDA_FILE = REPO_ROOT / "diabetes_regression" / "conda_dependencies.yml"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{line!r} is not pinned with =="
        pins[_normal(requirement.name)] = specifier.version
    return pins


def _conda() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(CONDA_FILE.read_text(encoding="utf-8"))


def _conda_pip_pins() -> dict[str, str]:
    sections = [d for d in _conda()["dependencies"] if isinstance(d, dict)]
    assert len(sections) == 1 and list(sections[0]) == ["pip"]
    return _pins(sections[0]["pip"])


def _project() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_conda_pins_are_exactly_the_projects_runtime_pins() -> None:
    assert _conda_pip_pins() == _pins(_project()["dependencies"])


def test_conda_pins_agree_with_the_lock_file() -> None:
    lock = _pins(
        [
            line
            for line in (REPO_ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith(("#", "-"))
        ]
    )
    for name, version in _conda_pip_pins().items():
        assert lock.get(name) == version, f"{name}: conda {version}, lock {lock.get(name)}"


def test_conda_python_matches_requires_python() -> None:
    pythons = [d for d in _conda()["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert pythons == ["python=3.11"]
    assert _project()["requires-python"] == ">=3.11,<3.12"
