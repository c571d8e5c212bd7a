"""Credits are commands to billing; preview is request/reply with the conversation service."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest
from admin_api.handlers.preview import PreviewUseCase
from aiokafka import AIOKafkaConsumer, TopicPartition
from customer_agent_shared.events.channels import Citation, OutboundKind
from customer_agent_shared.events.envelope import make_event, serialize_event
from customer_agent_shared.events.preview import PREVIEW_ANSWERED, PreviewAnswered
from customer_agent_shared.testing.kafka import client_options, produce_raw
from customer_agent_shared.topics import BILLING_COMMANDS, CONVERSATIONS_PREVIEW, CONVERSATIONS_PREVIEW_REPLIES

from .harness import OPERATOR, Harness, audit_trail, events_for, read_from, topic_ends

pytestmark = pytest.mark.integration


class DroppingProducer:
    """A producer whose messages never arrive."""

    async def send_event(self, *_args: object) -> None:
        """Drop the event."""


async def test_purchases_and_plan_are_commands_to_billing(harness: Harness) -> None:
    client, account = harness.client, await harness.new_account()
    servers = harness.settings.kafka_bootstrap_servers
    offsets = await topic_ends(servers, BILLING_COMMANDS)
    before = (await client.get(account.path("/credits"), headers=account.read)).json()
    assert before == {
        "known": False,
        "balance": None,
        "allotment": None,
        "used_this_period": None,
        "purchased_this_period": None,
        "auto_upgrades_this_period": None,
        "reset_at": None,
        "exhausted": False,
        "plan": None,
    }
    headers = {**OPERATOR, "Idempotency-Key": "buy-1"}
    bought = await client.post(account.path("/credits/purchases"), json={"credits": 500}, headers=headers)
    assert bought.status_code == 202, bought.text
    again = await client.post(account.path("/credits/purchases"), json={"credits": 500}, headers=headers)
    assert again.json()["command_id"] == bought.json()["command_id"]
    assert (
        await client.post(account.path("/credits/purchases"), json={"credits": 0}, headers=OPERATOR)
    ).status_code == 422
    plan = {
        "monthly_allotment": 2000,
        "reset_day": 15,
        "timezone": "Europe/Copenhagen",
        "auto_upgrade_pack_credits": 500,
        "auto_upgrade_limit": 2,
    }
    planned = await client.put(account.path("/credits/plan"), json=plan, headers=OPERATOR)
    assert planned.status_code == 202
    bad_zone = await client.put(
        account.path("/credits/plan"), json={**plan, "timezone": "Nowhere/Land"}, headers=OPERATOR
    )
    assert bad_zone.status_code == 422

    records = await read_from(servers, BILLING_COMMANDS, offsets, lambda found: len(events_for(found, account.id)) >= 2)
    commands = events_for(records, account.id)
    assert [c["type"] for c in commands] == ["credits.purchase", "credits.plan_set"]  # one key: ordered
    assert commands[0]["data"]["credits"] == 500
    assert commands[0]["data"]["command_id"] == bought.json()["command_id"]
    assert commands[1]["data"]["plan"]["auto_upgrade_limit"] == 2
    assert {r.key for r in records if events_for([r], account.id)} == {account.id.encode()}
    audit = await harness.client.get(account.path("/audit-log"), headers=account.read)
    assert [(e["target_type"], e["action"], e["actor"]) for e in reversed(audit.json()["items"])][-2:] == [
        ("credit_purchase", "create", "bootstrap"),
        ("credit_plan", "edit", "bootstrap"),
    ]


@contextlib.asynccontextmanager
async def conversation_stand_in(servers: str, account_id: str) -> AsyncIterator[list[dict[str, object]]]:
    """Plays the conversation service for one account: answers each preview request it sees."""
    seen: list[dict[str, object]] = []
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False, **client_options())
    await consumer.start()
    partitions = [TopicPartition(CONVERSATIONS_PREVIEW, p) for p in range(3)]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for partition in partitions:
        await consumer.position(partition)

    async def answer() -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    event = json.loads(record.value or b"{}")
                    if event.get("accountid") != account_id:
                        continue
                    seen.append(event)
                    request = event["data"]
                    reply = PreviewAnswered(
                        account_id=account_id,
                        correlation_id=request["correlation_id"],
                        text=f"Svar på: {request['text']}",
                        kind=OutboundKind.ANSWER,
                        language="da",
                        citations=[Citation(title="Help", url="https://help.example.com/")],
                    )
                    message = make_event(PREVIEW_ANSWERED, reply, source="conversation-stand-in", account_id=account_id)
                    await produce_raw(
                        servers, CONVERSATIONS_PREVIEW_REPLIES, serialize_event(message), key=account_id.encode()
                    )

    task = asyncio.create_task(answer())
    try:
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()


async def test_preview_asks_the_conversation_service_and_times_out_without_it(harness: Harness) -> None:
    client = harness.client
    answered, unanswered = await harness.new_account(), await harness.new_account()
    servers = harness.settings.kafka_bootstrap_servers
    async with conversation_stand_in(servers, answered.id) as seen:
        reply = await client.post(
            answered.path("/agent/preview"), json={"text": "Hvad koster det?", "locale": "da-DK"}, headers=answered.read
        )
        assert reply.status_code == 200, reply.text
        assert reply.json() == {
            "text": "Svar på: Hvad koster det?",
            "kind": "answer",
            "language": "da",
            "citations": [{"title": "Help", "url": "https://help.example.com/"}],
            "routing": None,  # no routing process answered here
        }
        assert seen[0]["type"] == "preview.requested"
        assert seen[0]["data"]["locale"] == "da-DK"  # type: ignore[index]
        assert (
            await client.post(answered.path("/agent/preview"), json={"text": ""}, headers=answered.read)
        ).status_code == 422

    # Another conversation process on the shared stack may answer any request, so the timeout is
    # shown with a producer that drops the request.
    api = harness.service.api
    assert api is not None
    real = api.preview
    api.preview = PreviewUseCase(DroppingProducer(), timeout_seconds=0.5)  # type: ignore[arg-type]
    try:
        timed_out = await client.post(
            unanswered.path("/agent/preview"), json={"text": "Hello?"}, headers=unanswered.read
        )
    finally:
        api.preview = real
    assert timed_out.status_code == 504
    assert timed_out.json()["error"]["code"] == "upstream_timeout"
    assert real.pending == 0
    # previews are never billed or audited
    assert await audit_trail(harness, answered, target_type="agent") == []
