"""Credits are commands to billing; preview is request/reply with the conversation service."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from admin_api.handlers.preview import PreviewUseCase
from aiokafka import AIOKafkaConsumer, TopicPartition
from customer_agent_shared.events.billing import CREDITS_STATE, CreditPlan, CreditState
from customer_agent_shared.events.channels import Citation, OutboundKind
from customer_agent_shared.events.envelope import derived_event_id, make_event, serialize_event
from customer_agent_shared.events.preview import PREVIEW_ANSWERED, PreviewAnswered
from customer_agent_shared.testing.kafka import client_options, produce_raw
from customer_agent_shared.topics import (
    BILLING_COMMANDS,
    BILLING_CREDIT_STATE,
    CONVERSATIONS_PREVIEW,
    CONVERSATIONS_PREVIEW_REPLIES,
)

from .harness import OPERATOR, Harness, audit_trail, events_for, get_until, read_from, topic_ends

pytestmark = pytest.mark.integration


class DroppingProducer:
    """A producer whose messages never arrive."""

    async def send_event(self, *_args: object) -> None:
        """Drop the event."""


async def _billing_opens(harness: Harness, opening: dict[str, Any]) -> None:
    """What billing publishes when a credits.open opens an account: its default plan's allotment, version 1."""
    account_id, plan, now = opening["data"]["account_id"], CreditPlan(), datetime.now(UTC)
    state = CreditState(
        account_id=account_id,
        balance=plan.monthly_allotment,
        allotment=plan.monthly_allotment,
        used_this_period=0,
        reset_at=now + timedelta(days=20),
        exhausted=False,
        plan=plan,
        version=1,
        cause="opened",
        period_start=now - timedelta(days=10),
    )
    event = make_event(
        CREDITS_STATE,
        state,
        source="billing",
        account_id=account_id,
        event_id=derived_event_id(account_id, "credit-state:1"),
    )
    await produce_raw(
        harness.settings.kafka_bootstrap_servers, BILLING_CREDIT_STATE, serialize_event(event), key=account_id.encode()
    )


async def test_a_new_account_has_billing_open_its_credits_and_shows_them(harness: Harness) -> None:
    servers = harness.settings.kafka_bootstrap_servers
    offsets = await topic_ends(servers, BILLING_COMMANDS)
    account = await harness.new_account()

    records = await read_from(servers, BILLING_COMMANDS, offsets, lambda found: bool(events_for(found, account.id)))
    [opening] = events_for(records, account.id)
    assert opening["type"] == "credits.open"
    assert opening["data"]["account_id"] == account.id
    assert opening["data"]["command_id"] == f"open_{uuid.UUID(opening['id']).hex}"  # both derived from the creation
    # Billing answers with the state of the opened account (the suite runs no billing: this test plays it).
    await _billing_opens(harness, opening)
    credits = await get_until(harness, account, "/credits", lambda body: body["known"])
    assert credits["balance"] == credits["allotment"] == credits["plan"]["monthly_allotment"]
    assert (credits["used_this_period"], credits["exhausted"]) == (0, False)
    assert credits["reset_at"] is not None


async def test_purchases_and_plan_changes_are_commands_to_billing(harness: Harness) -> None:
    client, servers = harness.client, harness.settings.kafka_bootstrap_servers
    offsets = await topic_ends(servers, BILLING_COMMANDS)
    account = await harness.new_account()
    headers = {**OPERATOR, "Idempotency-Key": "buy-1"}
    bought = await client.post(account.path("/credits/purchases"), json={"credits": 500}, headers=headers)
    assert bought.status_code == 202, bought.text
    again = await client.post(account.path("/credits/purchases"), json={"credits": 500}, headers=headers)
    assert again.json()["command_id"] == bought.json()["command_id"]
    assert (
        await client.post(account.path("/credits/purchases"), json={"credits": 0}, headers=OPERATOR)
    ).status_code == 422
    lowered = {"monthly_allotment": 2000, "reset_day": 15, "timezone": "Europe/Copenhagen"}
    packs = {"auto_upgrade_pack_credits": 500, "auto_upgrade_limit": 2}
    for change in (lowered, packs):
        planned = await client.put(account.path("/credits/plan"), json=change, headers=OPERATOR)
        assert planned.status_code == 202, planned.text
    bad_zone = await client.put(account.path("/credits/plan"), json={"timezone": "Nowhere/Land"}, headers=OPERATOR)
    assert bad_zone.status_code == 422
    empty = await client.put(account.path("/credits/plan"), json={}, headers=OPERATOR)
    assert empty.status_code == 422
    assert empty.json()["error"]["message"].startswith("The plan change names no field: give at least one of")

    records = await read_from(servers, BILLING_COMMANDS, offsets, lambda found: len(events_for(found, account.id)) >= 4)
    commands = events_for(records, account.id)
    assert [c["type"] for c in commands] == [  # one key: ordered
        "credits.open",
        "credits.purchase",
        "credits.plan_change",
        "credits.plan_change",
    ]
    assert commands[1]["data"]["credits"] == 500
    assert commands[1]["data"]["command_id"] == bought.json()["command_id"]
    # Only the fields the operator gave: billing keeps the others.
    assert [_given(c["data"]["plan_change"]) for c in commands[2:]] == [lowered, packs]
    assert {r.key for r in records if events_for([r], account.id)} == {account.id.encode()}
    audit = await harness.client.get(account.path("/audit-log"), headers=account.read)
    assert [(e["target_type"], e["action"], e["actor"]) for e in reversed(audit.json()["items"])][-3:] == [
        ("credit_purchase", "create", "bootstrap"),
        ("credit_plan", "edit", "bootstrap"),
        ("credit_plan", "edit", "bootstrap"),
    ]


def _given(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


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
