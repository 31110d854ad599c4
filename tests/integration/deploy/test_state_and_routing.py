"""The desired state in the project database, the in-process router and the reconciler."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ml_service.deploy.rollout import previous_good
from ml_service.deploy.state import DeploymentState, HistoryEntry
from ml_service.errors import ModelLoadError
from ml_service.models.load import load_model
from ml_service.models.resolve import resolve_model_uri
from ml_service.registry.database import registry_engine
from ml_service.serving.reconcile import Reconciler
from ml_service.serving.routing import Router
from ml_service.settings import load_env
from tests.integration.deploy.support import MODEL_NAME, fresh_workspace


@pytest.fixture
def env(trained_versions, tmp_path):
    return load_env(mlops_workspace=fresh_workspace(trained_versions, tmp_path / "ws"))


@pytest.fixture
def state(env):
    return DeploymentState(registry_engine(env))


def _uri(version: str) -> str:
    return f"models:/{MODEL_NAME}/{version}"


def test_traffic_moves_in_one_transaction_and_is_checked(state):
    state.ensure_endpoint("staging", 8100, None)
    state.add_deployment("staging", "blue", MODEL_NAME, "1", _uri("1"))
    state.add_deployment("staging", "green", MODEL_NAME, "2", _uri("2"))
    with pytest.raises(ValueError, match="add up to 100"):
        state.set_traffic("staging", {"blue": 90, "green": 20})
    with pytest.raises(ValueError, match="no deployment"):
        state.set_traffic("staging", {"blue": 90, "red": 10})
    assert [d.traffic for d in state.deployments("staging")] == [0, 0]  # nothing half-done
    state.set_traffic("staging", {"green": 100})  # blue, not named, goes
    assert [(d.name, d.traffic) for d in state.deployments("staging")] == [("green", 100)]
    assert state.ensure_endpoint("staging", 9999, None).port == 8100  # keeps its port


def test_history_records_who_and_the_split_it_left(state, monkeypatch):
    monkeypatch.setenv("BUILD_BUILDID", "20261127.4")
    state.add_deployment("production", "blue", MODEL_NAME, "1", _uri("1"))
    state.set_traffic("production", {"blue": 100})
    state.record("production", "deploy", deployment="blue", model_name=MODEL_NAME,
                 model_version="1", smoke_test="passed")  # fmt: skip
    [entry] = state.history("production")
    assert (entry.actor, entry.traffic, entry.smoke_test) == (
        "build 20261127.4",
        {"blue": 100},
        "passed",
    )
    assert state.history("staging") == []


def _entry(action: str, version: str, smoke: str = "passed") -> HistoryEntry:
    return HistoryEntry(datetime.now(UTC), "production", "me", action, "blue", MODEL_NAME,
                        version, {}, smoke, "")  # fmt: skip


def test_rollback_walks_back_through_full_rollouts_only():
    entries = [_entry("deploy", "1"), _entry("canary", "3"), _entry("deploy", "4", "failed"),
               _entry("promote", "2")]  # fmt: skip
    assert previous_good(entries, _uri("2")) == (MODEL_NAME, "1")
    assert previous_good([*entries, _entry("rollback", "1")], _uri("1")) is None
    assert previous_good([_entry("deploy", "1")], _uri("1")) is None


def test_weighted_routing_follows_the_split_closely_and_a_header_pins(env, state):
    state.add_deployment("production", "blue", MODEL_NAME, "1", _uri("1"))
    state.add_deployment("production", "green", MODEL_NAME, "2", _uri("2"))
    state.set_traffic("production", {"blue": 90, "green": 10})
    router = Router("production")
    reconciler = Reconciler(
        state, router, lambda d: load_model(resolve_model_uri(d.model_uri, env))
    )
    assert reconciler.sync() is True
    picks = [router.pick(None).name for _ in range(1000)]  # type: ignore[union-attr]
    assert abs(picks.count("green") - 100) <= 2
    # Spread out: a client sending every other (or third) request sees the same split.
    assert abs(picks[::2].count("green") - 50) <= 2
    assert abs(picks[1::3].count("green") - 33) <= 2
    assert max(len(run) for run in "".join(p[0] for p in picks).split("g")) < 20
    assert router.pick("green").model.version == "2"  # type: ignore[union-attr]
    with pytest.raises(KeyError):
        router.pick("red")
    assert reconciler.sync() is False  # nothing changed, nothing swapped


def test_a_deployment_that_fails_to_load_is_reported_and_never_routed(env, state):
    state.add_deployment("staging", "blue", MODEL_NAME, "1", _uri("1"))
    state.set_traffic("staging", {"blue": 100})
    router = Router("staging")

    def loader(deployment):
        if deployment.model_version == "2":
            raise ModelLoadError("cannot read the MLmodel file")
        return load_model(resolve_model_uri(deployment.model_uri, env))

    reconciler = Reconciler(state, router, loader)
    reconciler.sync()
    before = router.table
    state.add_deployment("staging", "green", MODEL_NAME, "2", _uri("2"))
    reconciler.sync()
    assert router.table.deployments.keys() == {"blue"}
    assert router.table.deployments["blue"] is before.deployments["blue"]  # kept, not reloaded
    assert router.failed["green"]["reason"] == "cannot read the MLmodel file"
    assert router.describe()["failed"]["green"]["model_version"] == "2"
