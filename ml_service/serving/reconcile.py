"""Bring an endpoint's running service to the desired state in the project database.

A new deployment's model is loaded beside the ones serving, checked (its
features match the endpoint's, it predicts one number per row of its example),
and only then does a new routing table with the desired traffic replace the
old one. A deployment that fails to load or check is reported on `/endpoint`
and never routed to; the others keep serving.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

from ml_service.deploy.state import Deployment, DesiredState
from ml_service.errors import MlopsError, ModelLoadError
from ml_service.models.load import LoadedModel
from ml_service.serving.routing import LoadedDeployment, Router, RoutingTable

log = logging.getLogger(__name__)

Loader = Callable[[Deployment], LoadedModel]


def check_model(model: LoadedModel, features: tuple[str, ...] | None) -> None:
    """Check a loaded model can serve this endpoint.

    Raises:
        ModelLoadError: its features differ from the endpoint's, or it cannot predict.
    """
    if features is not None and model.features != features:
        raise ModelLoadError(
            f"model {model.uri} takes features {model.features}; the endpoint serves {features}"
        )
    rows = model.input_example or [[0.0] * len(model.features)]
    try:
        predictions = np.asarray(model.predict(np.asarray(rows, dtype=np.float64)))
    except Exception as err:  # a model's own failure, whatever its type
        raise ModelLoadError(f"model {model.uri} failed on its input example: {err}") from err
    if predictions.shape[:1] != (len(rows),):
        raise ModelLoadError(
            f"model {model.uri} answered {predictions.shape} for {len(rows)} example rows"
        )


class Reconciler:
    """Polls the desired state of one endpoint and applies it to the router."""

    def __init__(
        self,
        state: DesiredState,
        router: Router,
        loader: Loader,
        interval_seconds: float = 0.5,
    ) -> None:
        self.state = state
        self.router = router
        self.loader = loader
        self.interval = interval_seconds
        self.features: tuple[str, ...] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sync(self) -> bool:
        """Apply the desired state once; whether the routing table changed."""
        desired = self.state.deployments(self.router.endpoint)
        current = self.router.table
        loaded: dict[str, LoadedDeployment] = {}
        failed: dict[str, dict[str, str]] = {}
        for deployment in desired:
            kept = current.deployments.get(deployment.name)
            if kept is not None and _same_model(kept.model, deployment):
                loaded[deployment.name] = kept
                continue
            previous_failure = self.router.failed.get(deployment.name)
            if previous_failure and previous_failure["model_uri"] == deployment.model_uri:
                failed[deployment.name] = previous_failure
                continue
            try:
                model = self.loader(deployment)
                check_model(model, self.features)
            except MlopsError as err:
                log.error("deployment %s not loaded: %s", deployment.name, err)
                failed[deployment.name] = {
                    "model_uri": deployment.model_uri,
                    "model_version": deployment.model_version,
                    "reason": str(err),
                }
                continue
            self.features = self.features or model.features
            loaded[deployment.name] = LoadedDeployment(deployment.name, model)
            log.info(
                "deployment %s loaded: %s version %s",
                deployment.name,
                model.name,
                model.version,
            )
        traffic = {d.name: d.traffic for d in desired if d.name in loaded}
        self.router.failed = failed
        table = RoutingTable(loaded, traffic, current.since)
        if table.signature() == current.signature():
            return False
        split_changed = traffic != current.traffic
        if split_changed:
            # Counts are "since the split": a deployment whose share changed starts afresh.
            for name, deployment_loaded in loaded.items():
                if current.traffic.get(name) != traffic.get(name):
                    loaded[name] = LoadedDeployment(name, deployment_loaded.model)
            since = max((d.traffic_since for d in desired), default=datetime.now(UTC))
            table = RoutingTable(loaded, traffic, since)
        self.router.swap(table)
        log.info("traffic now %s", traffic or "none")
        return True

    def start(self) -> None:
        """Poll in a background thread until `stop()`."""
        self._thread = threading.Thread(target=self._run, name="reconcile", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sync()
            except Exception:  # the database may be briefly away; keep serving, retry
                log.exception("reconcile failed; keeping the current deployments")


def _same_model(model: LoadedModel, deployment: Deployment) -> bool:
    return model.uri == deployment.model_uri
