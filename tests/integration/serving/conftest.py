"""A real scoring service on a free loopback port, run by uvicorn in a thread of the tests."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from ml_service.serving.app import create_app
from ml_service.serving.deps import ServingContext
from ml_service.serving.server import build_context, uvicorn_config
from ml_service.settings import load_env
from tests.integration.serving.diabetes_model import RegisteredModel, register_diabetes_model

SCORING_KEY = "test-key-7f3a9c2e51b84d06a1e2"
SAMPLE = {"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]]}


@dataclass
class RunningService:
    """A service under test: its base URL, serving context and workspace."""

    url: str
    context: ServingContext
    workspace: Path

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.url.rsplit(":", 1)[1])


@contextmanager
def run_service(
    workspace: Path, model_uri: str | None = None, *, fast_path: bool = True, **env: object
):
    """Serve the workspace's model on a free loopback port until the block ends."""
    context = build_context(load_env(mlops_workspace=workspace, **env), model_uri)
    with serve_context(context, workspace, fast_path=fast_path) as running:
        yield running


@contextmanager
def serve_context(context: ServingContext, workspace: Path, *, fast_path: bool = True):
    """Serve an already built context on a free loopback port until the block ends.

    `fast_path=False` sends the scoring calls through FastAPI's declared handlers.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(context, fast_path=fast_path)
    server = uvicorn.Server(uvicorn_config(app, "127.0.0.1", port))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    started = threading.Event()
    for _ in range(500):
        if server.started:
            started.set()
            break
        thread.join(0.02)
    if not started.is_set():
        server.should_exit = True
        raise RuntimeError("the scoring service did not start")
    try:
        yield RunningService(url=f"http://127.0.0.1:{port}", context=context, workspace=workspace)
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@pytest.fixture(scope="session")
def registered_model(tmp_path_factory: pytest.TempPathFactory) -> RegisteredModel:
    """A workspace with the diabetes model registered as version 1, alias champion."""
    return register_diabetes_model(tmp_path_factory.mktemp("workspace"))


ServiceFactory = Callable[..., RunningService]


@pytest.fixture
def service_factory(registered_model, tmp_path) -> Iterator[ServiceFactory]:
    """Start services with given settings on a copy-free workspace; all stop at test end."""
    stack = []

    def start(model_uri: str | None = None, **env: object) -> RunningService:
        env.setdefault("mlops_datastore_uri", str(tmp_path / "datastore"))
        manager = run_service(registered_model.workspace, model_uri, **env)
        stack.append(manager)
        return manager.__enter__()

    yield start
    for manager in reversed(stack):
        manager.__exit__(None, None, None)


@pytest.fixture(scope="module")
def service(registered_model, tmp_path_factory) -> Iterator[RunningService]:
    """One open service (no key) shared by a module's tests."""
    datastore = tmp_path_factory.mktemp("datastore")
    with run_service(registered_model.workspace, mlops_datastore_uri=str(datastore)) as running:
        yield running


@pytest.fixture(scope="module")
def keyed_service(registered_model, tmp_path_factory) -> Iterator[RunningService]:
    """One service with key auth on, shared by a module's tests."""
    datastore = tmp_path_factory.mktemp("datastore")
    with run_service(
        registered_model.workspace, mlops_datastore_uri=str(datastore), scoring_key=SCORING_KEY
    ) as running:
        yield running
