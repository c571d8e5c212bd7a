"""The rendered overlays say what the issue asks, and agree with the code.

Rendering uses the same pinned kubectl that ``check.sh`` installs (it installs it on first
use); the assertions read the resources, not the source YAML.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

K8S = Path(__file__).resolve().parents[1]
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
# Services that take traffic from outside the namespace: the REST API and the visitors' webchat sockets.
PUBLIC_SERVICES = {"admin-api", "webchat"}
# Services that keep their state outside PostgreSQL (webchat: browser sessions in Redis), so no migrations Job.
WITHOUT_DATABASE = {"webchat"}
Resource = dict[str, Any]


@pytest.fixture(scope="session")
def tools() -> Path:
    """The k8s-check tool environment (installed by check.sh on first use)."""
    result = subprocess.run(
        ["bash", str(K8S / "check.sh")],
        env={**os.environ, "K8S_CHECK_INSTALL_ONLY": "1"},
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def rendered(tools: Path) -> dict[str, list[Resource]]:
    """Every overlay built with ``kubectl kustomize``."""
    out = {}
    for overlay in OVERLAYS:
        text = subprocess.run(
            [str(tools / "bin" / "kubectl"), "kustomize", str(K8S / "overlays" / overlay)],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        out[overlay] = [doc for doc in yaml.safe_load_all(text) if doc]
    return out


def by_kind(resources: list[Resource]) -> dict[str, dict[str, Resource]]:
    """kind → name → resource."""
    index: dict[str, dict[str, Resource]] = defaultdict(dict)
    for resource in resources:
        index[resource["kind"]][resource["metadata"]["name"]] = resource
    return index


def test_overlays_exist() -> None:
    assert {"dev", "prod"} <= set(OVERLAYS)


def test_generated_files_match_the_code() -> None:
    import generate

    stale = [str(p) for p, content in generate.render().items() if not p.exists() or p.read_text() != content]
    assert not stale, f"run `uv run python deploy/k8s/generate.py`: {stale}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_is_deployed_safely(
    overlay: str, rendered: dict[str, list[Resource]], services: list[dict[str, Any]]
) -> None:
    index = by_kind(rendered[overlay])
    for service in services:
        name = service["name"]
        pod = index["Deployment"][name]["spec"]["template"]["spec"]
        [container] = pod["containers"]
        assert container["args"] == ["serve"]
        assert container["ports"] == [{"name": "http", "containerPort": service["port"], "protocol": "TCP"}]
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert "memory" in container["resources"]["limits"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert {c["topologyKey"] for c in pod["topologySpreadConstraints"]} == {
            "topology.kubernetes.io/zone",
            "kubernetes.io/hostname",
        }
        assert index["Service"][name]["spec"]["ports"][0]["port"] == service["port"]
        assert index["PodDisruptionBudget"][name]["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == name
        monitor = index["ServiceMonitor"][name]["spec"]["endpoints"][0]
        assert (monitor["port"], monitor["path"], monitor["honorLabels"]) == ("http", "/metrics", True)
        if name in WITHOUT_DATABASE:
            assert f"{name}-migrate" not in index["Job"], f"{name} has no tables to migrate"
            continue
        job = index["Job"][f"{name}-migrate"]["spec"]["template"]["spec"]
        assert job["containers"][0]["args"] == ["migrate"]
        assert job["containers"][0]["image"] == container["image"]
        assert job["restartPolicy"] == "Never"


def _millicores(quantity: str) -> float:
    return float(quantity[:-1]) if quantity.endswith("m") else float(quantity) * 1000


def test_the_reply_path_requests_the_most_cpu_in_prod(rendered: dict[str, list[Resource]]) -> None:
    deployments = by_kind(rendered["prod"])["Deployment"]
    requested = {
        name: _millicores(deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"])
        for name, deployment in deployments.items()
    }
    # A visitor's reply waits on routing and conversation; CPU requests are what keeps the background
    # services (uploads, crawls, metering) from taking their cores on a busy node.
    reply_path = {"routing", "conversation"}
    assert reply_path <= set(requested)
    assert min(requested[name] for name in reply_path) > max(
        cpu for name, cpu in requested.items() if name not in reply_path
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_setting_reaches_the_pods(
    overlay: str, rendered: dict[str, list[Resource]], services: list[dict[str, Any]]
) -> None:
    """Every field of every settings class is a ConfigMap key or a Secret reference (from the code)."""
    import generate

    index = by_kind(rendered[overlay])
    by_name = {s.name: s for s in generate.discover_services()}
    for service in services:
        [container] = index["Deployment"][service["name"]]["spec"]["template"]["spec"]["containers"]
        provided: dict[str, str] = {}
        for source in container["envFrom"]:
            provided.update(dict.fromkeys(index["ConfigMap"][source["configMapRef"]["name"]]["data"], "configmap"))
        for entry in container["env"]:
            assert "secretKeyRef" in entry["valueFrom"], entry
            provided[entry["name"]] = "secret"
        for setting in by_name[service["name"]].settings:
            expected = "secret" if setting.secret else "configmap"
            if setting.default is None and not setting.secret:
                continue  # no default: the overlay must set it (documented in the .env file)
            assert provided.get(setting.env) == expected, f"{service['name']}: {setting.env} not from a {expected}"
        assert provided[f"{service['env_prefix']}RUN_MIGRATIONS_ON_START"] == "configmap"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_scaling(overlay: str, rendered: dict[str, list[Resource]], services: list[dict[str, Any]]) -> None:
    index = by_kind(rendered[overlay])
    for service in services:
        name = service["name"]
        has_hpa, has_keda = name in index["HorizontalPodAutoscaler"], name in index["ScaledObject"]
        assert has_hpa != has_keda, f"{name}: exactly one autoscaler (KEDA owns its own HPA)"
        if name == "admin-api":
            assert has_hpa
            continue
        spec = index["ScaledObject"][name]["spec"]
        kafka = [t["metadata"] for t in spec["triggers"] if t["type"] == "kafka"]
        assert sorted(t["topic"] for t in kafka) == service["subscriptions"]
        assert all(t["consumerGroup"] == f"{name}.{t['topic']}" for t in kafka)
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies(overlay: str, rendered: dict[str, list[Resource]], services: list[dict[str, Any]]) -> None:
    index = by_kind(rendered[overlay])
    deny = index["NetworkPolicy"]["default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for service in services:
        policy = index["NetworkPolicy"][service["name"]]["spec"]
        open_to_all = [rule for rule in policy["ingress"] if "from" not in rule]
        if service["name"] in PUBLIC_SERVICES:
            assert open_to_all, f"{service['name']} takes ingress"
            assert open_to_all == [{"ports": [{"protocol": "TCP", "port": service["port"]}]}]
        else:
            assert not open_to_all, f"{service['name']} must not take ingress"
            for rule in policy["ingress"]:
                assert rule["from"] == [
                    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
                ]
        ports = {p["port"] for rule in policy["egress"] for p in rule.get("ports", [])}
        assert {53, 9092, 5432, 6379} <= ports
        assert (9200 in ports) == service["uses_opensearch"]
        if service["name"] == "ingestion":
            # The crawler: web ports only towards public addresses, its stores only at private ones; no rule
            # opens ports to every address.
            for rule in policy["egress"]:
                assert "to" in rule, rule
                web = {p["port"] for p in rule.get("ports", [])} & {80, 443}
                if web:
                    [block] = rule["to"]
                    assert {"10.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10"} <= set(block["ipBlock"]["except"])
                else:
                    assert all(destination.get("ipBlock", {}).get("cidr") != "0.0.0.0/0" for destination in rule["to"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_crawler_may_not_reach_where_its_stores_are(overlay: str, rendered: dict[str, list[Resource]]) -> None:
    """A private network the crawler is allowed must not overlap those the NetworkPolicy opens the stores'
    ports in (9200 included): a source could crawl in-cluster OpenSearch there."""
    import ipaddress

    index = by_kind(rendered[overlay])
    [config] = [m for name, m in index["ConfigMap"].items() if name.startswith("ingestion-config")]
    allowed = [
        ipaddress.ip_network(cidr.strip(), strict=False)
        for cidr in config["data"].get("INGESTION_ALLOWED_PRIVATE_NETWORKS", "").split(",")
        if cidr.strip()
    ]
    stores = [
        ipaddress.ip_network(destination["ipBlock"]["cidr"])
        for rule in index["NetworkPolicy"]["ingestion"]["spec"]["egress"]
        if 9200 in {port["port"] for port in rule.get("ports", [])}
        for destination in rule["to"]
    ]
    assert stores
    assert not [(a, s) for a in allowed for s in stores if a.version == s.version and a.overlaps(s)]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kafka_topics_follow_the_registry(overlay: str, rendered: dict[str, list[Resource]]) -> None:
    from customer_agent_shared.topics import TOPICS, all_topic_names

    topics = by_kind(rendered[overlay])["KafkaTopic"]
    assert set(topics) == set(all_topic_names())
    for spec in TOPICS:
        main = topics[spec.name]["spec"]
        assert main["topicName"] == spec.name
        assert main["partitions"] == spec.partitions(6)
        assert (main["config"]["cleanup.policy"] == "compact") == spec.compacted
        assert topics[spec.dead_letter_topic]["spec"]["config"]["cleanup.policy"] == "delete"
        assert topics[spec.name]["metadata"]["labels"]["strimzi.io/cluster"]


def test_alerts_and_dashboard(rendered: dict[str, list[Resource]]) -> None:
    index = by_kind(rendered["prod"])
    rules = index["PrometheusRule"]["customer-agent"]["spec"]["groups"]
    alerts = {rule["alert"] for group in rules for rule in group["rules"]}
    for wanted in (
        "ConsumerLag",
        "DeadLetters",
        "ErrorRate",
        "ReadinessFlapping",
        "CreditsExhausted",
        "CreditResetsBehind",
        "CreditResetFailures",
        "QuietChargeFailures",
        "BillingSchedulerFailing",
        "CrawlFailures",
    ):
        assert any(wanted in alert for alert in alerts), wanted
    dashboard = index["ConfigMap"]["customer-agent-dashboard"]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    titles = " ".join(p["title"] for p in json.loads(dashboard["data"]["customer-agent.json"])["panels"]).lower()
    for wanted in ("traffic", "errors", "latency", "saturation", "conversations", "answer rate", "handoffs", "credits"):
        assert wanted in titles, wanted
    assert "ingestion" in titles


def mebibytes(quantity: str) -> int:
    """A Kubernetes memory quantity in Mi (only the binary suffixes the manifests use)."""
    for suffix, factor in (("Gi", 1024), ("Mi", 1)):
        if quantity.endswith(suffix):
            return int(quantity.removesuffix(suffix)) * factor
    raise ValueError(quantity)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingestion_pod_holds_its_file_parser_beside_the_service(
    overlay: str, rendered: dict[str, list[Resource]]
) -> None:
    # The parser process of an upload is limited to INGESTION_PARSE_MEMORY_BYTES and each page worker to
    # INGESTION_PAGE_PARSE_MEMORY_BYTES; the service holds ~530 MiB with the built-in embedding model. All
    # share the pod's memory limit.
    [container] = by_kind(rendered[overlay])["Deployment"]["ingestion"]["spec"]["template"]["spec"]["containers"]
    lines = (K8S / "base" / "config" / "ingestion.env").read_text().splitlines()
    config = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    parsers = int(config["INGESTION_PARSE_MEMORY_BYTES"]) + int(config["INGESTION_PARSE_WORKERS"]) * int(
        config["INGESTION_PAGE_PARSE_MEMORY_BYTES"]
    )
    assert mebibytes(container["resources"]["limits"]["memory"]) >= parsers // 2**20 + 530


def test_prod_pins_every_image_and_closes_the_demo_pages(rendered: dict[str, list[Resource]]) -> None:
    """An image left out of the overlay's ``images:`` would be pulled unpinned from Docker Hub."""
    index = by_kind(rendered["prod"])
    for deployment in index["Deployment"].values():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert container["image"].startswith("registry.example.com/"), container["image"]
            assert not container["image"].endswith(":latest"), container["image"]
            assert ":" in container["image"], container["image"]
    assert index["ConfigMap"]
    [webchat_config] = [m for name, m in index["ConfigMap"].items() if name.startswith("webchat-config")]
    assert webchat_config["data"]["WEBCHAT_ALLOW_OWN_ORIGIN"] == "false"
