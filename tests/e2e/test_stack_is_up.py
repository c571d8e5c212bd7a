"""The whole local stack is up: every service ready, every topic present, stores answering."""

from __future__ import annotations

import os
import shutil
import subprocess

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import collect_records, end_offsets, produce_raw, unique_name
from customer_agent_shared.topics import all_topic_names

from tests.e2e import stack_control

pytestmark = pytest.mark.e2e

SERVICE_PORTS = {
    "admin-api": int(os.environ.get("ADMIN_HTTP_PORT", "8000")),
    "ingestion": int(os.environ.get("INGESTION_HTTP_PORT", "8001")),
    "conversation": int(os.environ.get("CONVERSATION_HTTP_PORT", "8002")),
    "routing": int(os.environ.get("ROUTING_HTTP_PORT", "8003")),
    "billing": int(os.environ.get("BILLING_HTTP_PORT", "8004")),
    "webchat": int(os.environ.get("WEBCHAT_HTTP_PORT", "8005")),
}


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
async def test_every_service_is_ready_and_exports_metrics(service: str) -> None:
    base = f"http://127.0.0.1:{SERVICE_PORTS[service]}"
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["service"] == service
        assert all(ready.json()["checks"].values())
        assert (await client.get("/healthz")).status_code == 200
        metrics = await client.get("/metrics")
        assert "customer_agent_service_ready" in metrics.text
        asyncapi = (await client.get("/asyncapi.json")).json()
        assert asyncapi["channels"], "the AsyncAPI document lists the subscribed topics"


def test_services_off_the_reply_path_run_at_a_lower_cpu_priority() -> None:
    background = int(os.environ.get("CA_BACKGROUND_SERVICE_NICE", "10"))
    niceness = {name: os.getpriority(os.PRIO_PROCESS, stack_control.service_pid(name)) for name in SERVICE_PORTS}
    assert niceness == {
        "admin-api": background,
        "billing": background,
        "ingestion": background,
        "conversation": 0,
        "routing": 0,
        "webchat": 0,
    }, "deploy/local/services.sh starts them this way (a stack started before that change: make down && make up)"


async def test_every_topic_of_the_design_and_its_dlq_exists(infrastructure: InfrastructureSettings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    missing = set(all_topic_names()) - existing
    assert not missing


def test_kcat_lists_the_topics(infrastructure: InfrastructureSettings) -> None:
    kcat = shutil.which("kcat")
    assert kcat, "kcat is installed by deploy/local/infra.sh"
    listing = subprocess.run(
        [kcat, "-b", infrastructure.kafka_bootstrap_servers, "-L"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert 'topic "channels.inbound.v1"' in listing
    assert 'topic "channels.inbound.v1.dlq"' in listing


async def test_opensearch_answers_and_stems_danish(infrastructure: InfrastructureSettings) -> None:
    async with httpx.AsyncClient(base_url=infrastructure.opensearch_url, timeout=10) as client:
        root = (await client.get("/")).json()
        assert root["version"]["distribution"] == "opensearch"
        analyzed = await client.post("/_analyze", json={"analyzer": "danish", "text": "bilerne"})
        assert [token["token"] for token in analyzed.json()["tokens"]] == ["bil"]


async def test_admin_api_serves_its_openapi() -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{SERVICE_PORTS['admin-api']}", timeout=5) as client:
        document = (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")


async def test_a_poison_inbound_message_is_dead_lettered_by_routing(infrastructure: InfrastructureSettings) -> None:
    marker = unique_name("poison").encode()
    before = await end_offsets(infrastructure.kafka_bootstrap_servers, "channels.inbound.v1.dlq", partitions=1)
    await produce_raw(infrastructure.kafka_bootstrap_servers, "channels.inbound.v1", b"not an event " + marker)
    records = await collect_records(
        infrastructure.kafka_bootstrap_servers,
        "channels.inbound.v1.dlq",
        from_offsets=before,
        until=lambda rs: any(marker in r.value for r in rs),
        timeout_seconds=30,
    )
    poison = [r for r in records if marker in r.value]
    assert poison, "routing dead-letters a message it cannot parse"
    assert poison[0].headers["dlq-consumer"] == "routing"
