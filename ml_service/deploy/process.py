"""An endpoint's service as a background process on this machine: start, find, stop.

Each endpoint has a folder `endpoints/NAME/` in the workspace holding:
`process.json` (pid, port, URL, start time, command), `service.log` (the
service's own log), `serve.lock` (held by the running service for its whole
life: a second service for the endpoint refuses to start, and a crashed one
leaves no stale claim) and `deploy.lock` (held by one `mlops deploy` at a time).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from ml_service.errors import EndpointError
from ml_service.settings import Env

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 40.0


@dataclass(frozen=True)
class EndpointProcess:
    """A started endpoint service."""

    endpoint: str
    pid: int
    port: int
    url: str
    started_at: str
    command: list[str]
    log_file: str


def endpoint_dir(env: Env, endpoint: str) -> Path:
    """The endpoint's folder in the workspace."""
    return env.workspace / "endpoints" / endpoint


def serve_command(endpoint: str, host: str, port: int) -> list[str]:
    """The command that serves an endpoint: the same locally and in the container image."""
    return ["mlops", "serve", "--endpoint", endpoint, "--host", host, "--port", str(port)]


def _mlops_executable() -> str:
    beside = Path(sys.executable).with_name("mlops")
    if beside.is_file():
        return str(beside)
    found = shutil.which("mlops")
    if found is None:
        raise EndpointError("the `mlops` command is not on PATH; install the project first")
    return found


def _try_lock(handle: BinaryIO) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def hold_endpoint_lock(env: Env, endpoint: str) -> Iterator[None]:
    """Hold the endpoint's serve lock for the block (the service's lifetime).

    Raises:
        EndpointError: another process serves this endpoint.
    """
    path = endpoint_dir(env, endpoint) / "serve.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:
        if not _try_lock(handle):
            raise EndpointError(f"endpoint {endpoint} is already served by another process")
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def deploy_lock(env: Env, endpoint: str) -> Iterator[None]:
    """One `mlops deploy` per endpoint at a time: a second one waits, and says so."""
    path = endpoint_dir(env, endpoint) / "deploy.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:
        if not _try_lock(handle):
            log.info("another deploy on %s is under way; waiting for it to finish", endpoint)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _serve_lock_held(env: Env, endpoint: str) -> bool:
    path = endpoint_dir(env, endpoint) / "serve.lock"
    if not path.is_file():
        return False
    with path.open("a+b") as handle:
        if _try_lock(handle):
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False
    return True


def pid_alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, finished but not reaped, does not)."""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def running(env: Env, endpoint: str) -> EndpointProcess | None:
    """The endpoint's service if it runs on this machine, else None."""
    record = endpoint_dir(env, endpoint) / "process.json"
    try:
        process = EndpointProcess(**json.loads(record.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if pid_alive(process.pid) and _serve_lock_held(env, endpoint):
        return process
    return None


def fetch_json(url: str, timeout: float = 5.0) -> tuple[int, Any]:
    """GET `url`: its status and JSON body (status 0 when nothing answers)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        try:
            return err.code, json.loads(err.read())
        except ValueError:
            return err.code, None
    except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
        return 0, None


def _log_tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    messages = []
    for line in text[-lines:]:
        try:
            messages.append(str(json.loads(line).get("message", line)))
        except (ValueError, AttributeError):
            messages.append(line)
    return " | ".join(messages)


def start(env: Env, endpoint: str, port: int, host: str = DEFAULT_HOST) -> EndpointProcess:
    """Start the endpoint's service in the background and wait until it answers /health.

    Raises:
        EndpointError: the service exits or does not answer in time (its log's last lines said).
    """
    folder = endpoint_dir(env, endpoint)
    folder.mkdir(parents=True, exist_ok=True)
    log_file = folder / "service.log"
    command = serve_command(endpoint, host, port)
    with log_file.open("ab") as output:
        child = subprocess.Popen(
            [_mlops_executable(), *command[1:]],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives this command, apart from its signals
            env={**os.environ, "MLOPS_WORKSPACE": str(env.workspace)},
        )
    url = f"http://{host}:{port}"
    process = EndpointProcess(
        endpoint=endpoint,
        pid=child.pid,
        port=port,
        url=url,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        command=command,
        log_file=str(log_file),
    )
    (folder / "process.json").write_text(json.dumps(asdict(process), indent=2))
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise EndpointError(
                f"the {endpoint} service exited (code {child.returncode}): "
                f"{_log_tail(log_file)}; log: {log_file}"
            )
        status, _ = fetch_json(f"{url}/health", timeout=2)
        if status == 200:
            log.info("endpoint %s started: pid %d, %s", endpoint, child.pid, url)
            return process
        time.sleep(0.2)
    stop(env, endpoint)
    raise EndpointError(f"the {endpoint} service did not answer in time; log: {log_file}")


def stop(env: Env, endpoint: str) -> int | None:
    """Stop the endpoint's service (SIGTERM: a graceful stop; SIGKILL if it hangs).

    Returns:
        The pid stopped, or None if it was not running.
    """
    record = endpoint_dir(env, endpoint) / "process.json"
    process = running(env, endpoint)
    if process is None:
        record.unlink(missing_ok=True)
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while pid_alive(process.pid):
        if time.monotonic() > deadline:
            log.warning("endpoint %s did not stop in time; killing pid %d", endpoint, process.pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
            deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        time.sleep(0.1)
    record.unlink(missing_ok=True)
    log.info("endpoint %s stopped (pid %d)", endpoint, process.pid)
    return process.pid
