"""`mlops serve` start-up checks and the smoke-test command against a running service."""

from __future__ import annotations

import logging
import socket

import pytest
from click.testing import CliRunner

from ml_service.cli import cli
from ml_service.serving import smoke_test as smoke
from tests.conftest import run_module
from tests.integration.serving.conftest import SCORING_KEY


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"SCORING_KEY": "changethis"}, "error: SCORING_KEY: the scoring key is an example value"),
        ({"SCORING_KEY": ""}, "error: SCORING_KEY: the scoring key is empty"),
        ({"MODEL_NAME": "no_such_model"}, "error: model 'no_such_model' has no alias 'champion'"),
    ],
)
def test_serve_refuses_to_start_with_one_line(
    registered_model, monkeypatch, restore_logging, variables, message
):
    monkeypatch.setenv("MLOPS_WORKSPACE", str(registered_model.workspace))
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["serve", "--port", "8999"])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_serve_refuses_port_zero(registered_model, monkeypatch):
    monkeypatch.setenv("MLOPS_WORKSPACE", str(registered_model.workspace))
    result = CliRunner().invoke(cli, ["serve", "--port", "0"])
    assert result.exit_code == 1
    assert "--port" in result.output


def test_smoke_test_passes_against_the_service(service):
    assert smoke.main(["--url", service.url]) == 0
    assert smoke.main(["--url", f"{service.url}/score"]) == 0


def test_mlopspython_smoke_test_command(service, subprocess_env):
    # MLOpsPython's module path, as CD pipelines call it.
    done = run_module(
        "ml_service.util.smoke_test_scoring_service", ["--url", service.url], subprocess_env
    )
    assert done.returncode == 0, done.stderr
    assert "smoke test passed" in done.stderr


def test_smoke_test_with_key(keyed_service):
    assert smoke.main(["--url", keyed_service.url, "--key", SCORING_KEY]) == 0
    assert smoke.main(["--url", keyed_service.url, "--key", "wrong-key-0123456789"]) == 1


def test_smoke_test_gives_up_after_bounded_retries(caplog):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        with caplog.at_level(logging.INFO):
            assert smoke.main(["--url", f"http://127.0.0.1:{port}", "--attempts", "2"]) == 1
    assert "did not answer after 2 attempts" in caplog.text


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ([], 'no "result"'),
        ({"result": [1.0]}, "should hold 2"),
        ({"result": [1.0, "x"]}, "finite numbers"),
        ({"result": [1.0, float("nan")]}, "finite numbers"),
    ],
)
def test_check_answer_refuses_wrong_shapes(answer, problem):
    with pytest.raises(smoke.SmokeTestError, match=problem):
        smoke.check_answer(answer)


def test_check_answer_returns_predictions():
    assert smoke.check_answer({"result": [1, 2.5]}) == [1.0, 2.5]
