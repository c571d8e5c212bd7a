"""Conversation runs in-process on the real stack and answers from a small three-language corpus.

One service instance serves every test of this module (start-up is the slow part);
each test uses its own account or thread ids and reads only its own records.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conversation_service.adapters.content_search import ContentSearch
from conversation_service.bootstrap import ConversationService, build_service
from conversation_service.domain.retrieval import analyze_question
from conversation_service.domain.term_statistics import TermStatistics
from conversation_service.settings import ConversationSettings
from customer_agent_shared.clients import create_opensearch_client
from customer_agent_shared.content_index import AccountScopedSearch, ScopedSearch
from customer_agent_shared.events.channels import ChannelRef, ChannelType, MessageReceived, Sender
from customer_agent_shared.events.config import AGENT_CONFIG_SNAPSHOT, AgentConfigSnapshot, AgentProfile, Personality
from customer_agent_shared.events.conversations import ConversationAssigned
from customer_agent_shared.events.envelope import make_event, serialize_event
from customer_agent_shared.events.preview import PREVIEW_REQUESTED, PreviewRequested
from customer_agent_shared.persistence.database import create_database_engine
from customer_agent_shared.persistence.unit_of_work import shared_transaction
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import (
    collect_records,
    end_offsets,
    produce_raw,
    unique_name,
    wait_for_assignment,
)
from customer_agent_shared.topics import (
    AGENT_CONFIG,
    CHANNELS_OUTBOUND,
    CONVERSATIONS_ASSIGNED,
    CONVERSATIONS_EVENTS,
    CONVERSATIONS_PREVIEW,
    CONVERSATIONS_PREVIEW_REPLIES,
    TOPICS_BY_NAME,
)
from prometheus_client import REGISTRY
from sqlalchemy import text

from .corpus import (
    DANISH_DELIVERY_URL,
    DUTCH_HOURS_URL,
    GIFT_CARD_ANSWER,
    PASSWORD_URL,
    PRIVATE_WARRANTY_URL,
    RETURNS_URL,
    SHIPPING_URL,
    WHOLESALE_URL,
    create_index,
)
from .messages import assigned_event

pytestmark = pytest.mark.integration

ACCOUNT = unique_name("conv-acc")
OTHER_ACCOUNT = unique_name("conv-other")
AGENT_NAME = "Ada"


@dataclass
class Stack:
    """The running service and how to reach the topics."""

    service: ConversationService
    bootstrap: str
    partitions: dict[str, int]


def _partitions(infrastructure: InfrastructureSettings, topic: str) -> int:
    return TOPICS_BY_NAME[topic].partitions(infrastructure.topic_partitions)


@pytest.fixture(scope="module")
async def stack(infrastructure: InfrastructureSettings) -> AsyncIterator[Stack]:
    """Conversation in-process over a scratch schema and a throwaway index holding the corpus."""
    schema = unique_name("conv_test").replace("-", "_")
    index = unique_name("conv-test-chunks")
    client = create_opensearch_client(infrastructure.opensearch_url)
    await create_index(client, index, [ACCOUNT, OTHER_ACCOUNT])
    settings = ConversationSettings(
        # A unique service name keeps the Redis dedup keys apart from any other conversation process.
        service_name=unique_name("conversation-test"),
        database_schema=schema,
        consumer_group=unique_name("conversation.test"),
        consumer_offset_reset="latest",
        content_index=index,
        resolution_sweep_seconds=0,
        config_cache_seconds=0,
        send_handoff_notice=True,  # exercised here; off by default because routing tells the visitor
    )
    service = build_service(settings)
    partitions = {
        topic: _partitions(infrastructure, topic)
        for topic in (CHANNELS_OUTBOUND, CONVERSATIONS_EVENTS, CONVERSATIONS_PREVIEW_REPLIES)
    }
    try:
        async with service.kernel.lifecycle.running():
            await wait_for_assignment(service.kernel.broker)
            await _resolve_positions(service.kernel.broker)
            yield Stack(service, infrastructure.kafka_bootstrap_servers, partitions)
    finally:
        await client.indices.delete(index=index, ignore_unavailable=True)
        await client.close()
        engine = create_database_engine(infrastructure.database_url, pool_size=1)
        async with engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


async def _resolve_positions(broker: Any) -> None:
    """Make each consumer look up its 'latest' offset now, so nothing produced next is skipped."""
    for subscriber in broker.subscribers:
        consumer = subscriber.consumer
        for partition in consumer.assignment():
            await consumer.position(partition)


def _data(record_value: bytes) -> tuple[str, dict[str, Any]]:
    envelope = json.loads(record_value)
    return envelope["type"], envelope["data"]


async def _ask(
    stack: Stack,
    text_: str,
    *,
    account: str = ACCOUNT,
    thread: str | None = None,
    locale: str | None = None,
    new_thread: bool = True,
    expect_events: int = 1,
) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    """Send one assigned message; return the outbound messages and conversation events for it."""
    thread = thread or unique_name("thread")
    message_id = unique_name("msg")
    message = MessageReceived(
        account_id=account,
        channel=ChannelRef(type=ChannelType.LIVE_CHAT, id="web"),
        thread_id=thread,
        message_id=message_id,
        sender=Sender(id="visitor", locale=locale),
        text=text_,
        sent_at=datetime.now(UTC),
    )
    assigned = ConversationAssigned(
        account_id=account, thread_id=thread, channel=message.channel, message=message, new_thread=new_thread
    )
    outbound_from = await end_offsets(stack.bootstrap, CHANNELS_OUTBOUND, stack.partitions[CHANNELS_OUTBOUND])
    events_from = await end_offsets(stack.bootstrap, CONVERSATIONS_EVENTS, stack.partitions[CONVERSATIONS_EVENTS])
    event = make_event("conversation.assigned", assigned, source="test", account_id=account)
    await produce_raw(
        stack.bootstrap, CONVERSATIONS_ASSIGNED, serialize_event(event), key=f"{account}:{thread}".encode()
    )

    def mine(value: bytes) -> tuple[str, dict[str, Any]] | None:
        kind, data = _data(value)
        return (kind, data) if data.get("message_id", data.get("reply_to")) == message_id else None

    events_raw = await collect_records(
        stack.bootstrap,
        CONVERSATIONS_EVENTS,
        from_offsets=events_from,
        until=lambda records: sum(1 for r in records if mine(r.value)) >= expect_events,
        timeout_seconds=20,
    )
    events = [found for record in events_raw if (found := mine(record.value))]
    outbound_raw = await collect_records(
        stack.bootstrap,
        CHANNELS_OUTBOUND,
        from_offsets=outbound_from,
        until=lambda records: any(mine(r.value) for r in records),
        timeout_seconds=5,
    )
    outbound = [data for record in outbound_raw if (found := mine(record.value)) for data in [found[1]]]
    return outbound, events


def _urls(message: dict[str, Any]) -> list[str]:
    return [citation["url"] for citation in message["citations"]]


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
    outbound, events = await _ask(stack, question, locale=locale)
    assert [kind for kind, _ in events] == ["conversation.answered"]
    [message] = outbound
    assert message["kind"] == "answer"
    assert message["language"] == language
    assert message["author"] == {"kind": "ai_agent", "name": "Customer Agent"}
    assert _urls(message)[0] == url
    assert message["powered_by_ai"] is True
    assert events[0][1]["billable"] is True


async def test_unsupported_question_asks_to_rephrase_then_cannot_answer(stack: Stack) -> None:
    thread = unique_name("thread")
    first, first_events = await _ask(stack, "Can I pay with bitcoin?", thread=thread, locale="en-US")
    assert [message["kind"] for message in first] == ["rephrase_request"]
    assert [kind for kind, _ in first_events] == ["conversation.knowledge_gap"]
    gap = first_events[0][1]
    assert gap["question"] == "Can I pay with bitcoin?"
    assert gap["language"] == "en"
    # A vector to group it with gaps asked in other words; a recommended answer when content came near.
    assert (gap["recommended_answer"] is not None) == bool(gap["nearest_content"])
    assert len(gap["question_embedding"]) == 384
    assert gap["embedding_model"]
    second, second_events = await _ask(
        stack, "Do you sell spaceships?", thread=thread, locale="en-US", new_thread=False, expect_events=2
    )
    kinds = sorted(kind for kind, _ in second_events)
    assert kinds == ["conversation.cannot_answer", "conversation.knowledge_gap"]
    cannot = next(data for kind, data in second_events if kind == "conversation.cannot_answer")
    assert cannot["reason"] == "cannot_answer"
    assert cannot["miss_count"] == 2
    assert [message["kind"] for message in second] == ["handoff_notice"]  # no answer is sent


async def test_private_content_is_never_cited(stack: Stack) -> None:
    outbound, _ = await _ask(stack, "How are warranty claims for broken products handled?", locale="en")
    for message in outbound:
        assert PRIVATE_WARRANTY_URL not in _urls(message)
    outbound, _ = await _ask(stack, "What wholesale discount do you give?", locale="en")
    for message in outbound:
        assert WHOLESALE_URL not in _urls(message)


async def test_a_short_answer_wins_for_its_own_question(stack: Stack) -> None:
    outbound, events = await _ask(stack, "Do you offer gift cards?", locale="en")
    [message] = outbound
    assert message["kind"] == "answer"
    assert GIFT_CARD_ANSWER in message["text"]
    assert events[0][1]["answer"] == message["text"]


async def test_a_follow_up_question_uses_the_thread(stack: Stack) -> None:
    alone, _ = await _ask(stack, "How long does it take?", locale="en")
    assert [message["kind"] for message in alone] == ["rephrase_request"]
    thread = unique_name("thread")
    await _ask(stack, "How do I get a refund?", thread=thread, locale="en")
    outbound, _ = await _ask(stack, "How long does it take?", thread=thread, locale="en", new_thread=False)
    [message] = outbound
    assert message["kind"] == "answer"
    assert _urls(message) == [RETURNS_URL]
    assert "5 business days" in message["text"]


async def test_asking_for_a_person_requests_a_handoff(stack: Stack) -> None:
    outbound, events = await _ask(stack, "Jeg vil gerne tale med et menneske", locale="da-DK")
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
        outbound, _events = await _ask(stack, "How do I reset my password?", account=account, locale="en")
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

    def is_reply(value: bytes) -> bool:
        return _data(value)[1].get("correlation_id") == correlation_id

    replies = await collect_records(
        stack.bootstrap,
        CONVERSATIONS_PREVIEW_REPLIES,
        from_offsets=replies_from,
        until=lambda records: any(is_reply(r.value) for r in records),
    )
    [reply] = [_data(record.value) for record in replies if is_reply(record.value)]
    assert reply[0] == "preview.answered"
    assert reply[1]["kind"] == "answer"
    assert reply[1]["language"] == "da"
    assert [citation["url"] for citation in reply[1]["citations"]] == [PASSWORD_URL]

    def from_preview(value: bytes) -> bool:
        data = _data(value)[1]
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
    outbound, _ = await _ask(stack, "How long does shipping take?", thread=thread, locale="en")
    assert outbound[0]["kind"] == "answer"
    events_from = await end_offsets(stack.bootstrap, CONVERSATIONS_EVENTS, stack.partitions[CONVERSATIONS_EVENTS])
    resolved = await stack.service.resolution.run_once(datetime.now(UTC) + timedelta(hours=73))
    assert resolved >= 1
    assert await stack.service.resolution.run_once(datetime.now(UTC) + timedelta(hours=74)) == 0

    def is_mine(value: bytes) -> bool:
        kind, data = _data(value)
        return kind == "conversation.resolved" and data["thread_id"] == thread

    records = await collect_records(
        stack.bootstrap,
        CONVERSATIONS_EVENTS,
        from_offsets=events_from,
        until=lambda records: any(is_mine(r.value) for r in records),
    )
    assert len([r for r in records if is_mine(r.value)]) == 1


def _assigned_event(text_: str, thread: str, *, account: str = ACCOUNT, new_thread: bool = True) -> Any:
    return assigned_event(text_, thread, account=account, new_thread=new_thread)


def _prefetched(outcome: str) -> float:
    return (
        REGISTRY.get_sample_value("customer_agent_conversation_prefetched_searches_total", {"outcome": outcome}) or 0.0
    )


async def _thread_row(stack: Stack, thread: str) -> dict[str, Any]:
    schema = stack.service.settings.database_schema
    async with stack.service.kernel.session_factory() as session:
        row = await session.execute(
            text(f'SELECT recent_turns, handed_off FROM "{schema}".threads WHERE thread_id = :thread'),
            {"thread": thread},
        )
        return dict(row.mappings().one())


async def test_a_batch_locks_and_searches_ahead_once_and_each_message_is_answered_as_alone(stack: Stack) -> None:
    handler = stack.service.conversations
    thread, human = unique_name("thread"), unique_name("thread")
    events = [
        _assigned_event("How do I reset my password?", unique_name("thread")),
        _assigned_event("How do I get a refund?", thread),
        _assigned_event("How long does it take?", thread, new_thread=False),  # its search needs the line above
        _assigned_event("I want to talk to a human", human),  # no search at all
        _assigned_event("Do you offer gift cards?", unique_name("thread"), account=OTHER_ACCOUNT),
    ]
    fetched, used = _prefetched("fetched"), _prefetched("used")
    async with shared_transaction(stack.service.unit_of_work) as batch:
        await handler.prepare_assigned(events)
        replies = [await handler.handle_assigned(event) for event in events]
        await batch.commit()
    assert _prefetched("fetched") - fetched == 4
    assert _prefetched("used") - used == 4  # every message that searches took its result from the batch request
    assert [reply.outcome if reply else None for reply in replies] == [
        "answered",
        "answered",
        "answered",
        "handoff",
        "answered",
    ]
    assert replies[0] is not None
    assert replies[0].citations[0].url == PASSWORD_URL
    assert replies[2] is not None
    assert [ref.url for ref in replies[2].citations] == [RETURNS_URL]
    assert "5 business days" in replies[2].text
    assert replies[4] is not None
    assert GIFT_CARD_ANSWER in replies[4].text
    # Both messages of one thread reached its row, written once at the batch's commit.
    stored = await _thread_row(stack, thread)
    assert [turn["role"] for turn in stored["recent_turns"]] == ["visitor", "agent", "visitor", "agent"]
    assert stored["recent_turns"][2]["text"] == "How long does it take?"
    assert (await _thread_row(stack, human))["handed_off"] is True


async def test_identical_questions_of_a_batch_share_one_search_and_get_the_answer_each_would_alone(
    stack: Stack,
) -> None:
    handler = stack.service.conversations
    question = "How do I get a refund?"
    events = [_assigned_event(question, unique_name("thread")) for _ in range(3)]
    events.append(_assigned_event("How do I reset my password?", unique_name("thread")))
    fetched, coalesced, used = _prefetched("fetched"), _prefetched("coalesced"), _prefetched("used")
    async with shared_transaction(stack.service.unit_of_work) as batch:
        await handler.prepare_assigned(events)
        replies = [await handler.handle_assigned(event) for event in events]
        await batch.commit()
    assert _prefetched("fetched") - fetched == 4
    assert _prefetched("coalesced") - coalesced == 2  # three refund questions, one request
    assert _prefetched("used") - used == 4
    for event in events:  # no follow-up among them: searched while the threads were locked, each row written
        stored = await _thread_row(stack, event.data.thread_id)
        assert [turn["role"] for turn in stored["recent_turns"]] == ["visitor", "agent"]
    alone = await handler.handle_assigned(_assigned_event(question, unique_name("thread")))
    assert alone is not None
    assert alone.outcome == "answered"
    for reply in replies[:3]:
        assert reply is not None
        assert (reply.outcome, reply.text, reply.citations) == (alone.outcome, alone.text, alone.citations)
    assert replies[3] is not None
    assert replies[3].citations[0].url == PASSWORD_URL


async def test_a_wrong_guess_costs_only_its_own_search(stack: Stack) -> None:
    handler = stack.service.conversations
    follow_up_text = "How long does that refund take?"  # a follow-up: its search borrows the last question's words

    def opening(thread: str) -> list[Any]:
        return [
            _assigned_event("How do I reset my password?", thread),
            _assigned_event("Do you offer gift cards?", thread, new_thread=False),
        ]

    guessed, control = unique_name("thread"), unique_name("thread")
    first, second = opening(guessed)
    await handler.handle_assigned(first)
    follow_up = _assigned_event(follow_up_text, guessed, new_thread=False)
    fetched = _prefetched("fetched")
    async with shared_transaction(stack.service.unit_of_work) as batch:
        await handler.prepare_assigned([follow_up, _assigned_event("Do you offer gift cards?", unique_name("thread"))])
        assert _prefetched("fetched") - fetched == 2  # the follow-up searched ahead, the password question as context
        await handler.handle_assigned(second)  # the thread moves on before the follow-up is handled
        used = _prefetched("used")
        reply = await handler.handle_assigned(follow_up)
        await batch.commit()
    assert _prefetched("used") == used  # the guess did not match: it searched alone, with the real context
    assert reply is not None
    assert GIFT_CARD_ANSWER in reply.text  # the real context, not the password question of the guess

    for event in opening(control):  # the same thread without any batch
        await handler.handle_assigned(event)
    assert reply == await handler.handle_assigned(_assigned_event(follow_up_text, control, new_thread=False))


async def test_search_many_keeps_each_search_inside_its_own_account(stack: Stack) -> None:
    assert stack.service.kernel.opensearch is not None
    search = AccountScopedSearch(stack.service.kernel.opensearch, stack.service.settings.content_index)
    query = {"match": {"body": "refund"}}
    responses = await search.search_many(
        [
            ScopedSearch(ACCOUNT, query, size=20),
            ScopedSearch(OTHER_ACCOUNT, query, size=20),
            ScopedSearch("nobody", query),
        ]
    )
    accounts = [{hit["_source"]["account_id"] for hit in response["hits"]["hits"]} for response in responses]
    assert accounts == [{ACCOUNT}, {OTHER_ACCOUNT}, set()]
    with pytest.raises(ValueError, match="account_id is required"):
        await search.search_many([ScopedSearch("", query)])


async def test_remembered_term_statistics_weigh_as_freshly_counted_ones(stack: Stack) -> None:
    assert stack.service.kernel.opensearch is not None
    index = stack.service.settings.content_index
    remembering = TermStatistics(60.0, clock=time.monotonic)
    remembered = ContentSearch(stack.service.kernel.opensearch, index, statistics=remembering)
    counted = ContentSearch(
        stack.service.kernel.opensearch, index, statistics=TermStatistics(0.0, clock=time.monotonic)
    )
    terms = analyze_question("How do I get a refund for a broken product?", "en")
    first = await remembered.retrieve(ACCOUNT, terms, 6)
    assert remembering.known(ACCOUNT, terms) is not None
    again = await remembered.retrieve(ACCOUNT, terms, 6)  # from memory: the search carries no aggregation
    await remembered.prefetch([(ACCOUNT, terms, 6)])
    prefetched = await remembered.retrieve(ACCOUNT, terms, 6)
    fresh = await counted.retrieve(ACCOUNT, terms, 6)
    assert fresh.weights
    assert first.weights == again.weights == prefetched.weights == fresh.weights
    assert [p.chunk_id for p in again.passages] == [p.chunk_id for p in fresh.passages]
