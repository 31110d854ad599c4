"""The deployment state in team mode: on PostgreSQL, seen alike by every teammate's process."""

from __future__ import annotations

import pytest

from ml_service.deploy.state import DeploymentState
from ml_service.registry.database import engine_for
from tests.team.team_support import pg_url

pytestmark = pytest.mark.team

MODEL = "diabetes_regression_model"


def test_endpoints_traffic_and_history_live_in_the_shared_database(pg_database):
    url = pg_url(pg_database)
    mine = DeploymentState(engine_for(url))
    mine.ensure_endpoint("production", 8100, "env:SCORING_KEY")
    mine.add_deployment("production", "blue", MODEL, "1", f"models:/{MODEL}/1")
    mine.add_deployment("production", "green", MODEL, "2", f"models:/{MODEL}/2")
    mine.set_traffic("production", {"blue": 90, "green": 10})
    mine.record("production", "canary", deployment="green", model_name=MODEL,
                model_version="2", smoke_test="passed")  # fmt: skip
    with pytest.raises(ValueError, match="add up to 100"):
        mine.set_traffic("production", {"blue": 50})

    engine_for.cache_clear()  # a teammate: another engine on the same database
    theirs = DeploymentState(engine_for(url))
    assert [(d.name, d.model_version, d.traffic) for d in theirs.deployments("production")] == [
        ("blue", "1", 90),
        ("green", "2", 10),
    ]
    [entry] = theirs.history("production")
    assert (entry.action, entry.traffic, entry.smoke_test) == (
        "canary",
        {"blue": 90, "green": 10},
        "passed",
    )
    assert theirs.endpoint("production").key_ref == "env:SCORING_KEY"  # a reference, no key
    engine_for(url).dispose()
    engine_for.cache_clear()
