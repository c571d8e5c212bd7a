"""The Kubernetes resources that run one service: Deployment, migrations Job, Service, PodDisruptionBudget
and ServiceMonitor (see ``generate.py``; how it scales and what it may reach: ``policies.py``)."""

from __future__ import annotations

from typing import Any

from discovery import (
    INFRA_SECRET_KEYS,
    KAFKA_CA_DIR,
    KAFKA_CA_SECRET,
    PART_OF,
    REPO,
    ServiceInfo,
    Setting,
)
from kafka_users import SASL_PASSWORD_KEY

INFRA_SECRET = "customer-agent-infra"
SHARED_CONFIG = "customer-agent-shared"
# Services that take traffic from outside the namespace: the REST API and the visitors' webchat sockets.
RUN_AS_USER = 10001
# The built-in embedding model is built in memory at start-up: for a few seconds each process that embeds
# holds ~150 MiB more than it runs with (measured locally with float32 weights: conversation peaks at
# ~590 MiB, then holds ~450; ingestion ~700, then ~530; int8 holds ~150 MiB less). Ingestion's pod also
# holds an upload parser and INGESTION_PARSE_WORKERS page workers (2), each process limited to its address
# space (INGESTION_PARSE_MEMORY_BYTES 256 MiB, INGESTION_PAGE_PARSE_MEMORY_BYTES 512 MiB; a page worker
# idles at ~135 MiB resident): the limit holds the service and every parser at its limit at once.
MEMORY_LIMITS = {"ingestion": "2Gi", "conversation": "1Gi"}
MEMORY_REQUESTS = {"ingestion": "768Mi", "conversation": "512Mi"}  # what they hold when idle


def labels(service: ServiceInfo, component: str = "server") -> dict[str, str]:
    """The recommended Kubernetes labels of one service's objects."""
    return {
        "app.kubernetes.io/name": service.name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
    }


def selector(service: ServiceInfo) -> dict[str, str]:
    """Labels that select the service's serving pods."""
    return {"app.kubernetes.io/name": service.name, "app.kubernetes.io/component": "server"}


def image(service: ServiceInfo) -> str:
    """Image name; overlays pin the registry and tag with ``images:``."""
    return f"customer-agent/{service.name}"


def pod_security() -> dict[str, Any]:
    """Pod-level security context: non-root, the image's user, default seccomp."""
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "runAsGroup": RUN_AS_USER,
        "fsGroup": RUN_AS_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security() -> dict[str, Any]:
    """Container-level security context: read-only root, no privilege escalation, no capabilities."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def env_sources(service: ServiceInfo) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``envFrom`` (ConfigMaps) and ``env`` (Secret references) of a service container."""
    env_from = [{"configMapRef": {"name": SHARED_CONFIG}}, {"configMapRef": {"name": service.config_name}}]
    env: list[dict[str, Any]] = []
    for setting in service.settings:
        if not setting.secret:
            continue
        if setting.env in INFRA_SECRET_KEYS:
            ref = {"name": INFRA_SECRET, "key": INFRA_SECRET_KEYS[setting.env]}
        elif setting.env == "KAFKA_SASL_PASSWORD":
            # Strimzi's User Operator creates a Secret named after the KafkaUser; optional for PLAINTEXT overlays.
            ref = {"name": service.name, "key": SASL_PASSWORD_KEY, "optional": True}
        else:
            key = setting.env.removeprefix(service.env_prefix).lower().replace("_", "-")
            ref = {"name": service.secret_name, "key": key, "optional": not setting.required}
        env.append({"name": setting.env, "valueFrom": {"secretKeyRef": ref}})
    return env_from, env


def memory_request(service: ServiceInfo, command: str) -> str:
    """The container's memory request: 256Mi unless the server holds more when idle (``MEMORY_REQUESTS``)."""
    return MEMORY_REQUESTS.get(service.name, "256Mi") if command == "serve" else "256Mi"


def memory_limit(service: ServiceInfo, command: str) -> str:
    """The container's memory limit: 512Mi unless the server needs more (``MEMORY_LIMITS``)."""
    return MEMORY_LIMITS.get(service.name, "512Mi") if command == "serve" else "512Mi"


def container(service: ServiceInfo, command: str) -> dict[str, Any]:
    """The service container running ``<script> <command>``."""
    env_from, env = env_sources(service)
    body: dict[str, Any] = {
        "name": service.name,
        "image": image(service),
        "imagePullPolicy": "IfNotPresent",
        "args": [command],
        "envFrom": env_from,
        "env": env,
        "securityContext": container_security(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        "resources": {
            "requests": {"cpu": "100m", "memory": memory_request(service, command)},
            "limits": {"cpu": "1", "memory": memory_limit(service, command)},
        },
    }
    if command == "serve":
        body["volumeMounts"].append({"name": "kafka-cluster-ca", "mountPath": KAFKA_CA_DIR, "readOnly": True})
        body["ports"] = [{"name": "http", "containerPort": service.port, "protocol": "TCP"}]
        body["startupProbe"] = {
            "httpGet": {"path": "/healthz", "port": "http"},
            "periodSeconds": 2,
            "failureThreshold": 60,
        }
        body["livenessProbe"] = {
            "httpGet": {"path": "/healthz", "port": "http"},
            "periodSeconds": 20,
            "timeoutSeconds": 3,
            "failureThreshold": 3,
        }
        body["readinessProbe"] = {
            "httpGet": {"path": "/readyz", "port": "http"},
            "periodSeconds": 10,
            "timeoutSeconds": 3,
            "failureThreshold": 3,
        }
    return body


def deployment(service: ServiceInfo) -> dict[str, Any]:
    """The long-running service."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": service.name, "labels": labels(service)},
        "spec": {
            # No replicas: the HPA / KEDA ScaledObject owns the count, so `kubectl apply` never resets it.
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(service)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {
                    "labels": labels(service),
                    "annotations": {"kubectl.kubernetes.io/default-container": service.name},
                },
                "spec": {
                    "serviceAccountName": "customer-agent",
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security(),
                    "terminationGracePeriodSeconds": service.shutdown_grace_seconds + 5,
                    "containers": [container(service, "serve")],
                    "volumes": [
                        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                        {
                            "name": "kafka-cluster-ca",
                            "secret": {"secretName": KAFKA_CA_SECRET, "items": [{"key": "ca.crt", "path": "ca.crt"}]},
                        },
                    ],
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": key,
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": selector(service)},
                        }
                        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
                    ],
                },
            },
        },
    }


def migrations_job(service: ServiceInfo) -> dict[str, Any]:
    """``<script> migrate``: applies the service's Alembic migrations before a rollout."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": f"{service.name}-migrate", "labels": labels(service, "migrations")},
        "spec": {
            "backoffLimit": 3,
            "activeDeadlineSeconds": 600,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"labels": labels(service, "migrations")},
                "spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": "customer-agent",
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security(),
                    "containers": [container(service, "migrate")],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
                },
            },
        },
    }


def has_migrations(service: ServiceInfo) -> bool:
    """Whether the service keeps PostgreSQL tables (webchat keeps its state in Redis: no Job)."""
    return (REPO / service.directory / "src" / service.package / "migrations").is_dir()


def k8s_service(service: ServiceInfo) -> dict[str, Any]:
    """ClusterIP Service in front of the pods."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": service.name, "labels": labels(service)},
        "spec": {
            "type": "ClusterIP",
            "selector": selector(service),
            "ports": [{"name": "http", "port": service.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def pdb(service: ServiceInfo) -> dict[str, Any]:
    """At most one pod of the service is voluntarily evicted at a time."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": service.name, "labels": labels(service)},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(service)}},
    }


def service_monitor(service: ServiceInfo) -> dict[str, Any]:
    """Prometheus Operator scrape of /metrics."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": service.name, "labels": labels(service)},
        "spec": {
            "selector": {"matchLabels": selector(service)},
            # honorLabels keeps the metrics' own ``service`` label (not the target's Service name).
            "endpoints": [
                {"port": "http", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s", "honorLabels": True}
            ],
        },
    }


def kafka_username(service: ServiceInfo) -> Setting:
    """The service's own ConfigMap names its KafkaUser (``base/kafka/users.yaml``), whose Secret holds the password."""
    return Setting(
        "KAFKA_SASL_USERNAME",
        service.name,
        secret=False,
        shared=False,
        description="The service's KafkaUser (base/kafka/users.yaml); its password comes from Strimzi's Secret.",
    )
