"""The CI definitions pass the offline checkers: actionlint, GitHub's and Azure's schemas."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import pytest

from tests.cicd.conftest import (
    ACTIONLINT,
    ACTIONLINT_PACKAGE,
    AZURE_PIPELINES,
    GITHUB_WORKFLOWS,
    load_yaml,
    need_tool,
    node,
)
from tests.conftest import REPO_ROOT

AZURE_SCHEMA = (
    "--builtin-schema",
    "vendor.azure-pipelines",
    "--data-transform",
    "azure-pipelines",
    "--regex-variant",
    "python",
)


def _check_jsonschema(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_there_are_definitions_for_both_ci_systems() -> None:
    names = {path.name for path in GITHUB_WORKFLOWS} | {path.name for path in AZURE_PIPELINES}
    assert {"pr.yml", "train.yml", "deploy.yml"} <= {p.name for p in GITHUB_WORKFLOWS}
    assert {
        "code-quality-template.yml",
        "diabetes_regression-ci.yml",
        "diabetes_regression-cd.yml",
        "diabetes_regression-variables-template.yml",
        "iac-create-environment-pipeline-arm.yml",
    } <= names


def test_github_workflows_pass_actionlint() -> None:
    need_tool(ACTIONLINT_PACKAGE)
    done = subprocess.run(
        [node(), str(ACTIONLINT), *map(str, GITHUB_WORKFLOWS)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_finds_a_mistake(tmp_path: Path) -> None:
    # The checker is wired up for real: a broken workflow fails it.
    need_tool(ACTIONLINT_PACKAGE)
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ github.no_such_property }}\n"
    )
    done = subprocess.run(
        [node(), str(ACTIONLINT), str(broken)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert "no_such_property" in done.stdout


def test_github_workflows_match_githubs_schema() -> None:
    done = _check_jsonschema("--builtin-schema", "vendor.github-workflows", *GITHUB_WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr


def _is_variables_template(path: Path) -> bool:
    document = load_yaml(path)
    return isinstance(document, dict) and set(document) == {"variables"}


def test_azure_pipelines_match_the_azure_pipelines_schema() -> None:
    pipelines = [path for path in AZURE_PIPELINES if not _is_variables_template(path)]
    done = _check_jsonschema(*AZURE_SCHEMA, *pipelines)
    assert done.returncode == 0, done.stdout + done.stderr


def test_variables_templates_match_the_schemas_variables(tmp_path: Path) -> None:
    # The schema describes whole pipelines; a variables template is checked against its
    # `variables` definition (a file of variables alone is no pipeline).
    templates = [path for path in AZURE_PIPELINES if _is_variables_template(path)]
    assert templates
    vendor = files("check_jsonschema.builtin_schemas.vendor") / "azure-pipelines.json"
    schema = json.loads(vendor.read_text(encoding="utf-8"))
    for key in ("anyOf", "oneOf", "$ref"):
        schema.pop(key, None)
    schema.update(
        type="object",
        properties={"variables": {"$ref": "#/definitions/variables"}},
        required=["variables"],
        additionalProperties=False,
    )
    schema_file = tmp_path / "azure-pipelines-variables.json"
    schema_file.write_text(json.dumps(schema), encoding="utf-8")
    done = _check_jsonschema("--schemafile", schema_file, *AZURE_SCHEMA[2:], *templates)
    assert done.returncode == 0, done.stdout + done.stderr
    wrong = tmp_path / "wrong-variables-template.yml"
    wrong.write_text("variables:\n  - name: A\n    value: 1\n    nonsense: true\n")
    assert _check_jsonschema("--schemafile", schema_file, *AZURE_SCHEMA[2:], wrong).returncode


def test_the_azure_schema_check_finds_a_mistake(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("stages:\n  - stage: A\n    jobs:\n      - job: B\n        stepz: []\n")
    done = _check_jsonschema(*AZURE_SCHEMA, broken)
    assert done.returncode != 0


def _walk(node: object) -> Iterator[tuple[str, object]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key), value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


# A released version (v4.2.2), or a full commit id; never a moving branch or major tag.
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})$")


@pytest.mark.parametrize("workflow", GITHUB_WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_to_a_version(workflow: Path) -> None:
    uses = [value for key, value in _walk(load_yaml(workflow)) if key == "uses"]
    unpinned = [
        u for u in uses if not (str(u).startswith("./.github/workflows/") or PINNED.match(str(u)))
    ]
    assert unpinned == []


@pytest.mark.parametrize("workflow", GITHUB_WORKFLOWS, ids=lambda p: p.name)
def test_permissions_are_least_privilege(workflow: Path) -> None:
    document = load_yaml(workflow)
    assert isinstance(document, dict)
    # Top level: read the code, nothing more; a job asks for more only where it needs it.
    assert document.get("permissions") in ({"contents": "read"}, {}), workflow.name
    for key, value in _walk(document):
        if key == "permissions":
            assert value not in ("write-all", "read-all"), workflow.name
            assert isinstance(value, dict)
            writes = {scope for scope, level in value.items() if level == "write"}
            assert writes <= {"id-token"}, f"{workflow.name} writes {writes}"


SECRET_NAMES = re.compile(r"(URI|KEY|SECRET|TOKEN|PASSWORD|CLIENT_ID|TENANT_ID|SUBSCRIPTION_ID)$")


@pytest.mark.parametrize("workflow", GITHUB_WORKFLOWS, ids=lambda p: p.name)
def test_secrets_come_only_from_the_secrets_context(workflow: Path) -> None:
    text = workflow.read_text(encoding="utf-8")
    for key, value in _walk(load_yaml(workflow)):
        if SECRET_NAMES.search(key) and isinstance(value, str) and key != "BUILD_URI":
            assert re.fullmatch(r"\$\{\{ (secrets|steps|inputs)\.[\w.-]+ \}\}", value), (
                f"{workflow.name}: {key} is set from {value!r}, not from secrets.*"
            )
    assert "secrets: inherit" not in text, "pass each secret a called workflow needs by name"
