"""Batch scoring benchmark: `mlops batch-score` vs the in-memory floor vs `mlflow models predict`.

Same model, same files, same run. The data is generated here (rows of the
diabetes model's schema, CSV and Parquet, in benchmarks/.work/batch/, never
committed). Each command runs as its own process; the figures are wall-clock
rows/s, the CPU seconds (user + system) of the whole process tree, which move
less than the wall clock when other jobs share the cores, and its peak resident
memory (workers included), sampled every 20 ms. Prints a Markdown table for
benchmarks/README.md.

    python benchmarks/bench_batch.py [--rows 1000000 10000000] [--no-mlflow] [--runtime skops]

The model is registered as the Register step does, with its ONNX twin, so
`mlops batch-score` and the floor score through ONNX Runtime (`--runtime skops`:
without the twin, through scikit-learn); `mlflow models predict` loads the
scikit-learn flavor either way.

(a) the floor: one process reads the whole file with pyarrow, calls the model's
    predict once on the whole matrix and writes the result with pyarrow (Parquet
    encoded as `mlops batch-score` writes it: float columns without dictionary);
(b) `mlflow models predict --env-manager local` (CSV only: it reads no Parquet).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "benchmarks" / ".work" / "batch"
sys.path.insert(0, str(REPO))

from tests.integration.serving.diabetes_model import (  # noqa: E402
    FEATURES,
    register_diabetes_model,
)

FLOOR = """
import sys
import numpy as np, pyarrow as pa, pyarrow.csv as pacsv, pyarrow.parquet as pq
from ml_service.models.load import load_model
from ml_service.models.resolve import resolve_model_uri
from ml_service.settings import load_env
source, target, uri = sys.argv[1:4]
model = load_model(resolve_model_uri(uri, load_env()))
table = pq.read_table(source) if source.endswith(".parquet") else pacsv.read_csv(source)
matrix = np.column_stack([table.column(n).to_numpy() for n in model.features])
table = table.append_column("score", pa.array(model.predict(matrix)))
if target.endswith(".parquet"):  # encoded as batch-score writes it: floats plain
    plain = [f.name for f in table.schema if not pa.types.is_floating(f.type)]
    pq.write_table(table, target, use_dictionary=plain)
else:
    pacsv.write_csv(table, target)
"""


@dataclass
class Measure:
    """One command's wall time, CPU time (its process tree's user + system) and peak memory."""

    seconds: float
    cpu_seconds: float
    peak_rss_mb: float


def run_measured(command: list[str], env: dict[str, str]) -> Measure:
    """Run a command; its wall time, CPU time and the peak RSS of its process tree."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    root = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the tree's, once all are waited for
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if process.returncode != 0:
        raise SystemExit(f"{command[:3]} failed: {process.stderr.read().decode()[-2000:]}")
    return Measure(seconds, cpu, peak / 1e6)


def generate(rows: int) -> dict[str, Path]:
    """CSV and Parquet files of `rows` rows of the model's features and a target."""
    paths = {"csv": WORK / f"rows-{rows}.csv", "parquet": WORK / f"rows-{rows}.parquet"}
    if all(path.exists() for path in paths.values()):
        return paths
    rng = np.random.default_rng(0)
    schema = pa.schema([*(pa.field(n, pa.float64()) for n in FEATURES), ("Y", pa.float64())])
    step = 1_000_000
    with (
        pacsv.CSVWriter(paths["csv"], schema) as csv_writer,
        pq.ParquetWriter(paths["parquet"], schema) as parquet_writer,
    ):
        for start in range(0, rows, step):
            n = min(step, rows - start)
            columns = [np.round(rng.normal(0, 0.05, n), 6) for _ in FEATURES]
            columns.append(np.round(rng.uniform(25, 346, n), 1))
            batch = pa.record_batch(columns, schema=schema)
            csv_writer.write_batch(batch)
            parquet_writer.write_batch(batch)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--no-mlflow", action="store_true", help="Skip mlflow models predict.")
    parser.add_argument("--runtime", choices=["onnx", "skops"], default="onnx")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    workspace = WORK / f"workspace-{args.runtime}"
    if not (workspace / "mlflow.db").exists():
        register_diabetes_model(workspace, twin=args.runtime == "onnx")
    env = dict(os.environ)
    env.update(
        MLOPS_WORKSPACE=str(workspace),
        MLFLOW_TRACKING_URI=f"sqlite:///{workspace / 'mlflow.db'}",
        PYTHONPATH=str(REPO),
    )
    uri = "models:/diabetes_regression_model/1"
    bin_dir = Path(sys.executable).parent
    print(f"{platform.node()} · {os.cpu_count()} cores · {platform.python_version()}")
    print(f"model scored by {args.runtime}")
    print(f"load average {os.getloadavg()[0]:.1f} at start\n")
    print("| rows | format | command | seconds | CPU s | rows/s | peak RSS MB | rows/s vs floor |")
    print("|---:|---|---|---:|---:|---:|---:|---:|")
    for rows in args.rows:
        files = generate(rows)
        for file_format, source in files.items():
            target = WORK / f"out.{file_format}"
            commands = {
                "(a) floor: read all, predict once, write": [
                    sys.executable, "-c", FLOOR, str(source), str(target), uri,
                ],
                "`mlops batch-score`": [
                    str(bin_dir / "mlops"), "batch-score", "--model", uri, "--input", str(source),
                    "--output", str(target), "--quiet",
                ],
                "`mlops batch-score --workers 1`": [
                    str(bin_dir / "mlops"), "batch-score", "--model", uri, "--input", str(source),
                    "--output", str(target), "--quiet", "--workers", "1",
                ],
            }  # fmt: skip
            if file_format == "csv" and not args.no_mlflow:
                commands["(b) `mlflow models predict`"] = [
                    str(bin_dir / "mlflow"), "models", "predict", "-m", uri, "-i", str(source),
                    "-t", "csv", "-o", str(WORK / "out.json"), "--env-manager", "local",
                ]  # fmt: skip
            measured = {name: run_measured(command, env) for name, command in commands.items()}
            floor = rows / measured["(a) floor: read all, predict once, write"].seconds
            for name, measure in measured.items():
                rate = rows / measure.seconds
                print(
                    f"| {rows:,} | {file_format} | {name} | {measure.seconds:.1f} "
                    f"| {measure.cpu_seconds:.1f} | {rate:,.0f} "
                    f"| {measure.peak_rss_mb:,.0f} | {rate / floor:.2f}× |",
                    flush=True,
                )
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
