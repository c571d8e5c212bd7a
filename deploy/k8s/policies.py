"""How one service scales (KEDA on Kafka lag, or a CPU HPA for the HTTP front door) and what it may reach
(its NetworkPolicy); see ``generate.py``."""

from __future__ import annotations

from typing import Any

from discovery import SHARED_OVERRIDES, ServiceInfo
from workloads import labels

INGRESS_SERVICE = "admin-api"  # the REST front door, scaled on CPU
PUBLIC_SERVICES = {INGRESS_SERVICE, "webchat"}
LAG_THRESHOLD = "50"


def consumer_concurrency(service: ServiceInfo) -> int:
    """Consumers one replica runs on each busy topic (its ``<PREFIX>_CONSUMER_CONCURRENCY`` default, else 1)."""
    for setting in service.settings:
        if setting.env == f"{service.env_prefix}CONSUMER_CONCURRENCY" and setting.default is not None:
            return int(setting.default)
    return 1


def uses_keda(service: ServiceInfo) -> bool:
    """Consumers scale on Kafka lag (KEDA); the HTTP front door on CPU."""
    return service.name != INGRESS_SERVICE and bool(service.subscriptions)


def autoscaler(service: ServiceInfo, partitions: dict[str, int]) -> dict[str, Any]:
    """KEDA ScaledObject on Kafka lag for consumers; a CPU HPA for the HTTP front door.

    KEDA manages its own HPA, so a Deployment gets one or the other, never both.
    """
    if not uses_keda(service):
        return {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": service.name, "labels": labels(service)},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": service.name},
                "minReplicas": 2,
                "maxReplicas": 6,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                    }
                ],
            },
        }
    triggers: list[dict[str, Any]] = [
        {
            "type": "kafka",
            "metadata": {
                "bootstrapServers": SHARED_OVERRIDES["KAFKA_BOOTSTRAP_SERVERS"],
                "consumerGroup": f"{service.consumer_group}.{topic}",
                "topic": topic,
                "lagThreshold": LAG_THRESHOLD,
                "offsetResetPolicy": "earliest",
                "sasl": "scram_sha512",
                "tls": "enable",
            },
            "authenticationRef": {"name": f"{service.name}-kafka"},
        }
        for topic in service.subscriptions
    ]
    triggers.append({"type": "cpu", "metricType": "Utilization", "metadata": {"value": "70"}})
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": service.name, "labels": labels(service)},
        "spec": {
            "scaleTargetRef": {"name": service.name},
            "pollingInterval": 15,
            "cooldownPeriod": 300,
            "minReplicaCount": 2,
            # More consumers than partitions would sit idle; each replica runs CONSUMER_CONCURRENCY of them.
            "maxReplicaCount": max(
                2, -(-max(partitions.get(topic, 1) for topic in service.subscriptions) // consumer_concurrency(service))
            ),
            "triggers": triggers,
        },
    }


PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


def network_policy(service: ServiceInfo) -> dict[str, Any]:
    """What the service's pods (server and migrations) may reach, and who may reach them."""
    # Kafka's plain (9092) and TLS (9093) listeners.
    ports = [("TCP", 9092), ("TCP", 9093), ("TCP", 5432), ("TCP", 6379)]
    if service.uses_opensearch:
        ports.append(("TCP", 9200))
    if service.uses_opensearch and service.name != "ingestion":
        # Managed OpenSearch and a hosted LLM answer on 443. Not for the crawler: a rule with ports and no
        # destination would open 443 on every address, private ranges included, cancelling the rule below.
        ports.append(("TCP", 443))
    egress: list[dict[str, Any]] = [
        {
            "to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        },
        # Kafka, PostgreSQL, Redis (and OpenSearch) may be in-cluster or managed services,
        # so egress is limited by port; overlays may narrow the destinations.
        {"ports": [{"protocol": proto, "port": port} for proto, port in ports]},
    ]
    if service.name == "ingestion":
        # The crawler's pod reaches its stores only at private addresses (in the cluster or the VPC): a rule
        # with ports and no destination would let it reach any address on those ports.
        egress[1]["to"] = [{"ipBlock": {"cidr": cidr}} for cidr in PRIVATE_RANGES]
    if service.name == "ingestion":
        # The crawler fetches public websites; private ranges stay closed (it refuses them too).
        egress.append(
            {
                "to": [
                    {
                        "ipBlock": {
                            "cidr": "0.0.0.0/0",
                            # Link-local holds cloud metadata; 100.64.0.0/10 (shared address space) too.
                            "except": [*PRIVATE_RANGES, "169.254.0.0/16", "100.64.0.0/10"],
                        }
                    }
                ],
                "ports": [{"protocol": "TCP", "port": 80}, {"protocol": "TCP", "port": 443}],
            }
        )
    scrape = {
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        "ports": [{"protocol": "TCP", "port": service.port}],
    }
    ingress = [scrape]
    if service.name in PUBLIC_SERVICES:
        ingress = [{"ports": [{"protocol": "TCP", "port": service.port}]}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        # Its own component, so it is applied before the migrations Job whose pods it also covers.
        "metadata": {"name": service.name, "labels": labels(service, "network-policy")},
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": service.name}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }
