"""A consumer killed before committing gets the message again."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from customer_agent_shared.events.envelope import make_event, serialize_event
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.fixtures import CreateTopics
from customer_agent_shared.testing.kafka import produce_raw, unique_name
from pydantic import BaseModel

pytestmark = pytest.mark.integration

CONSUMER_SCRIPT = Path(__file__).with_name("crashing_consumer.py")


class Ping(BaseModel):
    """Test payload."""

    n: int


async def run_consumer(bootstrap: str, topic: str, group: str, log: Path, mode: str) -> int:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(CONSUMER_SCRIPT), bootstrap, topic, group, str(log), mode
    )
    return await asyncio.wait_for(process.wait(), timeout=90)


async def test_consumer_killed_before_commit_gets_the_message_again(
    infrastructure: InfrastructureSettings, tmp_path: Path, throwaway_topics: CreateTopics
) -> None:
    bootstrap = infrastructure.kafka_bootstrap_servers
    topic, group = unique_name("test.crash"), unique_name("crash-group")
    await throwaway_topics([topic, topic + ".dlq"])
    event = make_event("ping", Ping(n=1), source="test", account_id="a")
    await produce_raw(bootstrap, topic, serialize_event(event))
    log = tmp_path / "handled.log"

    assert await run_consumer(bootstrap, topic, group, log, "crash") == 9
    assert log.read_text().split() == [event.id]

    assert await run_consumer(bootstrap, topic, group, log, "normal") == 0
    assert log.read_text().split() == [event.id, event.id]  # redelivered after the crash
