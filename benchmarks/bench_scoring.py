"""Load benchmark: the scoring service vs `mlflow models serve` and vs a bare Starlette floor.

Same model, same machine, same run: the diabetes model trained and registered
by `mlops run` in a scratch workspace (benchmarks/.work/; registration gives it
its ONNX twin), the three servers started as their own processes on loopback,
wrk (Debian package `wrk`) as the load generator. The floor is
`benchmarks/floor_app.py`: Starlette + uvicorn, parse the body, one numpy
product, answer. Prints Markdown tables for benchmarks/README.md.

    python benchmarks/bench_scoring.py [--duration 10] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import requests

from diabetes_regression.sample_data import COLUMNS as FEATURES
from ml_service.models.load import load_model
from ml_service.models.resolve import resolve_model_uri
from ml_service.settings import load_env

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "benchmarks" / ".work"
MODEL_NAME = "diabetes_regression_model"

ROW = [0.038, 0.050, 0.061, 0.021, -0.044, -0.034, -0.043, -0.002, 0.019, -0.017]


@dataclass
class Server:
    """A server under test: its process, base URL and start-up time."""

    name: str
    process: subprocess.Popen
    url: str
    seconds_to_first_answer: float

    def rss_mb(self) -> float:
        """Resident memory of the server and all its child processes, in MB."""
        root = psutil.Process(self.process.pid)
        processes = [root, *root.children(recursive=True)]
        return sum(p.memory_info().rss for p in processes) / 1e6

    def process_count(self) -> int:
        """How many processes the server runs."""
        return 1 + len(psutil.Process(self.process.pid).children(recursive=True))

    def stop(self) -> None:
        """SIGTERM, then wait (kill after 30 s)."""
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(name: str, command: list[str], env: dict[str, str], url: str, probe: tuple) -> Server:
    """Start a server and time it until it answers a scoring request (200)."""
    log = (WORK / f"{name}.log").open("wb")
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    path, body = probe
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited; see {log.name}")
        try:
            response = requests.post(f"{url}{path}", json=body, timeout=5)
            if response.status_code == 200:
                break
        except requests.ConnectionError:
            pass
        if time.perf_counter() - started > 120:
            raise RuntimeError(f"{name} did not answer in 120 s")
        time.sleep(0.01)
    return Server(name, process, url, time.perf_counter() - started)


def lua_script(name: str, body: dict) -> Path:
    path = WORK / f"{name}.lua"
    path.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [==[{json.dumps(body)}]==]\n"
    )
    return path


def _seconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def wrk(url: str, script: Path | None, connections: int, duration: int) -> dict[str, float]:
    """Run wrk; requests/s, p50 and p99 latency (ms), and non-2xx responses."""
    threads = min(connections, 2)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script:
        command += ["-s", str(script)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    result = {
        "requests": float(re.search(r"(\d+) requests in", output)[1]),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),
        "p50_ms": _seconds(re.search(r"\s50%\s+(\S+)", output)[1]) * 1e3,
        "p99_ms": _seconds(re.search(r"\s99%\s+(\S+)", output)[1]) * 1e3,
        "errors": 0.0,
    }
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: .*", output)
    if bad:
        result["errors"] += float(bad[1])
    if errors:
        result["errors"] += sum(float(n) for n in re.findall(r"\d+", errors[0]))
    return result


def wrk_cpu(
    server: Server, url: str, script: Path | None, connections: int, duration: int
) -> dict[str, float]:
    """`wrk`, plus the server's CPU time per answered request (µs, all its threads).

    CPU time per request moves much less with the machine's load than
    requests/s: other jobs take turns on the cores, not instructions from it.
    """
    process = psutil.Process(server.process.pid)
    before = sum(process.cpu_times()[:2])
    result = wrk(url, script, connections, duration)
    result["cpu_us"] = (sum(process.cpu_times()[:2]) - before) / result["requests"] * 1e6
    return result


def _median(results) -> dict[str, float]:
    """Per figure, the median over several wrk results."""
    results = list(results)
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def train_and_register(workspace: Path) -> None:
    """The model under test, made as a user makes it: `mlops run` on the bundled data."""
    subprocess.run(
        [str(Path(sys.executable).with_name("mlops")), "run", "--data-file-path",
         str(REPO / "data" / "diabetes.csv")],
        cwd=REPO,
        env={**os.environ, "MLOPS_WORKSPACE": str(workspace)},
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="Seconds per wrk run.")
    parser.add_argument(
        "--quick", action="store_true", help="Only the 1-row scenarios at concurrency 8."
    )
    parser.add_argument(
        "--floor-rounds", type=int, default=3, help="Alternating service/floor runs per scenario."
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install -y wrk")

    load_before = os.getloadavg()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    workspace = WORK / "workspace"
    train_and_register(workspace)
    env = {
        **os.environ,
        "MLOPS_WORKSPACE": str(workspace),
        "MLFLOW_TRACKING_URI": f"sqlite:///{workspace / 'mlflow.db'}",
        # MLflow 3.17's default, set so that a `false` exported in the shell, which
        # makes MLflow refuse every model (skops included), cannot stop it loading ours.
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
        # `mlflow models serve` runs `uvicorn` from PATH.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    split_1 = {"dataframe_split": {"columns": list(FEATURES), "data": [ROW]}}
    split_1000 = {"dataframe_split": {"columns": list(FEATURES), "data": [ROW] * 1000}}
    score_1 = {"data": [ROW]}
    score_1000 = {"data": [ROW] * 1000}
    scripts = {
        name: lua_script(name, body)
        for name, body in {
            "split_1": split_1,
            "split_1000": split_1000,
            "score_1": score_1,
            "score_1000": score_1000,
        }.items()
    }
    uri = f"models:/{MODEL_NAME}@champion"
    runtime = load_model(resolve_model_uri(uri, load_env(mlops_workspace=workspace))).runtime
    ours_port, mlflow_port, floor_port = free_port(), free_port(), free_port()
    servers: list[Server] = []
    rows = []
    try:
        ours = start(
            "scoring-service",
            [sys.executable, "-m", "ml_service.serving", "--model", uri, "--port", str(ours_port)],
            env,
            f"http://127.0.0.1:{ours_port}",
            ("/score", score_1),
        )
        servers.append(ours)
        mlflow = start(
            "mlflow-models-serve",
            [
                sys.executable,
                "-m",
                "mlflow",
                "models",
                "serve",
                "-m",
                uri,
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(mlflow_port),
            ],
            env,
            f"http://127.0.0.1:{mlflow_port}",
            ("/invocations", split_1),
        )
        servers.append(mlflow)
        floor = start(
            "starlette-floor",
            [sys.executable, str(REPO / "benchmarks" / "floor_app.py"), str(floor_port)],
            env,
            f"http://127.0.0.1:{floor_port}",
            ("/score", score_1),
        )
        servers.append(floor)
        scenarios = [
            ("1 row, c=1", 1, "/invocations", "split_1", "split_1"),
            ("1 row, c=8", 8, "/invocations", "split_1", "split_1"),
            ("1 row, c=32", 32, "/invocations", "split_1", "split_1"),
            ("1 row, c=8, Azure /score", 8, "/score", "score_1", "split_1"),
            ("1000 rows, c=8", 8, "/invocations", "split_1000", "split_1000"),
            ("1000 rows, c=8, Azure /score", 8, "/score", "score_1000", "split_1000"),
        ]
        if args.quick:
            scenarios = [row for row in scenarios if row[0].startswith("1 row, c=8")]
        floor_rows = []
        for label, connections, ours_path, ours_script, theirs_script in scenarios:
            theirs = wrk(
                f"{mlflow.url}/invocations", scripts[theirs_script], connections, args.duration
            )
            mine = wrk(f"{ours.url}{ours_path}", scripts[ours_script], connections, args.duration)
            rows.append((label, mine, theirs))
            if ours_script.startswith("score_"):
                # Service and floor alternate, median of the rounds: on a shared machine the
                # load moves between runs, so one run each would compare two machines.
                script = scripts[ours_script]
                pairs = [
                    (
                        wrk_cpu(ours, f"{ours.url}/score", script, connections, args.duration),
                        wrk_cpu(floor, f"{floor.url}/score", script, connections, args.duration),
                    )
                    for _ in range(args.floor_rounds)
                ]
                for round_, (mine, bare) in enumerate(pairs, 1):
                    print(
                        f"{label}, round {round_}: service {mine['rps']:.0f} req/s "
                        f"p99 {mine['p99_ms']:.2f} ms, floor {bare['rps']:.0f} req/s "
                        f"p99 {bare['p99_ms']:.2f} ms, load {os.getloadavg()[0]:.1f}",
                        file=sys.stderr,
                    )
                floor_rows.append(
                    (label, _median(p[0] for p in pairs), _median(p[1] for p in pairs))
                )
        ping = wrk(f"{mlflow.url}/ping", None, 8, args.duration)
        health = wrk(f"{ours.url}/health", None, 8, args.duration)
        memory = {s.name: (s.rss_mb(), s.process_count()) for s in (ours, mlflow, floor)}
    finally:
        for server in servers:
            server.stop()

    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average before: {load_before}, "
        f"after: {os.getloadavg()}"
    )
    print()
    print("| scenario | service req/s | p50 ms | p99 ms | mlflow req/s | p50 ms | p99 ms | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, mine, theirs in rows:
        print(
            f"| {label} | {mine['rps']:.0f} | {mine['p50_ms']:.2f} | {mine['p99_ms']:.2f} "
            f"| {theirs['rps']:.0f} | {theirs['p50_ms']:.2f} | {theirs['p99_ms']:.2f} "
            f"| {mine['rps'] / theirs['rps']:.1f}× |"
        )
        if mine["errors"] or theirs["errors"]:
            print(f"|   errors | {mine['errors']:.0f} | | | {theirs['errors']:.0f} | | | |")
    print()
    print(
        f"Service vs floor: median of {args.floor_rounds} alternating runs "
        f"of {args.duration} s each."
    )
    print()
    print(
        "| scenario | service req/s | p99 ms | CPU µs/req | floor req/s | p99 ms | CPU µs/req "
        "| service / floor (req/s) | floor / service (CPU) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, mine, bare in floor_rows:
        print(
            f"| {label} | {mine['rps']:.0f} | {mine['p99_ms']:.2f} | {mine['cpu_us']:.0f} "
            f"| {bare['rps']:.0f} | {bare['p99_ms']:.2f} | {bare['cpu_us']:.0f} "
            f"| {mine['rps'] / bare['rps']:.2f}× | {bare['cpu_us'] / mine['cpu_us']:.2f}× |"
        )
    print()
    print(
        f"| probe, c=8 | service /health {health['rps']:.0f} req/s "
        f"| mlflow /ping {ping['rps']:.0f} req/s |"
    )
    print()
    print("| | service | mlflow models serve | floor |")
    print("|---|---:|---:|---:|")
    print(
        f"| start to first scored request | {ours.seconds_to_first_answer:.2f} s "
        f"| {mlflow.seconds_to_first_answer:.2f} s | {floor.seconds_to_first_answer:.2f} s |"
    )
    print(
        f"| resident memory (all processes) | {memory[ours.name][0]:.0f} MB "
        f"({memory[ours.name][1]} process) | {memory[mlflow.name][0]:.0f} MB "
        f"({memory[mlflow.name][1]} processes) | {memory[floor.name][0]:.0f} MB |"
    )
    print(f"\nThe service scored with: {runtime}")


if __name__ == "__main__":
    main()
