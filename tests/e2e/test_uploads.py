"""An uploaded file travels from admin-api to ingestion as a reference: the command on Kafka stays small
however large the file, and ingestion fetches, parses and indexes it."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from customer_agent_shared.testing.plumbing import eventually

from tests.e2e.journey import AdminClient

pytestmark = pytest.mark.e2e

SOURCES_COMMANDS = "sources.commands.v1"

# About 3 MiB, almost all of it a comment the HTML extractor drops, so the parsing and indexing stay cheap.
HANDBOOK = (
    "<!doctype html><html><head><title>Espresso handbook</title></head><body>"
    f"<!-- {'layout notes ' * 250_000} -->"
    "<h1>Descaling</h1><p>Descale the espresso machine every 200 cups with the citric acid tablets.</p>"
    "</body></html>"
).encode()


@pytest.fixture
async def commands() -> AsyncIterator[AIOKafkaConsumer]:
    """A reader of sources.commands.v1 from its current end, on every partition."""
    consumer = AIOKafkaConsumer(
        SOURCES_COMMANDS,
        bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        group_id=f"e2e-uploads-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="latest",
        enable_auto_commit=False,
    )
    await consumer.start()

    async def assigned() -> bool:
        return bool(consumer.assignment())

    try:
        await eventually(assigned, f"partitions of {SOURCES_COMMANDS} assigned", 30)
        for partition in consumer.assignment():
            await consumer.position(partition)  # resolve the end now, before anything is uploaded
        yield consumer
    finally:
        await consumer.stop()


async def first_command(consumer: AIOKafkaConsumer, account_id: str, timeout_seconds: float = 30) -> bytes:
    """The raw value of the account's first source command read from ``consumer``."""

    async def command() -> bytes | None:
        for records in (await consumer.getmany(timeout_ms=500)).values():
            for record in records:
                value: bytes = record.value or b"{}"
                if json.loads(value).get("accountid") == account_id:
                    return value
        return None

    return await eventually(command, f"a source command of {account_id}", timeout_seconds)


async def test_a_multi_megabyte_upload_travels_as_a_reference_and_is_indexed(
    admin: AdminClient, commands: AIOKafkaConsumer
) -> None:
    assert len(HANDBOOK) > 3_000_000
    source: dict[str, Any] = await admin.call(
        "POST", "/sources/files", files={"file": ("handbook.html", HANDBOOK, "text/html")}
    )

    value = await first_command(commands, admin.account_id)
    assert len(value) < 2048, f"the command is {len(value)} bytes"
    command = json.loads(value)
    assert command["type"] == "source.sync"
    assert command["data"]["source_id"] == source["id"]
    assert command["data"]["upload"] == {
        "sha256": hashlib.sha256(HANDBOOK).hexdigest(),
        "filename": "handbook.html",
        "content_type": "text/html",
        "size": len(HANDBOOK),
    }
    assert command["data"]["file"] is None

    ready = await admin.wait_source_ready(source["id"])
    assert (ready["documents"], ready["error"]) == (1, None)
    assert ready["chunks"] >= 1
