"""Batches of questions on the real stack: searched ahead once, each answered as it would be alone."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from conversation_service.adapters.content_search import ContentSearch
from conversation_service.domain.retrieval import analyze_question
from conversation_service.domain.term_statistics import TermStatistics
from customer_agent_shared.content_index import AccountScopedSearch, ScopedSearch
from customer_agent_shared.persistence.unit_of_work import shared_transaction
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import unique_name
from prometheus_client import REGISTRY
from sqlalchemy import text

from .answering_stack import ACCOUNT, OTHER_ACCOUNT, Stack, running_stack
from .corpus import GIFT_CARD_ANSWER, PASSWORD_URL, RETURNS_URL
from .messages import assigned_event

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def stack(infrastructure: InfrastructureSettings) -> AsyncIterator[Stack]:
    """One conversation service for this module's tests."""
    async with running_stack(infrastructure) as running:
        yield running


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
