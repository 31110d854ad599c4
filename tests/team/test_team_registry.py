"""The project's registry on PostgreSQL: migrations, locks and concurrent writers.

No tracking server here: the database alone, reached as MLOPS_REGISTRY_URI.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

import ml_service.deploy.state  # noqa: F401  (its tables join the registry's metadata)
from diabetes_regression.parameters import load_parameters
from ml_service.data.datasets import DatasetRegistry
from ml_service.pipelines.definition import PipelineSpec, StepSpec
from ml_service.pipelines.published import find, publish
from ml_service.registry.database import VERSION_TABLE, engine_for, metadata, model_lock
from tests.team.team_support import DIABETES_CSV, pg_url

pytestmark = pytest.mark.team

FORK = multiprocessing.get_context("fork")


def _in_fresh_process(url: str) -> None:
    # A forked child must not reuse the parent's pooled connections.
    engine_for.cache_clear()


def _migrate(url: str, barrier) -> None:  # type: ignore[no-untyped-def]
    _in_fresh_process(url)
    barrier.wait()
    engine_for(url)


def _register(url: str, datastore: str, path: str, barrier, results) -> None:  # type: ignore[no-untyped-def]
    _in_fresh_process(url)
    registry = DatasetRegistry(engine_for(url), datastore)
    barrier.wait()
    version, created = registry.register("shared", path, load_parameters().data)
    results.put((version.version, created))


def _publish(url: str, barrier, results) -> None:  # type: ignore[no-untyped-def]
    _in_fresh_process(url)
    engine = engine_for(url)
    spec = PipelineSpec(
        name="p", version="1", steps=[StepSpec(id="a", display_name="A", module="m")]
    )
    barrier.wait()
    published, created = publish(engine, spec)
    results.put((published.id, created))


def _run_all(target, args_for: list[tuple]) -> list:  # type: ignore[no-untyped-def,type-arg]
    results = FORK.Queue()
    barrier = FORK.Barrier(len(args_for))
    processes = [FORK.Process(target=target, args=(*a, barrier, results)) for a in args_for]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * len(processes)
    return [results.get(timeout=5) for _ in processes]


def test_migrations_create_our_tables_with_our_own_version_table(pg_database: str) -> None:
    url = pg_url(pg_database)
    engine_for(url)
    engine_for.cache_clear()
    engine_for(url)  # a second start is a no-op
    engine = create_engine(url)
    tables = set(inspect(engine).get_table_names())
    assert tables == {*metadata.tables, VERSION_TABLE}
    assert "alembic_version" not in tables  # MLflow's is left to MLflow
    with engine.connect() as connection:
        assert connection.execute(text(f"select version_num from {VERSION_TABLE}")).all() == [
            ("0004",)
        ]
    engine.dispose()
    engine_for(url).dispose()
    engine_for.cache_clear()


def test_eight_processes_starting_at_once_migrate_once(pg_database: str) -> None:
    url = pg_url(pg_database)
    results = FORK.Queue()
    barrier = FORK.Barrier(8)
    processes = [FORK.Process(target=_migrate, args=(url, barrier)) for _ in range(8)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * 8
    results.close()
    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text(f"select count(*) from {VERSION_TABLE}")).scalar() == 1
    engine.dispose()


def test_a_workspace_made_before_migrations_keeps_its_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    legacy = create_engine(url)
    metadata.tables["mlops_published_pipelines"].create(legacy)
    metadata.tables["mlops_dataset_versions"].create(legacy)
    with legacy.begin() as connection:
        connection.execute(
            text(
                "insert into mlops_published_pipelines values "
                "('id1', 'p', '1', 'd', '{}', 'active', '2026-01-01')"
            )
        )
    legacy.dispose()
    engine = engine_for(url)
    with engine.connect() as connection:
        assert connection.execute(text("select id from mlops_published_pipelines")).all() == [
            ("id1",)
        ]
        assert connection.execute(text(f"select * from {VERSION_TABLE}")).all() == [("0004",)]
    assert "mlops_locks" in inspect(engine).get_table_names()


@pytest.mark.slow
def test_eight_concurrent_registrations_of_one_file_give_one_version(
    pg_database: str, tmp_path: Path
) -> None:
    url = pg_url(pg_database)
    results = _run_all(
        _register, [(url, str(tmp_path / "store"), str(DIABETES_CSV)) for _ in range(8)]
    )
    assert sorted(results) == [(1, False)] * 7 + [(1, True)]


@pytest.mark.slow
def test_eight_concurrent_registrations_of_different_files_give_eight_versions(
    pg_database: str, tmp_path: Path
) -> None:
    lines = DIABETES_CSV.read_text().splitlines()
    files = []
    for number in range(8):
        path = tmp_path / f"part{number}.csv"
        # Same distribution, different content: drop a different row from each.
        path.write_text("\n".join(lines[:2] + lines[3 + number :] + lines[2 : 2 + number]))
        files.append(path)
    url = pg_url(pg_database)
    results = _run_all(_register, [(url, str(tmp_path / "store"), str(f)) for f in files])
    assert sorted(results) == [(n, True) for n in range(1, 9)]


def test_eight_concurrent_publishes_leave_one_active_pipeline(pg_database: str) -> None:
    url = pg_url(pg_database)
    results = _run_all(_publish, [(url,) for _ in range(8)])
    assert len({pipeline_id for pipeline_id, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * 7 + [True]
    assert find(engine_for(url), "p", "1").id == results[0][0]


def test_model_lock_makes_the_second_holder_wait(pg_database: str) -> None:
    engine = engine_for(pg_url(pg_database))
    events: list[tuple[str, float]] = []
    holding = threading.Event()

    def first() -> None:
        with model_lock(engine, "m"):
            holding.set()
            time.sleep(1.0)
            events.append(("first released", time.monotonic()))

    def second() -> None:
        holding.wait()
        with model_lock(engine, "m"):
            events.append(("second acquired", time.monotonic()))
        with model_lock(engine, "other-model"):
            events.append(("other model", time.monotonic()))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [name for name, _ in events] == ["first released", "second acquired", "other model"]
