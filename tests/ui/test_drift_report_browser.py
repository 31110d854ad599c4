"""The drift report opens in headless Chromium with the network cut off: plots, table, verdict.

Same browser setup as the MLflow UI test (Debian's /usr/bin/chromium through
Playwright; a missing browser fails, it is not skipped). UPDATE_DOCS_IMAGES=1
(`make screenshots`) copies the screenshot into docs/images/drift-report.png.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from diabetes_regression.parameters import load_parameters
from ml_service.monitoring.drift import compare
from ml_service.monitoring.report import ReportContext, write_report
from tests.ui.test_mlflow_ui_browser import CHROMIUM, CHROMIUM_FLAGS, DOCS_IMAGES, TIMEOUT_MS

FEATURES = ["AGE", "SEX", "BMI", "BP", "S1", "S2", "S3", "S4", "S5", "S6"]


def test_the_drift_report_renders_offline(tmp_path: Path, diabetes_frame: pd.DataFrame) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: run `make browser` or set MLOPS_CHROMIUM")
    current = diabetes_frame.sample(n=300, replace=True, random_state=2).reset_index(drop=True)
    current["BMI"] += 0.9 * diabetes_frame["BMI"].std()
    result = compare(diabetes_frame, current, FEATURES, load_parameters().monitoring)
    context = ReportContext(
        model="diabetes_regression_model",
        model_version="1",
        reference="diabetes_ds:1",
        since=None,
        until=None,
        created_at="2026-11-27T20:00:00+00:00",
    )
    html_path, _ = write_report(result, context, tmp_path / "report")

    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            page.on("request", lambda request: requests.append(request.url))
            page.goto(html_path.as_uri())
            assert page.locator("p.verdict").inner_text() == "DRIFT"
            assert page.locator("tr.drifted td").first.inner_text() == "BMI"
            assert page.locator("figure svg").count() == len(FEATURES)
            box = page.locator("figure svg").first.bounding_box()
            assert box is not None and box["width"] > 200 and box["height"] > 150
            screenshot = tmp_path / "drift-report.png"
            page.screenshot(path=str(screenshot), full_page=False)
        finally:
            browser.close()
    assert [url for url in requests if not url.startswith("file://")] == []
    assert screenshot.stat().st_size > 10_000
    if os.environ.get("UPDATE_DOCS_IMAGES") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(screenshot, DOCS_IMAGES / "drift-report.png")
