"""Fixtures for the Azure ML backend: default settings and a recording fake MLClient."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from ml_service.settings import Env


@pytest.fixture
def default_env(workspace, monkeypatch: pytest.MonkeyPatch) -> Env:  # type: ignore[no-untyped-def]
    """The settings at their defaults, whatever the developer exported."""
    for name in Env.model_fields:
        if name != "mlops_workspace":
            monkeypatch.delenv(name.upper(), raising=False)
    return Env(_env_file=None)  # type: ignore[call-arg]


@dataclass
class FakeMLClient:
    """Records what would go to Azure; answers like MLClient without a network."""

    credential: Any
    workspace: Any
    compute_exists: bool = False
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.compute = SimpleNamespace(get=self._get_compute, begin_create_or_update=self._create)
        self.jobs = SimpleNamespace(create_or_update=self._create_job, stream=self._stream)

    def _get_compute(self, name: str) -> Any:
        from azure.core.exceptions import ResourceNotFoundError

        self.calls.append(("compute.get", name))
        if not self.compute_exists:
            raise ResourceNotFoundError(f"compute {name} not found")
        return SimpleNamespace(name=name)

    def _create(self, compute: Any) -> Any:
        self.calls.append(("compute.begin_create_or_update", compute))
        return SimpleNamespace(result=lambda: compute)

    def _create_job(self, job: Any, experiment_name: str) -> Any:
        self.calls.append(("jobs.create_or_update", (job, experiment_name)))
        return SimpleNamespace(name="job-1", status="NotStarted", studio_url="studio://job-1")

    def _stream(self, name: str) -> None:
        self.calls.append(("jobs.stream", name))


class FakeCredential:
    """A credential that has a token, or none at all (`available=False`)."""

    def __init__(self, available: bool = True) -> None:
        self.available = available
        self.scopes: list[str] = []

    def get_token(self, *scopes: str) -> Any:
        from azure.core.exceptions import ClientAuthenticationError

        self.scopes.extend(scopes)
        if not self.available:
            raise ClientAuthenticationError(
                "DefaultAzureCredential failed to retrieve a token from the included credentials."
            )
        return SimpleNamespace(token="t", expires_on=0)
