"""The conversation use cases on a fake unit of work: what they commit, publish and when they search."""

from __future__ import annotations

from typing import Any, cast

import pytest
from conversation_service.domain import texts
from conversation_service.handlers.answering import AnswerEngine
from conversation_service.handlers.conversations import AnswerDelayedError, ConversationHandler, ConversationOptions
from conversation_service.handlers.profiles import ProfileCache
from customer_agent_shared.events.channels import MessageSend, OutboundKind
from customer_agent_shared.events.conversations import ConversationAssigned
from customer_agent_shared.events.envelope import CloudEvent, make_event
from customer_agent_shared.events.preview import PreviewRequested

from .fakes import FakeDatabase, FakeEngine, FakeUnitOfWork, assigned_message

ACCOUNT = "acc-1"


def _handler(database: FakeDatabase, engine: FakeEngine, *, handoff_notice: bool = True) -> ConversationHandler:
    return ConversationHandler(
        lambda: FakeUnitOfWork(database),
        cast(AnswerEngine, engine),
        ProfileCache(0),
        consumer_prefix="conversation",
        options=ConversationOptions(send_handoff_notice=handoff_notice, unavailable_wait_seconds=60),
    )


def _assigned(text: str, *, thread: str = "t-1", age_seconds: float = 0) -> CloudEvent[ConversationAssigned]:
    return assigned_message(text, account=ACCOUNT, thread=thread, age_seconds=age_seconds)


def _types(database: FakeDatabase) -> list[str]:
    return [event.type for _, _, event in database.published]


async def test_the_answer_is_searched_with_no_transaction_open() -> None:
    database = FakeDatabase()
    engine = FakeEngine(database)
    handler = _handler(database, engine)

    await handler.handle_assigned(_assigned("How do I reset my password?"))
    preview = PreviewRequested(account_id=ACCOUNT, correlation_id="c-1", text="And my email?", thread_id="p-1")
    await handler.handle_preview(make_event("preview.requested", preview, source="admin-api", account_id=ACCOUNT))

    assert engine.transactions_seen == [0, 0]
    assert _types(database) == ["message.send", "conversation.answered", "preview.answered"]


async def test_a_redelivered_message_emits_the_same_event_ids() -> None:
    event = _assigned("How do I reset my password?")
    ids: list[list[str]] = []
    for _ in range(2):  # as if the first transaction's commit was lost and the event came back
        database = FakeDatabase()
        await _handler(database, FakeEngine(database)).handle_assigned(event)
        ids.append([published.id for _, _, published in database.published])

    assert ids[0] == ids[1]
    assert len(set(ids[0])) == 2


async def test_a_young_message_waits_for_the_content_and_an_old_one_is_handed_off_once() -> None:
    database = FakeDatabase()
    engine = FakeEngine(database)
    engine.content_down = True
    handler = _handler(database, engine)

    with pytest.raises(AnswerDelayedError):
        await handler.handle_assigned(_assigned("Where is my parcel?", age_seconds=5))
    assert database.published == []
    assert database.claimed == set()

    old = _assigned("Where is my parcel?", age_seconds=61)
    reply = await handler.handle_assigned(old)
    again = await handler.handle_assigned(old)

    assert reply is not None
    assert reply.outcome == "content_unavailable"
    assert again is None
    assert _types(database) == ["message.send", "conversation.cannot_answer"]
    assert database.threads[(ACCOUNT, "t-1")].handed_off


async def test_content_down_tells_the_visitor_even_with_handoff_notices_off() -> None:
    database = FakeDatabase()
    engine = FakeEngine(database)
    engine.content_down = True
    handler = _handler(database, engine, handoff_notice=False)

    old = _assigned("Where is my parcel?", age_seconds=61)
    await handler.handle_assigned(old)
    await handler.handle_assigned(old)

    sent = [cast(MessageSend, event.data) for _, _, event in database.published if event.type == "message.send"]
    assert [(message.kind, message.text) for message in sent] == [
        (OutboundKind.HANDOFF_NOTICE, texts.TEMPORARILY_UNAVAILABLE["en"])
    ]
    assert _types(database) == ["message.send", "conversation.cannot_answer"]


async def test_an_ordinary_handoff_says_nothing_with_handoff_notices_off() -> None:
    database = FakeDatabase()
    handler = _handler(database, FakeEngine(database), handoff_notice=False)

    await handler.handle_assigned(_assigned("I want to talk to a person"))

    assert _types(database) == ["conversation.handoff_requested"]


async def test_two_misses_in_a_row_ask_to_rephrase_then_give_the_thread_to_a_person() -> None:
    database = FakeDatabase()
    engine = FakeEngine(database)
    engine.supported = False
    handler = _handler(database, engine)

    first = await handler.handle_assigned(_assigned("Can I pay with shells?"))
    second = await handler.handle_assigned(_assigned("Or with feathers?"))

    assert first is not None
    assert second is not None
    assert (first.outcome, second.outcome) == ("rephrase", "cannot_answer")
    gaps = [cast(Any, event.data).miss_count for _, _, event in database.published if event.type.endswith("gap")]
    assert gaps == [1, 2]
    assert database.threads[(ACCOUNT, "t-1")].handed_off


async def test_an_answered_preview_never_counts_as_replied_so_it_never_resolves() -> None:
    database = FakeDatabase()
    handler = _handler(database, FakeEngine(database))
    preview = PreviewRequested(account_id=ACCOUNT, correlation_id="c-1", text="How do I log in?", thread_id="p-1")

    await handler.handle_preview(make_event("preview.requested", preview, source="admin-api", account_id=ACCOUNT))

    thread = database.threads[(ACCOUNT, "preview:p-1")]
    assert thread.turns[-1].role == "agent"
    assert not thread.agent_replied


async def test_a_live_question_is_logged_for_replays_and_feedback_or_a_preview_is_not() -> None:
    database = FakeDatabase()
    handler = _handler(database, FakeEngine(database))

    await handler.handle_assigned(_assigned("How do I reset my password?"))
    await handler.handle_assigned(_assigned("thanks!"))
    preview = PreviewRequested(account_id=ACCOUNT, correlation_id="c-1", text="How do I log in?")
    await handler.handle_preview(make_event("preview.requested", preview, source="admin-api", account_id=ACCOUNT))

    logged = list(database.tables.questions.values())
    assert [(q.thread_id, q.message_id, q.text, q.language, q.locale) for q in logged] == [
        ("t-1", "m-How do I reset my password?", "How do I reset my password?", "en", "en-GB")
    ]
    assert (logged[0].channel_type, logged[0].channel_id) == ("live_chat", "web")
