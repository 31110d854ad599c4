"""`mlops package`: a self-contained image build context for one model version.

The context holds `deploy/Dockerfile`, the platform's source with its lock
file, the model's files copied from the registry (pinned by version, never an
alias) and `endpoint.json`, the fixed desired state the image serves.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import ml_service
from ml_service.errors import SettingsError
from ml_service.settings import Env

SOURCE_ROOT = Path(ml_service.__file__).resolve().parent.parent
DOCKERFILE = SOURCE_ROOT / "deploy" / "Dockerfile"
PROJECT_FILES = ("pyproject.toml", "requirements.lock", "README.md")
STATE_FILE = "endpoint.json"


def package(env: Env, model_uri: str, out: Path, deployment: str = "blue") -> Path:
    """Write the build context of `model_uri` into the new folder `out`; returns the model folder.

    The image serves the model as `deployment` of its endpoint (the name a request
    may pin with `azureml-model-deployment`, e.g. the Azure ML deployment it runs as).
    Written beside `out` first and renamed into place, so a failure leaves nothing.

    Raises:
        SettingsError: `out` exists and is not empty, or no source checkout is at hand.
        ModelLoadError: the model cannot be resolved.
    """
    from ml_service.models.resolve import resolve_model_uri

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SettingsError(f"--out {out}: the folder exists and is not empty")
    missing = [
        name for name in (*PROJECT_FILES, "deploy/Dockerfile") if not (SOURCE_ROOT / name).is_file()
    ]
    if missing:
        raise SettingsError(f"packaging needs the project's source checkout; missing {missing}")
    resolved = resolve_model_uri(model_uri, env)
    if not resolved.version:
        raise SettingsError(f"--model {model_uri}: give a registered model (models:/NAME/VERSION)")
    folder = f"{resolved.name}-{resolved.version}"
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        shutil.copy2(DOCKERFILE, staging / "Dockerfile")
        for name in PROJECT_FILES:
            shutil.copy2(SOURCE_ROOT / name, staging / name)
        shutil.copytree(
            SOURCE_ROOT / "ml_service",
            staging / "ml_service",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        shutil.copytree(resolved.local_dir, staging / "model" / folder)
        state = {
            "deployments": [
                {
                    "name": deployment,
                    "model_name": resolved.name,
                    "model_version": resolved.version,
                    "model_uri": f"model/{folder}",
                    "traffic": 100,
                }
            ]
        }
        (staging / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out / "model" / folder
