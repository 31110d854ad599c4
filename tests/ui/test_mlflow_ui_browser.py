"""The MLflow UI, opened by `mlops ui` after a pipeline run, shows runs, the champion and lineage.

Drives Debian's headless Chromium (/usr/bin/chromium, installed by `make browser`)
with Playwright; never a downloaded browser. A missing browser fails the test:
it is not skipped. UPDATE_DOCS_IMAGES=1 (`make screenshots`) copies the
screenshots into docs/images/.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from ml_service.registry.tags import RunTag
from ml_service.settings import Env
from ml_service.tracking.ui import ui_command
from tests.conftest import REPO_ROOT, free_port

CHROMIUM = Path(os.environ.get("MLOPS_CHROMIUM", "/usr/bin/chromium"))
# What a root, network-less sandbox needs: no setuid sandbox, no GPU, no calls home.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESCRIPTION = "UI check: a first champion, trained on the bundled data"
MODEL = "diabetes_regression_model"
DOCS_IMAGES = REPO_ROOT / "docs" / "images"
TIMEOUT_MS = 60_000


@dataclass(frozen=True)
class RunningUI:
    """The UI server of a workspace holding one finished pipeline run."""

    base_url: str
    experiment_id: str
    parent_run_id: str
    child_names: list[str]
    client: MlflowClient


def _wait_until_healthy(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"mlflow ui exited with {server.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"mlflow ui did not answer on {url} within 90 s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def running_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningUI]:
    root = tmp_path_factory.mktemp("ui")
    workspace = root / "ws"
    # The pipeline runs in a process of its own, as a person runs it, so no MLflow
    # state of this process leaks into other tests.
    # Start from the defaults: no setting a developer exported (MODEL_NAME, ...) leaks in.
    settings = {name.upper() for name in Env.model_fields}
    env_vars = {
        k: v
        for k, v in os.environ.items()
        if k not in settings and not k.startswith(("MLOPS_", "MLFLOW_"))
    }
    completed = subprocess.run(
        [
            str(Path(sys.executable).with_name("mlops")),
            "run",
            "--data-file-path",
            str(REPO_ROOT / "data" / "diabetes.csv"),
            "--description",
            DESCRIPTION,
        ],
        cwd=root,
        env={**env_vars, "MLOPS_WORKSPACE": str(workspace)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    env = Env(mlops_workspace=workspace, mlflow_tracking_uri=None)
    uri = f"sqlite:///{workspace / 'mlflow.db'}"
    client = MlflowClient(uri, uri)
    experiment = client.get_experiment_by_name(env.experiment_name)
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if RunTag.PARENT_RUN_ID not in r.data.tags]
    children = [r.info.run_name for r in runs if RunTag.PARENT_RUN_ID in r.data.tags]

    port = free_port()
    log = root / "mlflow-ui.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            ui_command(env, port=port),
            cwd=root,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the workers stop with it
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(base_url, server, log)
        yield RunningUI(base_url, experiment.experiment_id, parent.info.run_id, children, client)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=20)


@pytest.fixture(scope="module")
def page(running_ui: RunningUI) -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: the UI browser test needs Debian's Chromium; "
            "run `make browser` (apt-get install chromium) or set MLOPS_CHROMIUM"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            browser_page = browser.new_page(viewport={"width": 1440, "height": 860})
            browser_page.set_default_timeout(TIMEOUT_MS)
            yield browser_page
        finally:
            browser.close()


def _close_assistant(page) -> None:  # type: ignore[no-untyped-def]
    """Fold away MLflow's assistant side panel so the screenshot shows the runs."""
    close = page.get_by_role("button", name="Close")
    if close.count():
        close.first.click()


def _screenshot(page, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
    if os.environ.get("UPDATE_DOCS_IMAGES") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMAGES / name)


def test_experiment_shows_the_pipeline_run_and_its_step_runs(
    running_ui: RunningUI,
    page,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    page.goto(f"{running_ui.base_url}/#/experiments/{running_ui.experiment_id}/runs")
    parent_name = running_ui.client.get_run(running_ui.parent_run_id).info.run_name
    page.get_by_text(parent_name).first.wait_for()
    page.get_by_text("mlopspython").first.wait_for()
    # The parent's row folds its child runs; the expander sits in the run name cell.
    page.locator('button[data-component-id*="runnamecellrenderer"]').first.click()
    for step in ("Train model", "Evaluate", "Register"):
        assert step in running_ui.child_names
        page.get_by_text(step, exact=True).first.wait_for()
    _close_assistant(page)
    _screenshot(page, tmp_path, "mlflow-ui-pipeline-runs.png")


def test_parent_run_shows_its_description_and_code_version(
    running_ui: RunningUI,
    page,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    page.goto(
        f"{running_ui.base_url}/#/experiments/{running_ui.experiment_id}"
        f"/runs/{running_ui.parent_run_id}"
    )
    page.get_by_text(DESCRIPTION).first.wait_for()
    commit = running_ui.client.get_run(running_ui.parent_run_id).data.tags["mlops.git_commit"]
    page.get_by_text(commit[:7]).first.wait_for()
    _close_assistant(page)
    _screenshot(page, tmp_path, "mlflow-ui-run-description.png")


def test_registered_model_shows_champion_alias_and_lineage_tags(
    running_ui: RunningUI,
    page,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    version = running_ui.client.get_model_version_by_alias(MODEL, "champion")
    page.goto(f"{running_ui.base_url}/#/models/{MODEL}/versions/{version.version}")
    page.get_by_text("champion").first.wait_for()
    for tag in ("dataset_name", "dataset_version", "dataset_digest", "git_commit", "run_id"):
        page.get_by_text(tag, exact=True).first.wait_for()
        page.get_by_text(version.tags[tag], exact=True).first.wait_for()
    page.get_by_text(running_ui.parent_run_id).first.wait_for()  # pipeline_run_id
    _close_assistant(page)
    _screenshot(page, tmp_path, "mlflow-ui-champion-lineage.png")
