"""Team mode benchmark: `mlops run` against a PostgreSQL-backed server vs SQLite, and
how registry queries and the pipeline steps scale with 10,000 runs / 1,000 versions.

    .venv/bin/python benchmarks/bench_team.py [--runs 10000] [--versions 1000] [--repeat 3]

It creates a throw-away database on the local PostgreSQL (MLOPS_BENCH_PG, default
postgresql://postgres@127.0.0.1:5432/postgres), starts `mlops server start` on a
free loopback port, and stops/drops both at the end. Work files go to
benchmarks/.work/. The store is seeded straight through MLflow's SQL stores
(a benchmark fixture, not a test), with runs shaped like the pipeline's own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "benchmarks" / ".work" / "team"
MLOPS = str(Path(sys.executable).with_name("mlops"))
DATA = REPO / "data" / "diabetes.csv"
MODEL = "diabetes_regression_model"
EXPERIMENT = "mlopspython"
ADMIN = os.environ.get("MLOPS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_env(workspace: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "MLFLOW_"))}
    env.update(MLOPS_WORKSPACE=str(workspace), **extra)
    return env


def timed_run(env: dict[str, str]) -> dict[str, float]:
    """Wall time of one `mlops run`, and the per-step times it prints."""
    started = time.perf_counter()
    done = subprocess.run(
        [MLOPS, "run", "--data-file-path", str(DATA)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"mlops run failed: {done.stderr}")
    steps = re.findall(r"\[\d/\d\] (.+)\n(?:.*\n)*?\s+done in ([\d.]+) s", done.stderr)
    pipeline = float(re.search(r"(completed|cancelled) in ([\d.]+) s", done.stdout).group(2))
    return {"wall": wall, "pipeline": pipeline, **{name: float(s) for name, s in steps}}


def median_of(samples: list[dict[str, float]], key: str) -> float:
    values = [s[key] for s in samples if key in s]
    return statistics.median(values) if values else float("nan")


def time_call(call, repeat: int = 30) -> float:  # type: ignore[no-untyped-def]
    """Median milliseconds of `call()` over `repeat` calls (after one warm-up)."""
    call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def seed(db_url: str, runs: int, versions: int) -> None:
    """Add `runs` finished runs and `versions` model versions shaped like the pipeline's."""
    import mlflow
    from mlflow.entities import Metric, Param, RunStatus, RunTag
    from mlflow.entities.model_registry import ModelVersionTag
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

    # MLflow's registry store resolves `models:/m-...` sources through the
    # global tracking URI.
    mlflow.set_tracking_uri(db_url)
    tracking = TrackingStore(db_url, "mlflow-artifacts:/")
    registry = RegistryStore(db_url)
    experiment_id = tracking.get_experiment_by_name(EXPERIMENT).experiment_id
    champion = registry.get_model_version_by_alias(MODEL, "champion")
    host = socket.gethostname()
    now = int(time.time() * 1000)

    def one(number: int) -> str:
        run = tracking.create_run(
            experiment_id, "bench", now + number, [RunTag("mlops.step", "train")], "seed"
        )
        run_id = run.info.run_id
        tracking.log_batch(
            run_id,
            metrics=[Metric(m, 3000.0 + number % 97, now, 0) for m in ("mse", "rmse", "mae", "r2")],
            params=[Param("alpha", "0.4"), Param("dataset_version", str(number))],
            tags=[
                RunTag("mlops.train_cache_key", uuid.uuid4().hex),
                RunTag("mlops.host", host),
                RunTag("mlops.pid", "1"),
                RunTag("mlflow.parentRunId", uuid.uuid4().hex),
            ],
        )
        tracking.update_run_info(run_id, RunStatus.FINISHED, now + number + 1, None)
        return run_id

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        run_ids = list(pool.map(one, range(runs)))
    print(f"  seeded {runs} runs in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    started = time.perf_counter()
    latest = None
    for number in range(versions):
        # Same model files as the real champion, so any version can be loaded.
        latest = registry.create_model_version(
            MODEL,
            champion.source,
            run_id=run_ids[number % len(run_ids)],
            tags=[ModelVersionTag("mse", str(3000.0 + number % 97))],
            model_id=getattr(champion, "model_id", None),
        )
    registry.set_registered_model_alias(MODEL, "champion", latest.version)
    print(f"  seeded {versions} versions in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    tracking.engine.dispose()
    registry.engine.dispose()


def registry_timings(tracking_uri: str) -> dict[str, float]:
    """Answer times, through the server, of the questions the pipeline and users ask."""
    from mlflow.tracking import MlflowClient

    from ml_service.pipelines.stale_runs import fail_dead_runs

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    count = len(client.search_model_versions(f"name = '{MODEL}'", max_results=10000))
    return {
        "model versions": count,
        "current champion (get by alias), ms": time_call(
            lambda: client.get_model_version_by_alias(MODEL, "champion")
        ),
        "list versions, newest 100, ms": time_call(
            lambda: client.search_model_versions(
                f"name = '{MODEL}'", max_results=100, order_by=["version_number DESC"]
            )
        ),
        "list versions, all, ms": time_call(
            lambda: client.search_model_versions(f"name = '{MODEL}'", max_results=10000),
            repeat=5,
        ),
        "stale-run sweep (RUNNING of this host), ms": time_call(
            lambda: fail_dead_runs(client, experiment_id), repeat=10
        ),
        "train cache look-up (tag search), ms": time_call(
            lambda: client.search_runs(
                [experiment_id],
                "tags.`mlops.train_cache_key` = 'none' and attributes.status = 'FINISHED'",
                max_results=1,
            ),
            repeat=10,
        ),
    }


def database_timings(db_url: str) -> dict[str, float]:
    """The same questions asked of the database directly (MLflow's SQL stores, no HTTP)."""
    from mlflow.entities import ViewType
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

    tracking = TrackingStore(db_url, "mlflow-artifacts:/")
    registry = RegistryStore(db_url)
    experiment_id = tracking.get_experiment_by_name(EXPERIMENT).experiment_id
    host = socket.gethostname()
    timings = {
        "current champion, ms": time_call(
            lambda: registry.get_model_version_by_alias(MODEL, "champion")
        ),
        "list versions, newest 100, ms": time_call(
            lambda: registry.search_model_versions(
                f"name = '{MODEL}'", max_results=100, order_by=["version_number DESC"]
            )
        ),
        "list versions, all, ms": time_call(
            lambda: registry.search_model_versions(f"name = '{MODEL}'", max_results=10000),
            repeat=5,
        ),
        "stale-run sweep query, ms": time_call(
            lambda: tracking.search_runs(
                [experiment_id],
                f"attributes.status = 'RUNNING' and tags.`mlops.host` = '{host}'",
                ViewType.ACTIVE_ONLY,
                1000,
                None,
                None,
            ),
            repeat=10,
        ),
    }
    tracking.engine.dispose()
    registry.engine.dispose()
    return timings


def http_floor(tracking_uri: str) -> float:
    """Median ms of GET /health: what any request to this server costs at least."""
    import requests

    session = requests.Session()
    return time_call(lambda: session.get(f"{tracking_uri}/health", timeout=10))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    results: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "command": " ".join(sys.argv),
    }

    # 1. SQLite, the embedded default.
    sqlite_env = clean_env(WORK / "sqlite")
    sqlite_runs = [timed_run(sqlite_env) for _ in range(args.repeat + 1)]

    # 2. The same against a PostgreSQL-backed tracking server.
    database = f"mlops_bench_{uuid.uuid4().hex[:10]}"
    db_url = ADMIN.rsplit("/", 1)[0] + f"/{database}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    port = free_port()
    log = (WORK / "server.log").open("wb")
    server = subprocess.Popen(
        [MLOPS, "server", "start", "--artifacts-destination", str(WORK / "artifacts"),
         "--port", str(port), "--workers", "1"],
        env=clean_env(WORK / "server-ws", MLFLOW_BACKEND_STORE_URI=db_url),
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    tracking_uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{tracking_uri}/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit((WORK / "server.log").read_text()) from None
                time.sleep(0.3)
        server_env = clean_env(WORK / "client", MLFLOW_TRACKING_URI=tracking_uri)
        server_runs = [timed_run(server_env) for _ in range(args.repeat + 1)]
        small = registry_timings(tracking_uri)
        small_db = database_timings(db_url)
        floor = http_floor(tracking_uri)

        seed(db_url, args.runs, args.versions)
        # Right after a bulk load PostgreSQL has no statistics for the new rows
        # until autovacuum analyses them; time both states.
        fresh = registry_timings(tracking_uri)
        with psycopg.connect(db_url, autocommit=True) as connection:
            connection.execute("ANALYZE")
        large = registry_timings(tracking_uri)
        large_db = database_timings(db_url)
        large_runs = [timed_run(server_env) for _ in range(args.repeat)]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    def summary(samples: list[dict[str, float]]) -> dict[str, float]:
        keys = ["wall", "pipeline", "Train model", "Evaluate", "Register"]
        return {k: round(median_of(samples, k), 3) for k in keys}

    results["mlops run, SQLite: first run (train + register), s"] = summary(sqlite_runs[:1])
    results["mlops run, SQLite: repeat run (reuse, cancelled), median s"] = summary(sqlite_runs[1:])
    results["mlops run, server: first run, s"] = summary(server_runs[:1])
    results["mlops run, server: repeat run, median s"] = summary(server_runs[1:])
    results[f"mlops run, server, {args.runs} runs / {args.versions} versions: median s"] = summary(
        large_runs
    )
    results["registry, empty store"] = {k: round(v, 2) for k, v in small.items()}
    results[f"registry, +{args.runs} runs / +{args.versions} versions, before ANALYZE"] = {
        k: round(v, 2) for k, v in fresh.items()
    }
    results[f"registry, +{args.runs} runs / +{args.versions} versions"] = {
        k: round(v, 2) for k, v in large.items()
    }
    results["database directly, empty store"] = {k: round(v, 2) for k, v in small_db.items()}
    results[f"database directly, +{args.runs} runs / +{args.versions} versions"] = {
        k: round(v, 2) for k, v in large_db.items()
    }
    results["HTTP floor: GET /health, ms"] = round(floor, 2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
