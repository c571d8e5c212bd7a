"""A real Prometheus (Debian's package) scrapes the six running services and evaluates our alerts.

Prometheus runs as a subprocess on a free loopback port with a generated config: one job
per service (the job names the production ServiceMonitors give), plus a decoy target on a
closed port inside the routing job. It loads the real alert rules of
deploy/k8s/base/observability/prometheus-rules.yaml and one sentinel rule. The test proves:
every service target is up; every real rule evaluates without error on live data; the real
``CustomerAgentTargetDown`` rule matches the decoy (pending) and nothing else; the sentinel
``customer_agent_service_ready == 1`` fires once per service.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy/k8s/base/observability/prometheus-rules.yaml"
SERVICE_PORTS = {
    "admin-api": int(os.environ.get("ADMIN_HTTP_PORT", "8000")),
    "ingestion": int(os.environ.get("INGESTION_HTTP_PORT", "8001")),
    "conversation": int(os.environ.get("CONVERSATION_HTTP_PORT", "8002")),
    "routing": int(os.environ.get("ROUTING_HTTP_PORT", "8003")),
    "billing": int(os.environ.get("BILLING_HTTP_PORT", "8004")),
    "webchat": int(os.environ.get("WEBCHAT_HTTP_PORT", "8005")),
}
SENTINEL = "CustomerAgentSentinelServiceReady"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prometheus_binary() -> str:
    """Debian's prometheus binary, installed with apt-get when missing (as make up does for its packages)."""
    found = shutil.which("prometheus")
    if found is None and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=300)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "prometheus"],
            check=True,
            env=env,
            timeout=300,
        )
        subprocess.run(["service", "prometheus", "stop"], check=False, capture_output=True)
        found = shutil.which("prometheus")
    if found is None:
        pytest.fail("prometheus is not installed: apt-get install prometheus (Debian package)")
    return found


def write_config(directory: Path, decoy_port: int) -> Path:
    """prometheus.yml: the six services, the decoy, the real rules and the sentinel rule."""
    rules = yaml.safe_load(RULES.read_text())["spec"]
    (directory / "rules.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
    sentinel = {
        "groups": [
            {
                "name": "sentinel",
                "rules": [
                    {"alert": SENTINEL, "expr": "customer_agent_service_ready == 1", "labels": {"severity": "none"}}
                ],
            }
        ]
    }
    (directory / "sentinel.yml").write_text(yaml.safe_dump(sentinel, sort_keys=False))
    scrape = []
    for service, port in SERVICE_PORTS.items():
        targets = [f"127.0.0.1:{port}"]
        if service == "routing":
            targets.append(f"127.0.0.1:{decoy_port}")
        # honor_labels as in the ServiceMonitors: the metrics' own `service` label wins.
        scrape.append({"job_name": service, "honor_labels": True, "static_configs": [{"targets": targets}]})
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(directory / "rules.yml"), str(directory / "sentinel.yml")],
        "scrape_configs": scrape,
    }
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[httpx.Client, int]]:
    """A running Prometheus scraping the local services; yields its API client and the decoy port."""
    binary = prometheus_binary()
    decoy_port = free_port()
    port = free_port()
    config = write_config(tmp_path, decoy_port)
    log = (tmp_path / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5)
    try:
        wait_for(lambda: ready(client), "Prometheus to start", process=process, log=tmp_path / "prometheus.log")
        yield client, decoy_port
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def ready(client: httpx.Client) -> bool:
    """Prometheus answers /-/ready."""
    try:
        return client.get("/-/ready").status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(
    condition: Any,
    what: str,
    *,
    timeout: float = 60.0,
    process: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            pytest.fail(f"prometheus exited with {process.returncode}: {log.read_text() if log else ''}")
        result = condition()
        if result:
            return result
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def test_prometheus_scrapes_every_service_and_evaluates_the_alerts(prometheus: tuple[httpx.Client, int]) -> None:
    client, decoy_port = prometheus
    # customer_agent_service_ready is set when /readyz runs (kubelet probes do it in a cluster).
    for service, port in SERVICE_PORTS.items():
        response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert response.status_code == 200, f"{service} is not ready: {response.text}"

    def service_targets_up() -> dict[str, str] | None:
        targets = client.get("/api/v1/targets").json()["data"]["activeTargets"]
        health = {t["labels"]["instance"]: t["health"] for t in targets}
        wanted = {f"127.0.0.1:{port}" for port in SERVICE_PORTS.values()}
        # The decoy is scraped on its own schedule: until its first scrape its health is "unknown".
        decoy_scraped = health.get(f"127.0.0.1:{decoy_port}", "unknown") != "unknown"
        return health if decoy_scraped and all(health.get(instance) == "up" for instance in wanted) else None

    health = wait_for(service_targets_up, "every service target to be up and the decoy scraped")
    assert health[f"127.0.0.1:{decoy_port}"] == "down"
    assert len(health) == len(SERVICE_PORTS) + 1

    def alerts_settled() -> list[dict[str, Any]] | None:
        alerts: list[dict[str, Any]] = client.get("/api/v1/alerts").json()["data"]["alerts"]
        sentinel = [a for a in alerts if a["labels"]["alertname"] == SENTINEL and a["state"] == "firing"]
        down = [a for a in alerts if a["labels"]["alertname"] == "CustomerAgentTargetDown"]
        return alerts if len(sentinel) == len(SERVICE_PORTS) and down else None

    alerts = wait_for(alerts_settled, "the rules to evaluate on scraped data", timeout=30)

    # The sentinel fired once per service, with the service label the services export.
    fired = {a["labels"]["service"] for a in alerts if a["labels"]["alertname"] == SENTINEL}
    assert fired == set(SERVICE_PORTS)
    # The real TargetDown rule matches exactly the decoy (pending for its 5m `for`), no service.
    down = [a for a in alerts if a["labels"]["alertname"] == "CustomerAgentTargetDown"]
    assert [(a["labels"]["instance"], a["labels"]["job"], a["state"]) for a in down] == [
        (f"127.0.0.1:{decoy_port}", "routing", "pending")
    ]
    # Healthy services: none of the real availability alerts is active for them.
    for name in ("CustomerAgentNotReady", "CustomerAgentDependencyDown", "CustomerAgentReadinessFlapping"):
        assert not [a for a in alerts if a["labels"]["alertname"] == name], name

    # Every real rule was evaluated against the live series without an error.
    groups = client.get("/api/v1/rules").json()["data"]["groups"]
    real = [rule for group in groups if group["name"] != "sentinel" for rule in group["rules"]]
    expected = yaml.safe_load(RULES.read_text())["spec"]["groups"]
    assert len(real) == sum(len(group["rules"]) for group in expected)
    broken = {rule["name"]: rule.get("lastError") for rule in real if rule["health"] != "ok"}
    assert not broken, broken
