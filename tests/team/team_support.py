"""Helpers and fixtures of the team-mode tests: a fresh PostgreSQL database and an MLflow server.


PostgreSQL runs on 127.0.0.1:5432 with trust auth (as on the developers'
machines and in CI), or where MLOPS_TEST_PG says (user, host and port are all
taken from it). Every test gets its own database, dropped afterwards, and
its own `mlops server start` on a free loopback port, stopped afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from tests.conftest import free_port

PG_ADMIN = os.environ.get("MLOPS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REPO = Path(__file__).resolve().parents[2]
MLOPS = str(Path(sys.executable).with_name("mlops"))
DIABETES_CSV = REPO / "data" / "diabetes.csv"
# A password the server is given but trust auth never checks: it must appear nowhere.
SECRET = "S3cret-Do-Not-Leak-7f2c"


def _admin() -> psycopg.Connection:
    return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)


def url_on(admin: str, database: str, password: str | None = None) -> str:
    """URL of `database` on the server `admin` names: its user, host and port, all of them."""
    given = psycopg.conninfo.conninfo_to_dict(admin)
    user = quote(str(given.get("user") or "postgres"), safe="")
    auth = f"{user}:{quote(password, safe='')}" if password else user
    host = str(given.get("host") or "127.0.0.1")
    port = str(given.get("port") or "5432")
    if host.startswith("/"):  # a Unix socket directory
        return f"postgresql://{auth}@/{database}?host={quote(host, safe='')}&port={port}"
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"postgresql://{auth}@{host}:{port}/{database}"


def pg_url(database: str, password: str | None = None) -> str:
    """URL of a database on the test server (user, host and port from PG_ADMIN)."""
    return url_on(PG_ADMIN, database, password)


@contextlib.contextmanager
def new_database(template: str | None = None) -> Iterator[str]:
    """Create a uniquely named database (a copy of `template`, if given); drop it after."""
    name = f"mlops_test_{uuid.uuid4().hex[:12]}"
    clause = f' TEMPLATE "{template}"' if template else ""
    try:
        with _admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"{clause}')
    except psycopg.OperationalError as err:
        pytest.fail(f"PostgreSQL at {PG_ADMIN} is not reachable: {err}")
    try:
        yield name
    finally:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A new, empty database; its name. Dropped (connections forced out) afterwards."""
    with new_database() as name:
        yield name


@pytest.fixture(scope="session")
def pg_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database with MLflow's and the project's schema, copied by each server test.

    Creating MLflow's schema takes seconds; copying a template takes milliseconds.
    """
    from ml_service.registry.database import engine_for
    from ml_service.team.settings import record_settings

    with new_database() as name:
        url = pg_url(name)
        record_settings(url, str(tmp_path_factory.mktemp("template-datastore")))
        engine_for(url).dispose()
        engine_for.cache_clear()
        yield name


@pytest.fixture
def server_database(pg_template: str) -> Iterator[str]:
    """A new database with the schemas in place (a copy of the template); dropped after."""
    with new_database(template=pg_template) as name:
        yield name


# MLOpsPython settings a developer may have exported; the tests use the defaults.
_SETTINGS = (
    "EXPERIMENT_NAME", "MODEL_NAME", "DATASET_NAME", "DATASET_VERSION",
    "TRAINING_PIPELINE_NAME", "RUN_EVALUATION", "ALLOW_RUN_CANCEL", "BUILD_BUILDID", "BUILD_URI",
)  # fmt: skip


def base_env(workspace: Path, **extra: str) -> dict[str, str]:
    """The environment of an `mlops` process: a private workspace, nothing inherited."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLOPS_", "MLFLOW_")) and k not in _SETTINGS
    }
    env["MLOPS_WORKSPACE"] = str(workspace)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class Server:
    """An `mlops server start` process group on a loopback port."""

    backend_uri: str
    artifacts: Path
    port: int
    log: Path
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> None:
        log = self.log.with_name(f"{self.log.stem}-{len(self.logs)}.log")
        self.logs.append(log)
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    MLOPS,
                    "server",
                    "start",
                    "--artifacts-destination",
                    str(self.artifacts),
                    "--port",
                    str(self.port),
                    "--workers",
                    "1",
                ],
                env=base_env(self.workdir, MLFLOW_BACKEND_STORE_URI=self.backend_uri),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {log.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise AssertionError(f"server did not answer in {timeout} s: {log.read_text()}")

    def stop(self) -> None:
        """Stop the whole process group (mlflow server and its uvicorn workers)."""
        if self.process is None:
            return
        group = self.process.pid
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            # The group may outlive its leader for a moment (workers exiting).
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                try:
                    os.killpg(group, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                continue
            break
        self.process = None

    def output(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.logs if p.exists())


@pytest.fixture
def mlflow_server(server_database: str, tmp_path: Path) -> Iterator[Server]:
    """`mlops server start` on a fresh database, its password set to SECRET (unchecked)."""
    server = Server(
        backend_uri=pg_url(server_database, SECRET),
        artifacts=tmp_path / "artifacts",
        port=free_port(),
        log=tmp_path / "server.log",
        workdir=tmp_path / "server-ws",
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def mlops(
    args: list[str], env: dict[str, str], timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """Run the `mlops` command to completion."""
    return subprocess.run(
        [MLOPS, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def spawn_mlops(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start the `mlops` command in the background, its output to `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [MLOPS, *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
