"""Roll a model version out to an endpoint: blue/green, canary, promote, rollback, stop.

Every change goes the same way: the new deployment is added with no traffic,
the endpoint's service loads and checks it beside the one serving, the smoke
test runs against it alone (pinned by header), and only then does the traffic
move, in one change of the desired state the service applies atomically. A
failure at any step removes the new deployment; the previous one never stops
serving. One deploy per endpoint at a time (a lock file); each change is
recorded in the history.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from ml_service.deploy import process
from ml_service.deploy.state import Deployment, DeploymentState, HistoryEntry
from ml_service.errors import DeploymentFailedError, EndpointError, MlopsError
from ml_service.registry.tags import Alias
from ml_service.settings import Env

log = logging.getLogger(__name__)

STAGING = "staging"
PRODUCTION = "production"
DEPLOYMENT_NAMES = ("blue", "green")
WAIT_SECONDS = 180.0
# Actions after which one version takes all the traffic (what rollback walks back through).
FULL_ROLLOUTS = ("deploy", "promote")


@dataclass(frozen=True)
class RolloutResult:
    """What a change left: the endpoint, its URL and each deployment's version and share."""

    endpoint: str
    url: str
    message: str
    traffic: dict[str, tuple[str, int]]  # deployment -> (model version, share)


@dataclass(frozen=True)
class EndpointStatus:
    """An endpoint as `mlops deploy status` shows it."""

    endpoint: str
    url: str | None
    pid: int | None
    health: str
    since: str | None
    deployments: list[dict[str, Any]]


def _key_ref(env: Env) -> str | None:
    if env.scoring_key_file is not None:
        return f"file:{env.scoring_key_file}"
    if env.scoring_key is not None:
        return "env:SCORING_KEY"
    return None


def _scoring_key(env: Env) -> str | None:
    from ml_service.serving.settings import read_scoring_key

    return read_scoring_key(env)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((process.DEFAULT_HOST, 0))
        return int(probe.getsockname()[1])


class Rollouts:
    """The deploy commands' logic, on one workspace's settings and project database."""

    def __init__(self, env: Env, state: DeploymentState | None = None) -> None:
        from ml_service.registry.database import registry_engine

        self.env = env
        self.state = state or DeploymentState(registry_engine(env))

    # Model versions.
    def resolve(self, endpoint: str, model_uri: str | None) -> tuple[str, str, str]:
        """The (name, version, pinned URI) to deploy: the URI given, else the default.

        The default is what staging serves for production, `@champion` otherwise.
        """
        from ml_service.models.resolve import resolve_model_uri

        if model_uri is None and endpoint == PRODUCTION:
            serving = self._serving(STAGING)
            if serving is None:
                raise EndpointError(
                    "staging serves nothing to promote: run `mlops deploy --env staging` first"
                )
            return serving.model_name, serving.model_version, serving.model_uri
        uri = model_uri or f"models:/{self.env.model_name}@{Alias.CHAMPION}"
        resolved = resolve_model_uri(uri, self.env)
        pinned = f"models:/{resolved.name}/{resolved.version}" if resolved.version else uri
        return resolved.name, resolved.version, pinned

    def _serving(self, endpoint: str) -> Deployment | None:
        deployments = [d for d in self.state.deployments(endpoint) if d.traffic > 0]
        return max(deployments, key=lambda d: (d.traffic, d.created_at), default=None)

    def _set_alias(self, name: str, version: str) -> None:
        from mlflow import MlflowClient

        uri = self.env.tracking_uri
        MlflowClient(tracking_uri=uri, registry_uri=uri).set_registered_model_alias(
            name, Alias.PRODUCTION, version
        )
        log.info("alias @%s now on %s version %s", Alias.PRODUCTION, name, version)

    # The endpoint's service.
    def _ensure_running(self, endpoint: str, port: int | None) -> process.EndpointProcess:
        found = process.running(self.env, endpoint)
        if found is not None:
            return found
        record = self.state.ensure_endpoint(endpoint, port or _free_port(), _key_ref(self.env))
        assert record.port is not None
        return process.start(self.env, endpoint, record.port)

    def _wait_loaded(self, service: process.EndpointProcess, name: str, uri: str) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            _, body = process.fetch_json(f"{service.url}/endpoint")
            if body:
                for deployment in body["deployments"]:
                    if deployment["name"] == name and deployment["model_uri"] == uri:
                        return
                failure = body.get("failed", {}).get(name)
                if failure and failure["model_uri"] == uri:
                    raise DeploymentFailedError(f"the model did not load: {failure['reason']}")
            elif not process.pid_alive(service.pid):
                raise DeploymentFailedError(f"the service stopped; see {service.log_file}")
            time.sleep(0.2)
        raise DeploymentFailedError(f"the service did not load {uri} in {WAIT_SECONDS:.0f} s")

    def _wait_traffic(self, service: process.EndpointProcess, traffic: dict[str, int]) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            _, body = process.fetch_json(f"{service.url}/endpoint")
            if body and {d["name"]: d["traffic"] for d in body["deployments"]} == traffic:
                return
            time.sleep(0.2)
        raise EndpointError(f"the service did not apply the traffic {traffic} in time")

    def _give_all_traffic(
        self,
        endpoint: str,
        service: process.EndpointProcess,
        deployment: Deployment,
        action: str,
        detail: str = "",
    ) -> None:
        """Send all traffic to `deployment`, wait for the service, move the alias, record it."""
        traffic = {deployment.name: 100}
        self.state.set_traffic(endpoint, traffic)
        self._wait_traffic(service, traffic)
        if endpoint == PRODUCTION:
            self._set_alias(deployment.model_name, deployment.model_version)
        self.state.record(
            endpoint,
            action,
            deployment=deployment.name,
            model_name=deployment.model_name,
            model_version=deployment.model_version,
            detail=detail,
        )

    def _smoke_test(self, service: process.EndpointProcess, deployment: str) -> None:
        from ml_service.serving.smoke_test import SmokeTestError, call_scoring_service

        try:
            predictions = call_scoring_service(
                service.url,
                _scoring_key(self.env),
                attempts=5,
                headers={"azureml-model-deployment": deployment},
            )
        except SmokeTestError as err:
            raise DeploymentFailedError(f"smoke test failed: {err}") from None
        log.info("smoke test passed on %s: %s", deployment, predictions)

    def _result(self, endpoint: str, url: str, message: str) -> RolloutResult:
        return RolloutResult(
            endpoint=endpoint,
            url=url,
            message=message,
            traffic={
                d.name: (d.model_version, d.traffic) for d in self.state.deployments(endpoint)
            },
        )

    # Commands.
    def deploy(
        self,
        endpoint: str,
        model_uri: str | None = None,
        *,
        canary: int | None = None,
        port: int | None = None,
        action: str | None = None,
    ) -> RolloutResult:
        """Roll a model version out to `endpoint`, all of it or a canary share.

        Raises:
            DeploymentFailedError: the model did not load or its smoke test failed; the
                previous deployment serves on.
            EndpointError: a canary is already in progress, or nothing to promote.
        """
        with process.deploy_lock(self.env, endpoint):
            name, version, uri = self.resolve(endpoint, model_uri)
            return self._roll_out(endpoint, name, version, uri, canary, port, action)

    def _roll_out(
        self,
        endpoint: str,
        name: str,
        version: str,
        uri: str,
        canary: int | None,
        port: int | None,
        action: str | None,
    ) -> RolloutResult:
        current = self.state.deployments(endpoint)
        action = action or ("canary" if canary else "deploy")
        if len(current) > 1:
            raise EndpointError(
                f"a canary is in progress on {endpoint}: run `mlops deploy promote --env "
                f"{endpoint}` or `mlops deploy rollback --env {endpoint}` first"
            )
        old = current[0] if current else None
        if canary is not None and old is None:
            raise EndpointError(f"{endpoint} serves nothing yet: deploy without --canary first")
        service_before = process.running(self.env, endpoint)
        if old is not None and old.model_uri == uri and service_before is not None:
            return self._result(endpoint, service_before.url, f"already serving version {version}")
        new = next(n for n in DEPLOYMENT_NAMES if old is None or n != old.name)
        self.state.ensure_endpoint(endpoint, port or _free_port(), _key_ref(self.env))
        self.state.add_deployment(endpoint, new, name, version, uri)
        service = None
        try:
            service = self._ensure_running(endpoint, port)
            self._wait_loaded(service, new, uri)
            self._smoke_test(service, new)
        except MlopsError as err:
            self.state.remove_deployment(endpoint, new)
            self.state.record(
                endpoint,
                action,
                deployment=new,
                model_name=name,
                model_version=version,
                smoke_test="failed",
                detail=str(err),
            )
            if old is None and service is not None:
                process.stop(self.env, endpoint)
            elif old is not None and service is not None and process.pid_alive(service.pid):
                # Return once the service has dropped the failed deployment too, so what
                # the error says ("keeps serving") is what /health and /endpoint show.
                with contextlib.suppress(EndpointError):
                    self._wait_traffic(service, {old.name: old.traffic})
            keeps = f"; version {old.model_version} keeps serving" if old else ""
            raise DeploymentFailedError(
                f"{endpoint}: version {version} not deployed: {err}{keeps}"
            ) from None
        if canary is not None and old is not None:
            traffic = {old.name: 100 - canary, new: canary}
        else:
            traffic = {new: 100}
        self.state.set_traffic(endpoint, traffic)
        self._wait_traffic(service, traffic)
        if endpoint == PRODUCTION and canary is None:
            self._set_alias(name, version)
        self.state.record(
            endpoint,
            action,
            deployment=new,
            model_name=name,
            model_version=version,
            smoke_test="passed",
        )
        share = f"{canary} % of the traffic" if canary is not None else "all the traffic"
        return self._result(
            endpoint, service.url, f"{endpoint}: {name} version {version} takes {share} ({new})"
        )

    def promote(self, endpoint: str) -> RolloutResult:
        """Give the canary all the traffic; on production the alias moves to it."""
        with process.deploy_lock(self.env, endpoint):
            current = self.state.deployments(endpoint)
            if len(current) != 2:
                raise EndpointError(f"{endpoint} has no canary to promote")
            service = self._service(endpoint)
            canary = max(current, key=lambda d: d.created_at)
            self._give_all_traffic(endpoint, service, canary, "promote")
            return self._result(
                endpoint,
                service.url,
                f"{endpoint}: version {canary.model_version} takes all the traffic",
            )

    def rollback(self, endpoint: str) -> RolloutResult:
        """Back to the previous good version: drop a canary, or redeploy the version before.

        Raises:
            EndpointError: nothing serves, or no earlier version was ever fully deployed.
        """
        with process.deploy_lock(self.env, endpoint):
            current = self.state.deployments(endpoint)
            if not current:
                raise EndpointError(f"{endpoint} serves nothing to roll back")
            service = self._service(endpoint)
            if len(current) == 2:
                kept = min(current, key=lambda d: d.created_at)
                self._give_all_traffic(endpoint, service, kept, "rollback", "canary removed")
                return self._result(
                    endpoint, service.url, f"{endpoint}: back to version {kept.model_version}"
                )
            previous = previous_good(self.state.history(endpoint), current[0].model_uri)
            if previous is None:
                raise EndpointError(f"{endpoint} has no earlier version to roll back to")
            name, version = previous
            uri = f"models:/{name}/{version}"
            return self._roll_out(endpoint, name, version, uri, None, None, "rollback")

    def _service(self, endpoint: str) -> process.EndpointProcess:
        service = process.running(self.env, endpoint)
        if service is None:
            raise EndpointError(f"endpoint {endpoint} is not running")
        return service

    def stop(self, endpoint: str) -> int | None:
        """Stop the endpoint's service and clear its deployments; the pid stopped, if any."""
        with process.deploy_lock(self.env, endpoint):
            pid = process.stop(self.env, endpoint)
            if self.state.endpoint(endpoint) is not None:
                self.state.clear(endpoint)
                self.state.record(endpoint, "stop", detail=f"pid {pid}" if pid else "not running")
            return pid

    def status(self) -> list[EndpointStatus]:
        """Every endpoint: URL, pid, health, and each deployment's version, share and counts."""
        found = []
        for endpoint in self.state.endpoints():
            service = process.running(self.env, endpoint.name)
            desired = self.state.deployments(endpoint.name)
            live: dict[str, Any] = {}
            health = "stopped"
            if service is not None:
                _, body = process.fetch_json(f"{service.url}/endpoint")
                live = body or {}
                ready, _ = process.fetch_json(f"{service.url}/ready")
                health = {200: "ready", 0: "not answering"}.get(ready, f"HTTP {ready}")
            counts = {d["name"]: d for d in live.get("deployments", [])}
            rows = [
                {
                    "name": d.name,
                    "model": f"{d.model_name}:{d.model_version}",
                    "traffic": d.traffic,
                    "since": d.traffic_since.isoformat(timespec="seconds"),
                    "requests": counts.get(d.name, {}).get("requests"),
                    "errors": counts.get(d.name, {}).get("errors"),
                    "p99_ms": counts.get(d.name, {}).get("p99_ms"),
                }
                for d in desired
            ]
            if not desired and service is None:
                continue
            found.append(
                EndpointStatus(
                    endpoint=endpoint.name,
                    url=service.url if service else None,
                    pid=service.pid if service else None,
                    health=health,
                    since=live.get("since"),
                    deployments=rows,
                )
            )
        return found


def previous_good(entries: list[HistoryEntry], current_uri: str) -> tuple[str, str] | None:
    """The version that fully served before the current one, per the history; None if none.

    Rollbacks themselves are skipped, so rolling back twice does not bounce
    between two versions but walks further back.
    """
    served = [
        (e.model_name, e.model_version)
        for e in entries
        if e.action in FULL_ROLLOUTS and e.smoke_test != "failed" and e.model_name
    ]
    current = next(
        (i for i in range(len(served) - 1, -1, -1) if _uri(served[i]) == current_uri), None
    )
    if current is None:
        return None
    for candidate in reversed(served[:current]):
        if _uri(candidate) != current_uri:
            return candidate  # type: ignore[return-value]
    return None


def _uri(entry: tuple[str | None, str | None]) -> str:
    return f"models:/{entry[0]}/{entry[1]}"
