"""The Bicep template: it parses, it links the workspace to its four resources and the
cluster, its settings are the secure ones, and checkov finds nothing unexplained."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

from tests.cicd.conftest import BICEP, BICEP_PARAMETERS, CHECKOV, CHECKOV_PYTHON, need_tool
from tests.conftest import REPO_ROOT

# Parse with pycep in checkov's venv (pycep is checkov's own Bicep parser).
PARSE = """
import json, sys
from pathlib import Path
from pycep import BicepParser
print(json.dumps(BicepParser().parse(file_path=Path(sys.argv[1])), default=str))
"""


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    python = need_tool(CHECKOV_PYTHON)
    done = subprocess.run(
        [str(python), "-c", PARSE, str(BICEP)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    parsed: dict[str, Any] = json.loads(done.stdout)
    return parsed


def _resources(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(template["resources"])


def _type(resource: dict[str, Any]) -> str:
    return str(resource["type"])


def _reference(value: object) -> str:
    """The resource a property points at: `name.id` in the Bicep."""
    assert isinstance(value, dict), value
    operator = value["operator"]
    assert operator["type"] == "property_accessor", value
    assert operator["operands"]["operand_2"] == "id", value
    return str(operator["operands"]["operand_1"])


def test_every_resource_is_there(template: dict[str, Any]) -> None:
    types = sorted(_type(r) for r in _resources(template).values())
    assert types == sorted(
        [
            "Microsoft.OperationalInsights/workspaces",
            "Microsoft.Insights/components",
            "Microsoft.Storage/storageAccounts",
            "Microsoft.KeyVault/vaults",
            "Microsoft.ContainerRegistry/registries",
            "Microsoft.MachineLearningServices/workspaces",
            "Microsoft.MachineLearningServices/workspaces/computes",
        ]
    )


def test_the_workspace_links_its_four_resources_and_owns_the_cluster(
    template: dict[str, Any],
) -> None:
    resources = _resources(template)
    by_type = {_type(r): name for name, r in resources.items()}
    workspace = resources[by_type["Microsoft.MachineLearningServices/workspaces"]]["config"]
    links = {key: _reference(workspace["properties"][key]) for key in (
        "storageAccount", "keyVault", "applicationInsights", "containerRegistry"
    )}  # fmt: skip
    assert links == {
        "storageAccount": by_type["Microsoft.Storage/storageAccounts"],
        "keyVault": by_type["Microsoft.KeyVault/vaults"],
        "applicationInsights": by_type["Microsoft.Insights/components"],
        "containerRegistry": by_type["Microsoft.ContainerRegistry/registries"],
    }
    insights = resources[by_type["Microsoft.Insights/components"]]["config"]
    assert (
        _reference(insights["properties"]["WorkspaceResourceId"])
        == by_type["Microsoft.OperationalInsights/workspaces"]
    )
    cluster = resources[by_type["Microsoft.MachineLearningServices/workspaces/computes"]]
    assert cluster["config"]["parent"] == by_type["Microsoft.MachineLearningServices/workspaces"]
    assert cluster["config"]["properties"]["computeType"] == "AmlCompute"


def test_secure_settings(template: dict[str, Any]) -> None:
    resources = _resources(template)
    by_type = {_type(r): r["config"]["properties"] for r in resources.values()}
    storage = by_type["Microsoft.Storage/storageAccounts"]
    assert storage["supportsHttpsTrafficOnly"] is True
    assert storage["minimumTlsVersion"] == "TLS1_2"
    assert storage["allowBlobPublicAccess"] is False
    vault = by_type["Microsoft.KeyVault/vaults"]
    assert vault["enableSoftDelete"] is True
    assert vault["enablePurgeProtection"] is True
    assert vault["enableRbacAuthorization"] is True
    assert by_type["Microsoft.ContainerRegistry/registries"]["adminUserEnabled"] is False


def test_names_are_unique_per_resource_group_so_a_rerun_is_idempotent() -> None:
    text = BICEP.read_text(encoding="utf-8")
    assert "uniqueString(resourceGroup().id, baseName)" in text
    for name in ("storageAccountName", "keyVaultName", "containerRegistryName"):
        assert re.search(rf"var {name} = .*\$\{{suffix\}}", text), name


def test_the_parameters_file_names_only_parameters_of_the_template(
    template: dict[str, Any],
) -> None:
    given = json.loads(BICEP_PARAMETERS.read_text(encoding="utf-8"))["parameters"]
    assert set(given) <= set(template["parameters"])
    assert "baseName" in given


def test_checkov_finds_no_failed_check_and_every_skip_has_its_reason() -> None:
    checkov = need_tool(CHECKOV)
    done = subprocess.run(
        [str(checkov), "--framework", "bicep", "--file", str(BICEP), "--output", "json",
         "--quiet", "--compact", "--skip-download"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )  # fmt: skip
    report = json.loads(done.stdout)
    results = report["results"]
    failed = [(c["check_id"], c["resource"]) for c in results.get("failed_checks", [])]
    assert failed == [], done.stdout[-2000:]
    assert report["summary"]["passed"] > 0
    for skipped in results.get("skipped_checks", []):
        reason = skipped.get("check_result", {}).get("suppress_comment", "")
        assert len(reason.strip()) > 10, f"{skipped['check_id']} is skipped without a reason"
