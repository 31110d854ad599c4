"""What a `mlops run` process imports: a path does not pay for what it does not use.

Checked in a fresh process with `sys.modules` after the command: a run that
trains converts the ONNX twin and renders its plots in the side process (the
pipeline process never imports skl2onnx or matplotlib, and the twin is still
checked and attached); a run that reuses its training imports neither
scikit-learn, skops, skl2onnx, matplotlib nor pandera (the file's content is
registered, hence validated, already). scipy.special comes before MLflow, in
`mlops run` and in MLOpsPython's entry script (skops' first import is then
cheap; see ml_service.startup.import_ahead_of_mlflow).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mlflow.tracking import MlflowClient

from ml_service.registry.tags import VersionTag
from ml_service.settings import load_env
from tests.conftest import DIABETES_CSV

HEAVY = ("sklearn", "skops", "skl2onnx", "matplotlib", "onnxruntime", "pandera")

PROBE = """
import json, sys
from ml_service.cli import main
try:
    main(["run", "--data-file-path", sys.argv[1]])
except SystemExit as exit:
    if exit.code:
        raise
names = list(sys.modules)
print(json.dumps(names.index("scipy.special") < names.index("mlflow")))
print(json.dumps(sorted(n for n in {heavy!r} if n in sys.modules)))
"""


def _run_and_list_imports(data: Path, env: dict[str, str]) -> list[str]:
    """The heavy modules a `mlops run` process imported (it must import scipy.special first)."""
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), str(data)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    *_, scipy_special_first, heavy = completed.stdout.strip().splitlines()
    assert json.loads(scipy_special_first) is True
    return list(json.loads(heavy))


def test_training_run_leaves_conversion_and_plots_to_the_side_process(
    subprocess_env: dict[str, str],
) -> None:
    imported = _run_and_list_imports(DIABETES_CSV, subprocess_env)
    # Training and logging the model need scikit-learn and skops here; not the rest.
    assert "skl2onnx" not in imported and "matplotlib" not in imported
    assert "sklearn" in imported and "skops" in imported
    assert "pandera" in imported  # a new file is validated
    client = MlflowClient(tracking_uri=load_env().tracking_uri)
    (version,) = client.search_model_versions("name = 'diabetes_regression_model'")
    assert version.tags[VersionTag.ONNX_TWIN] == "onnx/model.onnx"
    assert float(version.tags[VersionTag.ONNX_MAX_ABS_DIFF]) < 1e-9

    reused = _run_and_list_imports(DIABETES_CSV, subprocess_env)
    assert reused == []


def test_the_mlopspython_entry_script_imports_scipy_special_before_mlflow() -> None:
    probe = (
        "import json, sys, ml_service.pipelines.run_train_pipeline; names = list(sys.modules); "
        "print(json.dumps(names.index('scipy.special') < names.index('mlflow')))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=300
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout.strip().splitlines()[-1]) is True
