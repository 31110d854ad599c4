"""`mlops bootstrap`: a new model project from the current model package (the template).

    mlops bootstrap --name my_project [--output DIR]

creates `DIR/my_project/` holding the package `my_project/` (the template, by
default diabetes_regression, with every mention of its module name replaced), a
`.env` whose settings point the pipeline at it (SOURCES_DIR_TRAIN, MODEL_NAME,
DATASET_NAME, ...) and the template's sample data (its `sample_data` module),
so `cd my_project && mlops run --data-file-path data/sample.csv` trains,
evaluates and registers at once. An existing folder is never touched. What to
rename is computed without I/O (`plan_project`); `write_project` writes.
"""

from __future__ import annotations

import importlib
import io
import keyword
import re
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from ml_service.errors import MlopsError
from ml_service.project.package import ModelPackage

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_TEXT_SUFFIXES = {".py", ".json", ".yml", ".yaml", ".md", ".txt", ".toml", ".cfg"}


class BootstrapError(MlopsError):
    """The project name is unusable, or the target folder already exists."""


@dataclass(frozen=True)
class ProjectPlan:
    """Every file of a new project: relative path → bytes."""

    name: str
    files: dict[str, bytes]


def check_name(name: str) -> None:
    """A project name must be a new, lower-case Python package name.

    Raises:
        BootstrapError: naming the problem and what a valid name looks like.
    """
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise BootstrapError(
            f"invalid project name {name!r}: use a lower-case Python package name "
            "such as my_project (letters, digits, '_', starting with a letter)"
        )
    if find_spec(name) is not None:
        raise BootstrapError(
            f"project name {name!r} is already an importable module; choose another name"
        )


def settings_for(name: str) -> dict[str, str]:
    """The settings a bootstrapped project needs, by MLOpsPython variable name."""
    return {
        "SOURCES_DIR_TRAIN": name,
        "EXPERIMENT_NAME": name,
        "MODEL_NAME": f"{name}_model",
        "DATASET_NAME": f"{name}_ds",
        "TRAINING_PIPELINE_NAME": f"{name}-Training-Pipeline",
    }


def plan_project(
    name: str, template: dict[str, bytes], sample_data: bytes, template_name: str
) -> ProjectPlan:
    """The new project's files from the template package's files; pure.

    Args:
        name: The new package name (checked by `check_name`).
        template: The template package's files, relative path → bytes.
        sample_data: Data the pipeline can train on at once.
        template_name: The template package's module name, replaced by `name`.
    """
    pattern = re.compile(rf"\b{re.escape(template_name)}\b")
    files: dict[str, bytes] = {}
    for relative, content in sorted(template.items()):
        target = f"{name}/{relative}"
        if Path(relative).suffix in _TEXT_SUFFIXES:
            content = pattern.sub(name, content.decode("utf-8")).encode("utf-8")
        files[target] = content
    env_lines = [
        f"# Settings of the {name} project; see docs/configuration.md for every variable.",
        *(f"{key}={value}" for key, value in settings_for(name).items()),
    ]
    files[".env"] = ("\n".join(env_lines) + "\n").encode()
    files["data/sample.csv"] = sample_data
    files["README.md"] = _readme(name, template_name).encode()
    return ProjectPlan(name=name, files=files)


def _readme(name: str, template_name: str) -> str:
    settings = settings_for(name)
    return f"""# {name}

Bootstrapped from the {template_name} template by `mlops bootstrap --name {name}`.

Run the pipeline from this folder (it reads `.env` and keeps its workspace in `.mlops/`):

    mlops run --data-file-path data/sample.csv
    mlops model lineage {settings["MODEL_NAME"]}@champion

Then make it yours: `{name}/parameters.json` (data contract, training, evaluation),
`{name}/training/train.py` (split, fit, score), and replace `data/sample.csv` with your data.
See docs/bring-your-own-model.md in mlops-poc-train.
"""


def read_template(package_dir: Path) -> dict[str, bytes]:
    """The template package's files, without caches."""
    return {
        path.relative_to(package_dir).as_posix(): path.read_bytes()
        for path in sorted(package_dir.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def write_project(plan: ProjectPlan, destination: Path) -> None:
    """Write the planned files under `destination`, which must not exist yet.

    Raises:
        BootstrapError: `destination` already exists.
    """
    try:
        destination.mkdir(parents=True, exist_ok=False)
    except FileExistsError as err:
        raise BootstrapError(
            f"{destination} already exists; remove it or choose another --name or --output"
        ) from err
    for relative, content in plan.files.items():
        path = destination / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def sample_csv(template: ModelPackage) -> bytes:
    """The template's sample data as CSV, from its `sample_data.sample_frame()`.

    Raises:
        BootstrapError: the template package has no sample data.
    """
    try:
        module = importlib.import_module(f"{template.name}.sample_data")
    except ModuleNotFoundError as err:
        raise BootstrapError(
            f"the template package {template.name} has no sample_data module; add one with "
            "a sample_frame() returning a data frame its pipeline can train on"
        ) from err
    buffer = io.StringIO()
    module.sample_frame().to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def bootstrap(name: str, output: Path, template: ModelPackage) -> Path:
    """Create `output/name/` from the template package; returns the project folder."""
    check_name(name)
    plan = plan_project(
        name, read_template(template.directory), sample_csv(template), template.name
    )
    destination = output / name
    write_project(plan, destination)
    return destination
