"""Conversation runs in-process on the real stack and answers from a small three-language corpus.

One service instance serves every test of this module (start-up is the slow part);
each test uses its own account or thread ids and reads only its own records.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from customer_agent_shared.events.config import AGENT_CONFIG_SNAPSHOT, AgentConfigSnapshot, AgentProfile, Personality
from customer_agent_shared.events.envelope import make_event, serialize_event
from customer_agent_shared.events.preview import PREVIEW_REQUESTED, PREVIEW_ROUTED, PreviewRequested
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import (
    collect_records,
    end_offsets,
    produce_raw,
    unique_name,
)
from customer_agent_shared.topics import (
    AGENT_CONFIG,
    CHANNELS_OUTBOUND,
    CONVERSATIONS_EVENTS,
    CONVERSATIONS_PREVIEW,
    CONVERSATIONS_PREVIEW_REPLIES,
)

from .answering_stack import ACCOUNT, AGENT_NAME, OTHER_ACCOUNT, Stack, ask, record_data, running_stack, urls
from .corpus import (
    DANISH_DELIVERY_URL,
    DUTCH_HOURS_URL,
    GIFT_CARD_ANSWER,
    PASSWORD_URL,
    PRIVATE_WARRANTY_URL,
    RETURNS_URL,
    SHIPPING_URL,
    WHOLESALE_URL,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def stack(infrastructure: InfrastructureSettings) -> AsyncIterator[Stack]:
    """One conversation service for this module's tests."""
    async with running_stack(infrastructure) as running:
        yield running


@pytest.mark.parametrize(
    ("question", "locale", "language", "url"),
    [
        ("How do I reset my password?", "en-GB", "en", PASSWORD_URL),
        ("Hvordan nulstiller jeg min adgangskode?", "da-DK", "da", PASSWORD_URL),
        ("Hoe kan ik mijn wachtwoord resetten?", "nl-NL", "nl", PASSWORD_URL),
        ("Kan jeg returnere en vare og få pengene tilbage?", None, "da", RETURNS_URL),
        ("Hvor lang tid tager levering?", "da-DK", "da", DANISH_DELIVERY_URL),
        ("Wanneer is de klantenservice open?", "nl-BE", "nl", DUTCH_HOURS_URL),
        ("Hoe lang duurt de verzending?", "nl", "nl", SHIPPING_URL),
    ],
)
async def test_answers_in_the_askers_language_citing_the_right_page(
    stack: Stack, question: str, locale: str | None, language: str, url: str
) -> None:
    outbound, events = await ask(stack, question, locale=locale)
    assert [kind for kind, _ in events] == ["conversation.answered"]
    [message] = outbound
    assert message["kind"] == "answer"
    assert message["language"] == language
    assert message["author"] == {"kind": "ai_agent", "name": "Customer Agent"}
    assert urls(message)[0] == url
    assert message["powered_by_ai"] is True
    assert events[0][1]["billable"] is True


async def test_unsupported_question_asks_to_rephrase_then_cannot_answer(stack: Stack) -> None:
    thread = unique_name("thread")
    first, first_events = await ask(stack, "Can I pay with bitcoin?", thread=thread, locale="en-US")
    assert [message["kind"] for message in first] == ["rephrase_request"]
    assert [kind for kind, _ in first_events] == ["conversation.knowledge_gap"]
    gap = first_events[0][1]
    assert gap["question"] == "Can I pay with bitcoin?"
    assert gap["language"] == "en"
    # A vector to group it with gaps asked in other words; a recommended answer when content came near.
    assert (gap["recommended_answer"] is not None) == bool(gap["nearest_content"])
    assert len(gap["question_embedding"]) == 384
    assert gap["embedding_model"]
    second, second_events = await ask(
        stack, "Do you sell spaceships?", thread=thread, locale="en-US", new_thread=False, expect_events=2
    )
    kinds = sorted(kind for kind, _ in second_events)
    assert kinds == ["conversation.cannot_answer", "conversation.knowledge_gap"]
    cannot = next(data for kind, data in second_events if kind == "conversation.cannot_answer")
    assert cannot["reason"] == "cannot_answer"
    assert cannot["miss_count"] == 2
    assert [message["kind"] for message in second] == ["handoff_notice"]  # no answer is sent


async def test_private_content_is_never_cited(stack: Stack) -> None:
    outbound, _ = await ask(stack, "How are warranty claims for broken products handled?", locale="en")
    for message in outbound:
        assert PRIVATE_WARRANTY_URL not in urls(message)
    outbound, _ = await ask(stack, "What wholesale discount do you give?", locale="en")
    for message in outbound:
        assert WHOLESALE_URL not in urls(message)


async def test_a_short_answer_wins_for_its_own_question(stack: Stack) -> None:
    outbound, events = await ask(stack, "Do you offer gift cards?", locale="en")
    [message] = outbound
    assert message["kind"] == "answer"
    assert GIFT_CARD_ANSWER in message["text"]
    assert events[0][1]["answer"] == message["text"]


async def test_a_follow_up_question_uses_the_thread(stack: Stack) -> None:
    alone, _ = await ask(stack, "How long does it take?", locale="en")
    assert [message["kind"] for message in alone] == ["rephrase_request"]
    thread = unique_name("thread")
    await ask(stack, "How do I get a refund?", thread=thread, locale="en")
    outbound, _ = await ask(stack, "How long does it take?", thread=thread, locale="en", new_thread=False)
    [message] = outbound
    assert message["kind"] == "answer"
    assert urls(message) == [RETURNS_URL]
    assert "5 business days" in message["text"]


async def test_asking_for_a_person_requests_a_handoff(stack: Stack) -> None:
    outbound, events = await ask(stack, "Jeg vil gerne tale med et menneske", locale="da-DK")
    assert [kind for kind, _ in events] == ["conversation.handoff_requested"]
    assert events[0][1]["reason"] == "visitor_request"
    assert [message["kind"] for message in outbound] == ["handoff_notice"]
    assert outbound[0]["language"] == "da"


async def test_agent_config_shapes_name_and_greeting(stack: Stack) -> None:
    account = OTHER_ACCOUNT
    snapshot = AgentConfigSnapshot(
        account_id=account,
        version=3,
        updated_at=datetime.now(UTC),
        agent=AgentProfile(name=AGENT_NAME, personality=Personality.PROFESSIONAL),
    )
    older = snapshot.model_copy(update={"version": 2, "agent": AgentProfile(name="Old name")})
    for data in (snapshot, older):
        event = make_event(AGENT_CONFIG_SNAPSHOT, data, source="test", account_id=account)
        await produce_raw(stack.bootstrap, AGENT_CONFIG, serialize_event(event), key=account.encode())
    for _ in range(50):  # the snapshot is folded asynchronously
        outbound, _events = await ask(stack, "How do I reset my password?", account=account, locale="en")
        if outbound and outbound[0]["author"]["name"] == AGENT_NAME:
            break
    assert outbound[0]["author"] == {"kind": "ai_agent", "name": AGENT_NAME}
    assert outbound[0]["text"].startswith(f"Good day, this is {AGENT_NAME}.")


async def test_preview_replies_with_the_correlation_id_and_bills_nothing(stack: Stack) -> None:
    correlation_id = unique_name("corr")
    replies_from = await end_offsets(
        stack.bootstrap, CONVERSATIONS_PREVIEW_REPLIES, stack.partitions[CONVERSATIONS_PREVIEW_REPLIES]
    )
    events_from = await end_offsets(stack.bootstrap, CONVERSATIONS_EVENTS, stack.partitions[CONVERSATIONS_EVENTS])
    outbound_from = await end_offsets(stack.bootstrap, CHANNELS_OUTBOUND, stack.partitions[CHANNELS_OUTBOUND])
    request = PreviewRequested(
        account_id=ACCOUNT, correlation_id=correlation_id, text="Hvordan nulstiller jeg min adgangskode?"
    )
    event = make_event(PREVIEW_REQUESTED, request, source="test", account_id=ACCOUNT)
    await produce_raw(stack.bootstrap, CONVERSATIONS_PREVIEW, serialize_event(event), key=ACCOUNT.encode())

    def is_reply(value: bytes) -> bool:  # routing's preview.routed shares the topic (a running routing sends one)
        kind, data = record_data(value)
        return data.get("correlation_id") == correlation_id and kind != PREVIEW_ROUTED

    replies = await collect_records(
        stack.bootstrap,
        CONVERSATIONS_PREVIEW_REPLIES,
        from_offsets=replies_from,
        until=lambda records: any(is_reply(r.value) for r in records),
    )
    [reply] = [record_data(record.value) for record in replies if is_reply(record.value)]
    assert reply[0] == "preview.answered"
    assert reply[1]["kind"] == "answer"
    assert reply[1]["language"] == "da"
    assert [citation["url"] for citation in reply[1]["citations"]] == [PASSWORD_URL]

    def from_preview(value: bytes) -> bool:
        data = record_data(value)[1]
        return data.get("account_id") == ACCOUNT and reply[1]["text"] in (data.get("text"), data.get("answer"))

    events = await collect_records(
        stack.bootstrap, CONVERSATIONS_EVENTS, from_offsets=events_from, until=lambda _: False, timeout_seconds=2
    )
    outbound = await collect_records(
        stack.bootstrap, CHANNELS_OUTBOUND, from_offsets=outbound_from, until=lambda _: False, timeout_seconds=1
    )
    assert not [record for record in events if from_preview(record.value)]
    assert not [record for record in outbound if from_preview(record.value)]


async def test_resolution_sweep_resolves_quiet_answered_threads(stack: Stack) -> None:
    thread = unique_name("thread")
    outbound, _ = await ask(stack, "How long does shipping take?", thread=thread, locale="en")
    assert outbound[0]["kind"] == "answer"
    events_from = await end_offsets(stack.bootstrap, CONVERSATIONS_EVENTS, stack.partitions[CONVERSATIONS_EVENTS])
    resolved = await stack.service.resolution.run_once(datetime.now(UTC) + timedelta(hours=73))
    assert resolved >= 1
    assert await stack.service.resolution.run_once(datetime.now(UTC) + timedelta(hours=74)) == 0

    def is_mine(value: bytes) -> bool:
        kind, data = record_data(value)
        return kind == "conversation.resolved" and data["thread_id"] == thread

    records = await collect_records(
        stack.bootstrap,
        CONVERSATIONS_EVENTS,
        from_offsets=events_from,
        until=lambda records: any(is_mine(r.value) for r in records),
    )
    assert len([r for r in records if is_mine(r.value)]) == 1
