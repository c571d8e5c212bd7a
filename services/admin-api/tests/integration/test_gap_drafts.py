"""The LLM's drafts of knowledge gaps' answers, folded from conversations.events.v1 through Kafka."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from customer_agent_shared.events.channels import ChannelRef, ChannelType
from customer_agent_shared.events.conversations import (
    CONVERSATION_KNOWLEDGE_GAP,
    CONVERSATION_KNOWLEDGE_GAP_DRAFTED,
    ConversationEvent,
    KnowledgeGapDrafted,
)
from customer_agent_shared.events.envelope import CloudEvent, derived_event_id, make_event, serialize_event
from customer_agent_shared.testing.kafka import produce_raw
from customer_agent_shared.testing.plumbing import eventually
from customer_agent_shared.topics import CONVERSATIONS_EVENTS

from .harness import Account, Harness, get_until

pytestmark = pytest.mark.integration


class Conversation:
    """Publishes what conversation publishes for one account: gaps, then the model's drafts of them."""

    def __init__(self, harness: Harness, account: Account) -> None:
        self._harness = harness
        self._account = account

    async def _send(self, thread: str, event: CloudEvent[Any]) -> str:
        servers = self._harness.settings.kafka_bootstrap_servers
        key = f"{self._account.id}:{thread}".encode()
        await produce_raw(servers, CONVERSATIONS_EVENTS, serialize_event(event), key=key)
        return event.id

    async def gap(self, thread: str, question: str, language: str, extract: str | None) -> str:
        """A declined question's knowledge_gap event (with the extract, if content came near); its id."""
        data = ConversationEvent(
            account_id=self._account.id,
            thread_id=thread,
            channel=ChannelRef(type=ChannelType.LIVE_CHAT, id="web"),
            message_id=f"m-{thread}",
            occurred_at=datetime.now(UTC),
            question=question,
            language=language,
            miss_count=1,
            recommended_answer=extract,
        )
        event = make_event(CONVERSATION_KNOWLEDGE_GAP, data, source="conversation", account_id=self._account.id)
        return await self._send(thread, event)

    async def draft(self, thread: str, gap_event_id: str, language: str, answer: str) -> str:
        """The model's draft for the question of ``gap_event_id``; its id."""
        data = KnowledgeGapDrafted(
            account_id=self._account.id,
            thread_id=thread,
            message_id=f"m-{thread}",
            occurred_at=datetime.now(UTC),
            gap_event_id=gap_event_id,
            language=language,
            recommended_answer=answer,
        )
        event = make_event(
            CONVERSATION_KNOWLEDGE_GAP_DRAFTED,
            data,
            source="conversation",
            account_id=self._account.id,
            event_id=derived_event_id(gap_event_id, CONVERSATION_KNOWLEDGE_GAP_DRAFTED),
        )
        return await self._send(thread, event)


def _by_question(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {gap["question"]: gap for gap in body["items"]}


async def test_the_model_draft_replaces_the_extract_of_an_open_gap_in_its_language_only(harness: Harness) -> None:
    account = await harness.new_account()
    conversation = Conversation(harness, account)
    english = await conversation.gap("t1", "MobilePay?", "en", "MobilePay is accepted in our shops.")
    iceland = await conversation.gap("t3", "Do you ship to Iceland?", "en", "We ship to the Nordic countries.")
    wordless = await conversation.gap("t4", "??", "en", None)  # no words to group by: no gap
    await eventually(lambda: harness.handled(english, iceland, wordless), "the first gaps folded")
    danish = await conversation.gap("t2", "MobilePay?", "da", None)  # the same words: it joins the English gap
    gaps = await get_until(
        harness, account, "/knowledge-gaps", lambda body: sum(g["count"] for g in body["items"]) == 3
    )
    mobilepay = _by_question(gaps)["MobilePay?"]
    assert (mobilepay["recommended_answer"], mobilepay["recommended_answer_by"]) == (
        "MobilePay is accepted in our shops.",
        "extract",
    )
    iceland_gap = _by_question(gaps)["Do you ship to Iceland?"]["id"]
    dismissed = await harness.client.post(account.path(f"/knowledge-gaps/{iceland_gap}/dismiss"), headers=account.edit)
    assert dismissed.status_code == 200, dismissed.text

    # The Danish question's draft is not in the gap's language; the dismissed gap takes none; a question in
    # no gap has none to take it.
    ignored = [
        await conversation.draft("t2", danish, "da", "Ja, vi tager MobilePay."),
        await conversation.draft("t3", iceland, "en", "Yes, we ship to Iceland."),
        await conversation.draft("t4", wordless, "en", "Please ask again."),
    ]
    await eventually(lambda: harness.handled(*ignored), "the ignored drafts handled")
    mobilepay = _by_question((await harness.client.get(account.path("/knowledge-gaps"), headers=account.read)).json())
    assert mobilepay["MobilePay?"]["recommended_answer_by"] == "extract"
    async with harness.service.unit_of_work() as uow:
        stored = await uow.gaps.get(account.id, iceland_gap)
    assert stored is not None
    assert (stored["status"], stored["drafted_by"]) == ("dismissed", "extract")

    taken = await conversation.draft("t1", english, "en", "Yes: MobilePay is accepted online and in our shops.")
    await eventually(lambda: harness.handled(taken), "the English draft handled")
    body = (await harness.client.get(account.path("/knowledge-gaps"), headers=account.read)).json()
    assert [(g["recommended_answer"], g["recommended_answer_by"]) for g in body["items"]] == [
        ("Yes: MobilePay is accepted online and in our shops.", "llm")
    ]


async def test_links_from_questions_to_gaps_are_forgotten_after_the_retention(harness: Harness) -> None:
    account = await harness.new_account()
    conversation = Conversation(harness, account)
    recent = await conversation.gap("t1", "Do you sell gift cards?", "en", None)
    await eventually(lambda: harness.handled(recent), "the gap folded")
    async with harness.service.unit_of_work() as uow:
        gap_id = await uow.gaps.gap_of_question(account.id, recent)
        assert gap_id is not None
        await uow.gaps.record_question(account.id, "an-old-event", gap_id, datetime.now(UTC) - timedelta(days=8))
        await uow.commit()
    assert harness.service.api is not None
    await harness.service.api.insights.forget_old_questions()
    async with harness.service.unit_of_work() as uow:
        assert await uow.gaps.gap_of_question(account.id, recent) == gap_id
        assert await uow.gaps.gap_of_question(account.id, "an-old-event") is None
