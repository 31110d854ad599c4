"""The layout's rules, checked on the source: who may import whom (docs/architecture.md)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PLATFORM = REPO_ROOT / "ml_service"


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PLATFORM.rglob("*.py")):
        parts = path.relative_to(REPO_ROOT).with_suffix("").parts
        yield ".".join(p for p in parts if p != "__init__"), path


def _imports(path: Path, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = dict(_modules())


def _violations(
    source_prefix: str, forbidden: tuple[str, ...], top_level_only: bool = False
) -> list[str]:
    return [
        f"{module} imports {imported}"
        for module, path in MODULES.items()
        if module == source_prefix or module.startswith(source_prefix + ".")
        if not module.endswith("__main__")
        for imported in sorted(_imports(path, top_level_only))
        if any(imported == f or imported.startswith(f + ".") for f in forbidden)
    ]


def test_the_platform_never_imports_the_model_package() -> None:
    # It finds the model package through SOURCES_DIR_TRAIN (ml_service.project.package).
    assert _violations("ml_service", ("diabetes_regression",)) == []


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        # Loading and scoring a model is shared by serving, batch and score.py: it depends
        # on none of them.
        ("ml_service.models", ("ml_service.serving", "ml_service.pipelines", "ml_service.cli")),
        ("ml_service.serving", ("ml_service.pipelines", "ml_service.cli")),
        ("ml_service.batch", ("ml_service.serving", "ml_service.pipelines", "ml_service.cli")),
        ("ml_service.data", ("ml_service.pipelines", "ml_service.serving", "ml_service.cli")),
        ("ml_service.registry", ("ml_service.pipelines", "ml_service.serving", "ml_service.cli")),
        ("ml_service.tracking", ("ml_service.pipelines", "ml_service.serving", "ml_service.cli")),
        ("ml_service.pipelines", ("ml_service.serving", "ml_service.cli")),
        ("ml_service.team", ("ml_service.pipelines", "ml_service.serving", "ml_service.cli")),
        ("ml_service.deploy", ("ml_service.pipelines", "ml_service.cli")),
        # Monitoring reads what serving collected from the datastore, never the service itself.
        ("ml_service.monitoring", ("ml_service.serving", "ml_service.cli")),
    ],
)
def test_lower_layers_do_not_import_higher_ones(package: str, forbidden: tuple[str, ...]) -> None:
    assert _violations(package, forbidden) == []


@pytest.mark.parametrize("package", ["ml_service.models", "ml_service.serving"])
def test_scoring_code_imports_mlflow_only_when_it_needs_it(package: str) -> None:
    # A scoring process that never needs MLflow's API never pays its import.
    assert (
        _violations(
            package, ("mlflow", "sklearn", "skops", "skl2onnx", "onnx"), top_level_only=True
        )
        == []
    )
