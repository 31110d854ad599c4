"""The dataset registry on a real SQLite file and datastore folder, across processes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pandas as pd
import pytest

from diabetes_regression.parameters import load_parameters
from ml_service.data import datasets
from ml_service.data.datasets import DatasetRegistry, parse_dataset_ref
from ml_service.errors import DatasetNotFoundError, DataValidationError, MlopsError
from ml_service.settings import load_env
from tests.conftest import BAD_EXAMPLES, DIABETES_CSV

CHECKS = load_parameters().data


@pytest.fixture
def registry(workspace: Path) -> DatasetRegistry:
    return DatasetRegistry.from_env(load_env())


def _datastore_files(workspace: Path) -> list[Path]:
    root = workspace / "datastore"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_register_creates_an_immutable_version(registry: DatasetRegistry, workspace: Path) -> None:
    version, created = registry.register("diabetes_ds", DIABETES_CSV, CHECKS)
    assert created
    assert (version.name, version.version, version.rows) == ("diabetes_ds", 1, 442)
    assert len(version.digest) == 64
    assert version.schema["BMI"] == "float64"
    assert version.stats["Y"]["min"] == 25.0
    stored = _datastore_files(workspace)
    assert len(stored) == 1 and version.digest in str(stored[0])
    assert registry.load(version).equals(pd.read_csv(DIABETES_CSV))


def test_identical_content_returns_the_existing_version(
    registry: DatasetRegistry, tmp_path: Path
) -> None:
    first, _ = registry.register("diabetes_ds", DIABETES_CSV, CHECKS)
    copy = tmp_path / "copy_of_diabetes.csv"
    copy.write_bytes(DIABETES_CSV.read_bytes())
    again, created = registry.register("diabetes_ds", copy, CHECKS)
    assert not created
    assert again.version == first.version
    assert [v.version for v in registry.list_versions("diabetes_ds")] == [1]


def test_content_already_registered_is_not_parsed_again(
    registry: DatasetRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = registry.register("diabetes_ds", DIABETES_CSV, CHECKS)

    def no_parsing(path: object) -> pd.DataFrame:
        raise AssertionError(f"{path} was parsed again")

    monkeypatch.setattr(datasets, "read_data_file", no_parsing)
    again, created = registry.register("diabetes_ds", DIABETES_CSV, CHECKS)
    assert (again.version, created) == (first.version, False)
    # A file the registry has not seen is still read and checked.
    with pytest.raises(AssertionError, match="parsed again"):
        registry.register("diabetes_ds", BAD_EXAMPLES / "missing_column.csv", CHECKS)
    # Neither is a file of a type it cannot read accepted for its digest alone.
    with pytest.raises(DataValidationError, match="unsupported file type"):
        registry.register("diabetes_ds", Path(__file__), CHECKS)


def test_new_content_gets_the_next_version(
    registry: DatasetRegistry, small_subset_csv: Path
) -> None:
    registry.register("diabetes_ds", small_subset_csv, CHECKS)
    second, created = registry.register("diabetes_ds", DIABETES_CSV, CHECKS)
    assert created and second.version == 2
    assert registry.get("diabetes_ds").version == 2
    assert registry.get("diabetes_ds", "1").rows == 60
    assert registry.get("diabetes_ds", 2).rows == 442
    other, _ = registry.register("other", small_subset_csv, CHECKS)
    assert other.version == 1
    assert [v.ref for v in registry.list_versions()] == [
        "diabetes_ds:1",
        "diabetes_ds:2",
        "other:1",
    ]


def test_lookup_errors_say_what_exists(registry: DatasetRegistry) -> None:
    with pytest.raises(DatasetNotFoundError, match="has no versions; register one"):
        registry.get("diabetes_ds")
    registry.register("diabetes_ds", DIABETES_CSV, CHECKS)
    with pytest.raises(DatasetNotFoundError, match="has no version 3; versions: 1"):
        registry.get("diabetes_ds", "3")
    with pytest.raises(DatasetNotFoundError, match="invalid dataset version 'x'"):
        registry.get("diabetes_ds", "x")


@pytest.mark.parametrize("name", ["", "a/b", "a:b", " padded "])
def test_bad_names_are_refused(registry: DatasetRegistry, name: str) -> None:
    with pytest.raises(MlopsError, match="invalid dataset name"):
        registry.register(name, DIABETES_CSV, CHECKS)


def test_parse_dataset_ref() -> None:
    assert parse_dataset_ref("d") == ("d", "latest")
    assert parse_dataset_ref("d:3") == ("d", "3")
    with pytest.raises(DatasetNotFoundError):
        parse_dataset_ref(":3")


@pytest.mark.parametrize("bad", sorted(p.name for p in BAD_EXAMPLES.iterdir()))
def test_bad_file_leaves_nothing_behind(
    registry: DatasetRegistry, workspace: Path, bad: str
) -> None:
    if bad == "shifted_distribution.csv":
        registry.register("diabetes_ds", DIABETES_CSV, CHECKS)
    before = (registry.list_versions(), _datastore_files(workspace))
    with pytest.raises(DataValidationError):
        registry.register("diabetes_ds", BAD_EXAMPLES / bad, CHECKS)
    assert (registry.list_versions(), _datastore_files(workspace)) == before


def _register_in_process(args: tuple[str, str, str]) -> tuple[int, bool]:
    workspace, name, path = args
    import os

    os.environ["MLOPS_WORKSPACE"] = workspace
    registry = DatasetRegistry.from_env(load_env())
    version, created = registry.register(name, path, CHECKS, check_distribution=False)
    return version.version, created


def _concurrently(jobs: list[tuple[str, str, str]]) -> list[tuple[int, bool]]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(len(jobs)) as pool:
        return pool.map(_register_in_process, jobs)


def test_concurrent_registrations_of_different_files_get_distinct_versions(
    workspace: Path, tmp_path: Path, diabetes_frame: pd.DataFrame
) -> None:
    paths = []
    for seed in range(4):
        path = tmp_path / f"sample_{seed}.csv"
        diabetes_frame.sample(n=100, random_state=seed).to_csv(path, index=False)
        paths.append(str(path))
    results = _concurrently([(str(workspace), "diabetes_ds", p) for p in paths])
    assert sorted(v for v, _ in results) == [1, 2, 3, 4]
    assert all(created for _, created in results)
    registry = DatasetRegistry.from_env(load_env())
    versions = registry.list_versions("diabetes_ds")
    assert [v.version for v in versions] == [1, 2, 3, 4]
    assert len({v.digest for v in versions}) == 4


def test_concurrent_registrations_of_the_same_file_give_one_version(workspace: Path) -> None:
    results = _concurrently([(str(workspace), "diabetes_ds", str(DIABETES_CSV))] * 4)
    assert {v for v, _ in results} == {1}
    assert sum(created for _, created in results) == 1
    registry = DatasetRegistry.from_env(load_env())
    assert len(registry.list_versions("diabetes_ds")) == 1
    assert len(_datastore_files(workspace)) == 1
