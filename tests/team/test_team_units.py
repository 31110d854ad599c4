"""Team mode's pure parts: URI masking, dead-run detection, retry bounds, champion re-check."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from types import SimpleNamespace

import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from diabetes_regression.evaluate.evaluate_model import compare
from diabetes_regression.parameters import load_parameters
from ml_service.errors import AlreadyRegisteredError, SettingsError, TrackingUnavailableError
from ml_service.pipelines import stale_runs
from ml_service.registry import models as model_registry
from ml_service.team.server import artifacts_location, prepare_server, server_command
from ml_service.tracking import store as tracking
from ml_service.uris import is_database, is_http, mask_password, strip_password


@pytest.mark.parametrize(
    ("uri", "masked"),
    [
        ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql+psycopg://u:p@ss@h/db", "postgresql+psycopg://u:***@h/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("http://h:5000", "http://h:5000"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_mask_password(uri: str, masked: str) -> None:
    assert mask_password(uri) == masked


def test_secrets_in_free_text_are_masked_and_stripped_uris_keep_the_user() -> None:
    text = "failed: (postgresql://a:b3@c/d) and 'http://q:w@e:1/x'"
    assert mask_password(text) == "failed: (postgresql://a:***@c/d) and 'http://q:***@e:1/x'"
    assert strip_password("postgresql://u:pw@h:5432/db") == "postgresql://u@h:5432/db"
    assert strip_password("postgresql://u@h/db") == "postgresql://u@h/db"


def test_uri_kinds() -> None:
    assert is_http("http://h:1") and is_http("HTTPS://h")
    assert not is_http(None) and not is_http("sqlite:///x")
    assert is_database("postgresql+psycopg://u@h/d") and is_database("postgres://h/d")
    assert not is_database("sqlite:///x.db") and not is_database("/tmp/x") and not is_database(None)


def _run(status: str, tags: dict[str, str]) -> SimpleNamespace:
    return SimpleNamespace(info=SimpleNamespace(status=status), data=SimpleNamespace(tags=tags))


def test_dead_runs_are_running_runs_of_this_host_whose_process_is_gone() -> None:
    alive = {(10, "5")}
    runs = [
        _run("RUNNING", {"mlops.host": "h", "mlops.pid": "10", "mlops.process_start": "5"}),
        _run("RUNNING", {"mlops.host": "h", "mlops.pid": "10", "mlops.process_start": "6"}),
        _run("RUNNING", {"mlops.host": "h", "mlops.pid": "11"}),
        _run("RUNNING", {"mlops.host": "other", "mlops.pid": "11"}),
        _run("FINISHED", {"mlops.host": "h", "mlops.pid": "11"}),
        _run("RUNNING", {"mlops.host": "h"}),
    ]
    found = stale_runs.dead_runs(runs, "h", alive=lambda pid, start: (pid, start) in alive)  # type: ignore[arg-type]
    assert found == [runs[1], runs[2]]


def test_this_process_is_alive_and_a_reused_pid_is_not() -> None:
    tags = stale_runs.process_tags()
    assert tags["mlops.host"] == socket.gethostname()
    assert stale_runs.process_alive(os.getpid(), tags["mlops.process_start"])
    assert not stale_runs.process_alive(os.getpid(), "1")
    assert not stale_runs.process_alive(2**22 + 7, "")


def test_http_retries_are_bounded_unless_the_user_chose(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in tracking.HTTP_RETRY_DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "7")
    tracking.configure_http_retries()
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "5"
    assert os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] == "1"
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "7"


def test_an_unanswered_request_becomes_one_clear_error() -> None:
    cause = MlflowException(
        "API request to http://h:1/api failed with exception HTTPConnectionPool(host='h', "
        "port=1): Max retries exceeded with url: /api (Caused by NewConnectionError(...))"
    )

    def call() -> None:
        raise cause

    with pytest.raises(TrackingUnavailableError, match=r"http://h:1 did not answer after \d+"):
        tracking.tracking_call("http://h:1", call)
    assert not tracking.is_unreachable(MlflowException("RESOURCE_DOES_NOT_EXIST"))
    database_down = "cannot reach the registry database postgresql://u@h/d: Connection refused"
    assert not tracking.is_unreachable(RuntimeError(database_down))

    def other() -> None:
        raise MlflowException("bad parameter")

    with pytest.raises(MlflowException, match="bad parameter"):
        tracking.tracking_call("http://h:1", other)


def test_server_command_never_carries_the_database_uri(tmp_path: Path) -> None:
    command = server_command("127.0.0.1", 5001, 2, str(tmp_path))
    assert "--backend-store-uri" not in command
    assert command[-6:] == ["--host", "127.0.0.1", "--port", "5001", "--workers", "2"]
    assert artifacts_location("s3://bucket/x/") == "s3://bucket/x"
    assert artifacts_location(str(tmp_path / "a")) == str(tmp_path / "a")
    with pytest.raises(SettingsError, match=r"'sqlite:///x.db' is not a database URL"):
        prepare_server("sqlite:///x.db", str(tmp_path))


def _model_run(client: MlflowClient, experiment_id: str) -> str:
    run = client.create_run(experiment_id)
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def test_register_rechecks_against_the_champion_of_the_moment(tmp_path: Path) -> None:
    """Two challengers both beat v1 at Evaluate; the worse one must not take @champion."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment_id = client.create_experiment("e", artifact_location=(tmp_path / "a").as_uri())
    rule = load_parameters().evaluation
    mse = {}

    def register(value: float, keep: bool) -> model_registry.Registration:
        run_id = _model_run(client, experiment_id)

        def judge(champion):  # type: ignore[no-untyped-def]
            verdict = compare(value, mse[champion.version] if champion else None, rule)
            return verdict.better, verdict.reason

        registration = model_registry.register_challenger(
            client, "m", f"runs:/{run_id}/model", run_id, {}, judge, keep_if_not_better=keep
        )
        if registration.version is not None:
            mse[registration.version.version] = value
        return registration

    assert register(3000.0, keep=False).promoted  # v1, the old champion
    assert register(2000.0, keep=False).promoted  # challenger A: v2
    late = register(2500.0, keep=False)  # challenger B beat v1 at Evaluate, not A
    assert late.version is None and "not better" in late.reason
    kept = register(2600.0, keep=True)  # without cancel: a version, but no alias
    assert kept.version is not None and not kept.promoted
    assert str(client.get_model_version_by_alias("m", "champion").version) == "2"
    versions = sorted(int(v.version) for v in client.search_model_versions("name = 'm'"))
    assert versions == [1, 2, 3]

    run_id = client.get_model_version("m", "2").run_id
    with pytest.raises(AlreadyRegisteredError, match="already registered as m version 2"):
        model_registry.register_challenger(
            client, "m", f"runs:/{run_id}/model", run_id, {}, lambda _c: (True, "")
        )


@pytest.mark.parametrize(
    ("admin", "url"),
    [
        ("postgresql://postgres@127.0.0.1:5432/postgres", "postgresql://postgres@127.0.0.1:5432/d"),
        ("postgresql://ops@db.example:6543/postgres", "postgresql://ops@db.example:6543/d"),
        ("host=/run/pg port=5444 user=ops dbname=postgres", "postgresql://ops@/d?host=%2Frun%2Fpg&port=5444"),
        ("postgresql://ops@[::1]:5433/postgres", "postgresql://ops@[::1]:5433/d"),
        ("postgresql:///postgres", "postgresql://postgres@127.0.0.1:5432/d"),
    ],
)  # fmt: skip
def test_mlops_test_pg_is_honoured_whole(admin: str, url: str) -> None:
    """The tests' databases are on the server MLOPS_TEST_PG names: user, host and port."""
    from tests.team.team_support import url_on

    assert url_on(admin, "d") == url
    assert url_on(admin, "d", "p w").startswith(url.split("@")[0] + ":p%20w@")
