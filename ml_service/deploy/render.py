"""Kubernetes manifests of an endpoint, for AKS or any cluster: `mlops deploy render`.

One Deployment per deployment (blue, green), each with `/health` liveness and
`/ready` readiness probes, resources, the scoring key from a Secret and a
HorizontalPodAutoscaler (1-3 replicas at 70 % CPU, MLOpsPython's AKS
settings); a Service per deployment and one for the endpoint; an Ingress to the
main deployment and, during a canary, a second one with ingress-nginx's canary
weight, so the split is the endpoint's traffic split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ml_service.deploy.process import serve_command
from ml_service.deploy.state import Deployment
from ml_service.errors import EndpointError

PORT = 8000
KEY_MOUNT = "/var/run/secrets/mlops"
MIN_REPLICAS, MAX_REPLICAS, TARGET_CPU = 1, 3, 70


def _labels(endpoint: str, deployment: Deployment | None = None) -> dict[str, str]:
    labels = {"app.kubernetes.io/name": "mlops-scoring", "mlops/endpoint": endpoint}
    if deployment is not None:
        labels["mlops/deployment"] = deployment.name
    return labels


def image_tag(image: str, deployment: Deployment) -> str:
    """The image of a deployment: one tag per model version (`mlops package` builds it)."""
    return f"{image}:{deployment.model_name}-{deployment.model_version}".replace("_", "-")


def manifests(
    endpoint: str, deployments: list[Deployment], image: str
) -> dict[str, dict[str, Any]]:
    """The manifests of `endpoint`, by file name.

    Raises:
        EndpointError: the endpoint has no deployment.
    """
    if not deployments:
        raise EndpointError(f"{endpoint} has no deployment to render; run `mlops deploy` first")
    found: dict[str, dict[str, Any]] = {}
    secret = f"{endpoint}-scoring-key"
    for d in deployments:
        name = f"{endpoint}-{d.name}"
        labels = {**_labels(endpoint, d), "mlops/model-version": d.model_version}
        probe = {"httpGet": {"port": PORT}, "periodSeconds": 10, "timeoutSeconds": 5}
        found[f"deployment-{d.name}.yaml"] = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "replicas": MIN_REPLICAS,
                "selector": {"matchLabels": _labels(endpoint, d)},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
                        "containers": [
                            {
                                "name": "scoring",
                                "image": image_tag(image, d),
                                "args": serve_command(endpoint, "0.0.0.0", PORT)[1:],
                                "ports": [{"containerPort": PORT, "name": "http"}],
                                "env": [
                                    {"name": "SCORING_KEY_FILE", "value": f"{KEY_MOUNT}/key"},
                                ],
                                "volumeMounts": [
                                    {
                                        "name": "scoring-key",
                                        "mountPath": KEY_MOUNT,
                                        "readOnly": True,
                                    }
                                ],
                                "livenessProbe": {
                                    **probe,
                                    "httpGet": {"path": "/health", "port": PORT},
                                    "initialDelaySeconds": 30,
                                },
                                "readinessProbe": {
                                    **probe,
                                    "httpGet": {"path": "/ready", "port": PORT},
                                },
                                "resources": {
                                    "requests": {"cpu": "500m", "memory": "1Gi"},
                                    "limits": {"cpu": "1", "memory": "2Gi"},
                                },
                            }
                        ],
                        "volumes": [
                            {
                                "name": "scoring-key",
                                "secret": {
                                    "secretName": secret,
                                    "items": [{"key": "key", "path": "key"}],
                                },
                            }
                        ],
                    },
                },
            },
        }
        found[f"hpa-{d.name}.yaml"] = {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": MIN_REPLICAS,
                "maxReplicas": MAX_REPLICAS,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": TARGET_CPU},
                        },
                    }
                ],
            },
        }
        found[f"service-{d.name}.yaml"] = _service(name, _labels(endpoint, d))
    found["service.yaml"] = _service(endpoint, _labels(endpoint))
    ordered = sorted(deployments, key=lambda d: (-d.traffic, d.created_at))
    main, canaries = ordered[0], [d for d in ordered[1:] if d.traffic > 0]
    found["ingress.yaml"] = _ingress(endpoint, endpoint, f"{endpoint}-{main.name}", {})
    for canary in canaries:
        found[f"ingress-canary-{canary.name}.yaml"] = _ingress(
            f"{endpoint}-{canary.name}",
            endpoint,
            f"{endpoint}-{canary.name}",
            {
                "nginx.ingress.kubernetes.io/canary": "true",
                "nginx.ingress.kubernetes.io/canary-weight": str(canary.traffic),
                # A request pinned to a deployment by header reaches it whatever the weight.
                "nginx.ingress.kubernetes.io/canary-by-header": "azureml-model-deployment",
                "nginx.ingress.kubernetes.io/canary-by-header-value": canary.name,
            },
        )
    return found


def _service(name: str, selector: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": selector},
        "spec": {
            "selector": selector,
            "ports": [{"name": "http", "port": 80, "targetPort": PORT}],
        },
    }


def _ingress(name: str, endpoint: str, service: str, annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "labels": _labels(endpoint), "annotations": annotations},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": service, "port": {"number": 80}}},
                            }
                        ]
                    }
                }
            ],
        },
    }


def write(found: dict[str, dict[str, Any]], out: Path) -> list[Path]:
    """Write the manifests into `out` (created); the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, manifest in sorted(found.items()):
        path = out / name
        path.write_text(yaml.safe_dump(manifest, sort_keys=False))
        written.append(path)
    return written
