"""The docs' commands run: every ```bash block of the walk-throughs is executed, in order.

Blocks fenced as ```sh are shown, not executed (they serve forever or set up a
machine); for those, every `make` target and `mlops` command the docs name must
exist. Links between the docs (and the READMEs) must resolve, #anchors included.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ml_service.cli import cli
from ml_service.settings import Env
from tests.conftest import REPO_ROOT, free_port

DOCS = REPO_ROOT / "docs"
# Pages whose ```bash blocks run: here, or in their own module beside this one
# (test_batch_scoring_doc.py, test_monitoring_doc.py).
EXECUTED = [
    "lifecycle.md",
    "bring-your-own-model.md",
    "azure.md",
    "deployment.md",
    "batch-scoring.md",
    "monitoring.md",
]
REQUIRED = [
    "getting-started.md",
    "lifecycle.md",
    "configuration.md",
    "azure.md",
    "bring-your-own-model.md",
]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def bash_blocks(markdown: str) -> list[str]:
    """The ```bash blocks of a page, in order."""
    return [body for lang, body in FENCE.findall(markdown) if lang == "bash"]


def _run_page(page: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    script = "set -euo pipefail\n" + "\n".join(bash_blocks((DOCS / page).read_text()))
    # The page's fixed example port, made free for this run.
    script = script.replace("5001", str(free_port()))
    # Start from the defaults: no setting a developer exported (MODEL_NAME, ...) leaks in.
    settings = {name.upper() for name in Env.model_fields}
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in settings and not k.startswith(("MLOPS_", "MLFLOW_"))
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    process = subprocess.Popen(
        ["bash", "-c", script],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: a server it started stops with it
    )
    try:
        stdout, stderr = process.communicate(timeout=600)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _checkout_copy(tmp_path: Path) -> Path:
    """A folder that looks like the repository root to the commands: its data files."""
    root = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "data", root / "data")
    return root


@pytest.mark.parametrize("page", REQUIRED)
def test_required_pages_exist(page: str) -> None:
    assert (DOCS / page).is_file()


def test_lifecycle_commands_run_from_data_to_a_served_champion(tmp_path: Path) -> None:
    completed = _run_page("lifecycle.md", _checkout_copy(tmp_path))
    assert completed.returncode == 0, completed.stderr[-3000:]
    out = completed.stdout
    assert "registered diabetes_ds:1" in out
    assert "registered diabetes_regression_model version 1, now @champion" in out
    assert "not better than champion v1" in out  # the second, cancelled run
    assert '{"predictions": [' in out
    assert (tmp_path / "repo" / ".mlops" / "mlflow.db").is_file()


def test_bring_your_own_model_commands_bootstrap_and_run(tmp_path: Path) -> None:
    completed = _run_page("bring-your-own-model.md", _checkout_copy(tmp_path))
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "registered my_project_model version 1, now @champion" in completed.stdout
    assert (tmp_path / "my_project" / "my_project" / "training" / "train_aml.py").is_file()


def test_azure_compile_commands_run_offline(tmp_path: Path) -> None:
    root = _checkout_copy(tmp_path)
    completed = _run_page("azure.md", root)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert (root / "build" / "azureml" / "pipeline.yml").is_file()
    assert (root / "build" / "batch" / "components" / "score.yml").is_file()
    for name in ("online-deployment-blue.yml", "batch-deployment-blue.yml"):
        assert (root / "build" / "endpoints" / name).is_file()


def test_deployment_commands_run_from_champion_to_production_and_stop(tmp_path: Path) -> None:
    root = _checkout_copy(tmp_path)
    try:
        completed = _run_page("deployment.md", root)
    finally:
        # Endpoint services run in sessions of their own: stop any the page left behind.
        for folder in (root / ".mlops" / "endpoints").glob("*"):
            record = folder / "process.json"
            if record.is_file():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(json.loads(record.read_text())["pid"], signal.SIGTERM)
    assert completed.returncode == 0, completed.stderr[-3000:]
    out = completed.stdout
    assert "staging: diabetes_regression_model version 1 takes all the traffic" in out
    assert "production: diabetes_regression_model version 1 takes all the traffic" in out
    assert '"deployments":[{"name":"blue","model_name":"diabetes_regression_model"' in out
    assert '{"result":[' in out
    assert "production: stopped (pid " in out and "staging: stopped (pid " in out
    assert out.count(" passed ") >= 3  # production's history, then both endpoints'
    assert not list((root / ".mlops" / "endpoints").glob("*/process.json"))


def test_every_bash_block_is_executed() -> None:
    """A ```bash block runs in the docs tests; a block that is only shown says so (```sh)."""
    pages = [*sorted(DOCS.glob("*.md")), REPO_ROOT / "README.md"]
    with_bash = {p.name for p in pages if bash_blocks(p.read_text(encoding="utf-8"))}
    unexecuted = sorted(with_bash - set(EXECUTED))
    assert unexecuted == [], f"{unexecuted}: run their ```bash blocks here, or fence them ```sh"


def _all_docs_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md")))


def test_every_make_target_named_in_the_docs_exists() -> None:
    named = set(re.findall(r"`make ([a-z][a-z_-]*)`", _all_docs_text()))
    named |= set(re.findall(r"^make ([a-z][a-z_-]*)", _all_docs_text(), re.M))
    assert named, "the docs name no make target"
    for target in sorted(named):
        dry_run = subprocess.run(
            ["make", "-n", target], cwd=REPO_ROOT, capture_output=True, text=True, check=False
        )
        assert dry_run.returncode == 0, f"`make {target}` in the docs: {dry_run.stderr}"


def test_every_mlops_command_named_in_the_docs_exists() -> None:
    named = set(re.findall(r"\bmlops ((?:data |model )?[a-z][a-z-]*)", _all_docs_text()))
    named -= {"and", "on"}  # prose such as "mlops on one machine"
    for command in sorted(named):
        result = CliRunner().invoke(cli, [*command.split(), "--help"])
        assert result.exit_code == 0, f"`mlops {command}` in the docs: {result.output}"


def test_make_help_lists_every_target() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z_-]*):", makefile, re.M))
    listed = subprocess.run(
        ["make", "help"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    shown = set(re.findall(r"make (\S+)", listed))
    assert targets == shown


LINKED_PAGES = [
    *sorted(DOCS.glob("*.md")),
    REPO_ROOT / "README.md",
    REPO_ROOT / "benchmarks" / "README.md",
]
LINK = re.compile(r"\]\(\s*([^)\s]+)\s*\)")


def heading_anchors(markdown: str) -> set[str]:
    """The #anchors GitHub gives a page's headings (outside code blocks)."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for line in FENCE.sub("", markdown).splitlines():
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def test_heading_anchors_follow_github() -> None:
    text = (
        "# Guarantees, tested\n## `mlops serve` (HTTP)\n## Setup\n## Setup\n```\n# not one\n```\n"
    )
    assert heading_anchors(text) == {"guarantees-tested", "mlops-serve-http", "setup", "setup-1"}


def test_links_between_docs_resolve() -> None:
    """Every relative link names an existing file, and its #anchor a heading of that page."""
    checked = 0
    for page in LINKED_PAGES:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.exists(), f"{page.name} links to missing {target}"
            if anchor:
                assert linked.suffix == ".md", f"{page.name}: #{anchor} in a link to {path}"
                anchors = heading_anchors(linked.read_text(encoding="utf-8"))
                assert anchor in anchors, f"{page.name} links to {target}: no such heading"
                checked += 1
    assert checked, "no link with an #anchor was checked"
