"""With an LLM, a declined question's knowledge gap gets the model's draft through Kafka, after the reply."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import ReceivedRecord, collect_records, end_offsets, unique_name
from customer_agent_shared.topics import CONVERSATIONS_EVENTS

from .answering_stack import ACCOUNT, ask, running_stack
from .fake_llm import serving_fake_llm

pytestmark = pytest.mark.integration

MODEL_SECONDS = 10.0  # the reply must be read within it: room for two Kafka reads on a loaded machine


def _of_gap(records: list[ReceivedRecord], event_type: str, gap: dict[str, Any]) -> dict[str, Any] | None:
    """The event of ``event_type`` about the question of ``gap`` (the knowledge_gap event's data)."""
    for record in records:
        envelope: dict[str, Any] = json.loads(record.value)
        if envelope["type"] == event_type and envelope["data"]["message_id"] == gap["message_id"]:
            return envelope
    return None


async def test_a_decline_is_replied_at_once_and_its_gap_drafted_by_the_model_after(
    infrastructure: InfrastructureSettings,
) -> None:
    async with (
        serving_fake_llm() as (model, base_url),
        running_stack(
            infrastructure,
            llm_base_url=base_url,
            llm_model="test-model",
            llm_timeout_seconds=MODEL_SECONDS + 5,
            gap_draft_interval_seconds=0.2,
            # Only a certain answer is given: the question below is declined, with the password page nearest.
            min_confidence=1.0,
            support_threshold=1.0,
        ) as stack,
    ):
        model.delay = MODEL_SECONDS
        model.reply = "Åbn Indstillinger og klik på Nulstil adgangskode [S1]."
        thread = unique_name("thread")
        partitions = stack.partitions[CONVERSATIONS_EVENTS]
        events_from = await end_offsets(stack.bootstrap, CONVERSATIONS_EVENTS, partitions)

        outbound, events = await ask(
            stack, "Hvordan nulstiller jeg adgangskoden til kasseapparatet?", thread=thread, locale="da-DK"
        )
        replied_at = datetime.now(UTC)
        assert [message["kind"] for message in outbound] == ["rephrase_request"]
        [(kind, gap)] = events
        assert kind == "conversation.knowledge_gap"
        assert gap["recommended_answer"]  # the extract, until the model's draft replaces it

        records = await collect_records(
            stack.bootstrap,
            CONVERSATIONS_EVENTS,
            from_offsets=events_from,
            until=lambda found: _of_gap(found, "conversation.knowledge_gap_drafted", gap) is not None,
            timeout_seconds=MODEL_SECONDS + 20,
        )
        drafted = _of_gap(records, "conversation.knowledge_gap_drafted", gap)
        gap_event = _of_gap(records, "conversation.knowledge_gap", gap)
        assert drafted is not None, "no drafted event"
        assert gap_event is not None
        data = drafted["data"]
        assert data["gap_event_id"] == gap_event["id"]
        assert (data["account_id"], data["thread_id"], data["language"]) == (ACCOUNT, thread, "da")
        assert data["recommended_answer"] == "Åbn Indstillinger og klik på Nulstil adgangskode."
        [request] = model.requests
        # The reply and the gap were out before the model was asked, and read while it was still busy; the draft
        # came once it had answered.
        [asked_at] = model.received_at
        assert datetime.fromisoformat(gap["occurred_at"]) < asked_at
        assert replied_at < asked_at + timedelta(seconds=MODEL_SECONDS)
        assert datetime.fromisoformat(drafted["data"]["occurred_at"]) >= asked_at + timedelta(seconds=MODEL_SECONDS)
        system, user = request["messages"]
        assert "'da'" in system["content"]
        assert "Hvordan nulstiller jeg adgangskoden til kasseapparatet?" in user["content"]
