"""Time `mlops run` on a warm workspace against its two peers, in one run.

    python benchmarks/bench_pipeline.py [--repeat N]

(a) a bare scikit-learn script (load, split, fit, score: no tracking);
(b) the same tracked work done naively with MLflow (benchmarks/baseline_mlflow.py);
and `mlops run` twice over: on unchanged data (training reused, evaluation
cancels: the everyday re-run) and on new data each time (full train →
evaluate → register). Every command is a fresh process, timed wall-clock;
the median of N repetitions is reported, after one warm-up each.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data" / "diabetes.csv"
MLOPS = str(Path(sys.executable).with_name("mlops"))


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def median_of(command_for, repeat: int, env: dict[str, str]) -> float:  # type: ignore[no-untyped-def]
    timed(command_for(-1), env)  # warm-up: caches, database files, bytecode
    return statistics.median(timed(command_for(i), env) for i in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mlops-bench-"))
    env = {**os.environ, "MLOPS_WORKSPACE": str(work / "mlops")}
    for name in ("MLFLOW_TRACKING_URI", "MLOPS_REGISTRY_URI", "MLOPS_DATASTORE_URI"):
        env.pop(name, None)

    # Row-shuffled copies of the data: new content (a new dataset version) each time.
    frame = pd.read_csv(DATA)
    fresh = []
    for i in range(args.repeat + 1):
        path = work / f"diabetes_shuffled_{i}.csv"
        frame.sample(frac=1.0, random_state=i).to_csv(path, index=False)
        fresh.append(path)

    bare = median_of(
        lambda i: [sys.executable, str(HERE / "baseline_sklearn.py"), str(DATA)], args.repeat, env
    )
    naive = median_of(
        lambda i: [
            sys.executable,
            str(HERE / "baseline_mlflow.py"),
            str(DATA),
            str(work / "naive"),
        ],
        args.repeat,
        env,
    )
    (work / "naive").mkdir(exist_ok=True)
    rerun = median_of(lambda i: [MLOPS, "run", "--data-file-path", str(DATA)], args.repeat, env)
    # ALLOW_RUN_CANCEL=false: a shuffled copy's model is better than the champion only
    # by chance; this way every run goes through Register (and the ONNX twin), the
    # version getting @champion only when it is better.
    full = median_of(
        lambda i: [MLOPS, "run", "--data-file-path", str(fresh[i])],
        args.repeat,
        {**env, "ALLOW_RUN_CANCEL": "false"},
    )

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"repetitions: {args.repeat} (median), workspace {work}")
    print()
    print("| what | seconds | vs (a) bare sklearn | vs (b) naive MLflow |")
    print("|---|---|---|---|")
    for label, value in [
        ("(a) bare scikit-learn script", bare),
        ("(b) naive MLflow script", naive),
        ("`mlops run`, unchanged data (reuse, cancel)", rerun),
        ("`mlops run`, new data (train, evaluate, register)", full),
    ]:
        print(f"| {label} | {value:.2f} | {value / bare:.2f}× | {value / naive:.2f}× |")


if __name__ == "__main__":
    main()
