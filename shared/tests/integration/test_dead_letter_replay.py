"""``customer-agent dlq`` on the real Kafka: list, show and replay a dead letter once, with its audit record."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from customer_agent_shared.events.audit import AuditRecorded
from customer_agent_shared.events.envelope import make_event, parse_event, serialize_event
from customer_agent_shared.messaging.dead_letter import FailedMessage, dead_letter_message
from customer_agent_shared.messaging.producer import KafkaEventProducer
from customer_agent_shared.operations.cli import build_parser
from customer_agent_shared.operations.dead_letter_store import DeadLetterStore
from customer_agent_shared.operations.dead_letters import NO_ACCOUNT, REPLAYED_FROM_HEADER
from customer_agent_shared.operations.dlq_command import execute
from customer_agent_shared.settings import InfrastructureSettings, KafkaSecuritySettings
from customer_agent_shared.testing.fixtures import CreateTopics
from customer_agent_shared.testing.kafka import ReceivedRecord, collect_records, end_offsets, unique_name
from customer_agent_shared.topics import AUDIT
from pydantic import BaseModel

pytestmark = pytest.mark.integration


class Greeting(BaseModel):
    """Test payload."""

    text: str


async def dlq(infrastructure: InfrastructureSettings, topic: str, *argv: str) -> tuple[int, str]:
    """Run ``customer-agent dlq ...`` with ``topic`` as the only topic of the registry; (status, output)."""
    store = DeadLetterStore(
        infrastructure.kafka_bootstrap_servers,
        known_topics=frozenset({topic}),
        audit_topic=AUDIT,
        security=infrastructure,
    )
    out = io.StringIO()
    status = await execute(build_parser().parse_args(["dlq", *argv]), store, out)
    return status, out.getvalue()


async def test_a_dead_letter_is_listed_replayed_once_and_audited(
    infrastructure: InfrastructureSettings, throwaway_topics: CreateTopics
) -> None:
    servers = infrastructure.kafka_bootstrap_servers
    topic = unique_name("test.dlq-replay")
    account, event_id = unique_name("acc"), unique_name("evt")
    await throwaway_topics([topic, topic + ".dlq"])
    key = f"{account}:thread-1".encode()
    body = serialize_event(
        make_event("greeting.sent", Greeting(text="hi"), source="test", account_id=account, event_id=event_id)
    )
    await dead_letter_a_good_and_a_garbage_message(servers, topic, key=key, body=body)
    good, bad = f"{topic}.dlq:0:0", f"{topic}.dlq:0:1"
    audit_start = await end_offsets(servers, AUDIT)

    status, listing = await dlq(infrastructure, topic, "list", "--json")
    rows = {row["ref"]: row for row in map(json.loads, listing.splitlines())}
    assert status == 0
    assert set(rows) == {good, bad}
    assert (rows[good]["event_id"], rows[good]["account_id"], rows[good]["consumer"]) == (event_id, account, "greeter")
    assert (rows[good]["error_type"], rows[good]["error"], rows[good]["replayed"]) == ("RuntimeError", "boom", False)
    assert rows[bad]["event_id"] is None
    status, shown = await dlq(infrastructure, topic, "show", good)
    assert f'"id": "{event_id}"' in shown

    status, report = await dlq(infrastructure, topic, "replay", "--all", "--yes", "--actor", "ada")
    assert status == 1, report  # the garbage one is refused
    assert f"refused {bad}: the body is not a CloudEvent" in report
    assert f"[1/1] {good} -> {topic}:0:0" in report
    replayed = await collect_records(servers, topic, until=lambda records: len(records) >= 1)
    assert [(r.key, r.value, r.headers[REPLAYED_FROM_HEADER]) for r in replayed] == [(key, body, good)]

    # A second run, with fresh clients, finds the marker in Kafka and sends nothing.
    before = await end_offsets(servers, topic)
    status, report = await dlq(infrastructure, topic, "replay", "--all", "--yes")
    assert "1 already replayed: skipped" in report
    assert "0 to replay" in report
    assert await end_offsets(servers, topic) == before
    status, listing = await dlq(infrastructure, topic, "list", "--json")
    assert [row["replayed"] for row in map(json.loads, listing.splitlines())] == [True, False]

    status, report = await dlq(infrastructure, topic, "replay", bad, "--force", "--yes", "--actor", "ada")
    assert status == 0, report
    audits = await collect_records(
        servers, AUDIT, until=lambda records: len(ours(records, topic)) >= 2, from_offsets=audit_start
    )
    entries = {entry.target_id: entry for entry in ours(audits, topic)}
    assert set(entries) == {good, bad}
    assert (entries[good].account_id, entries[good].actor, entries[good].action) == (account, "ada", "replay")
    assert entries[good].target_type == "dead_letter"
    assert entries[bad].account_id == NO_ACCOUNT


async def dead_letter_a_good_and_a_garbage_message(servers: str, topic: str, *, key: bytes, body: bytes) -> None:
    """Dead-letter, as the reliable consumer does, an event that failed and a body that is no CloudEvent."""
    producer = KafkaEventProducer(servers, service="shared-test", security=KafkaSecuritySettings())
    await producer.start()
    try:
        await producer.send_batch(
            [
                dead_letter_message(FailedMessage(topic, 0, 41, key, body, "RuntimeError", "boom", 4, "greeter")),
                dead_letter_message(
                    FailedMessage(topic, 0, 42, None, b"garbage", "EventParseError", "bad", 1, "greeter")
                ),
            ]
        )
    finally:
        await producer.stop()


def ours(records: list[ReceivedRecord], topic: str) -> list[AuditRecorded]:
    """The audit records of this test's dead letters."""
    entries = [parse_event(record.value, AuditRecorded).data for record in records if topic.encode() in record.value]
    return [entry for entry in entries if entry.target_id.startswith(topic + ".dlq:")]


def test_the_console_script_refuses_an_unknown_topic_without_a_traceback() -> None:
    result = subprocess.run(
        [Path(sys.executable).with_name("customer-agent"), "dlq", "list", "--topic", "no.such.topic.v1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "customer-agent dlq: unknown topic 'no.such.topic.v1'; the registry has: agent.config.v1" in result.stderr
