"""Each account's answer threshold (from agent.config.v1) decides how sure its agent must be to answer.

Two accounts hold the same corpus, with the vectors ingestion would add (a passage without a vector is
judged by word support, which the threshold does not touch). The question's calibrated confidence is
above the tuned default and below the strict account's 0.99.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from conversation_service.bootstrap import ConversationService, build_service
from conversation_service.domain import texts
from conversation_service.handlers.replies import Reply
from conversation_service.settings import ConversationSettings
from customer_agent_shared.clients import create_opensearch_client
from customer_agent_shared.embeddings import BuiltinEmbedder
from customer_agent_shared.events.channels import OutboundKind
from customer_agent_shared.events.config import (
    AGENT_CONFIG_SNAPSHOT,
    AgentConfigSnapshot,
    AgentProfile,
    AvailabilityMessages,
    HandoffSettings,
)
from customer_agent_shared.events.envelope import make_event
from customer_agent_shared.events.preview import PREVIEW_REQUESTED, PreviewAnswered, PreviewRequested
from customer_agent_shared.events.replay import REPLAY_REQUESTED, ReplayRequested
from customer_agent_shared.persistence.database import create_database_engine
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import unique_name
from sqlalchemy import text

from .corpus import PASSWORD_URL, create_index
from .messages import assigned_event

pytestmark = pytest.mark.integration

STRICT = unique_name("conv-strict")
DEFAULT = unique_name("conv-default")
REPLAYED = unique_name("conv-replayed")
QUESTION = "How do I reset my password?"


@pytest.fixture(scope="module")
async def service(infrastructure: InfrastructureSettings) -> AsyncIterator[ConversationService]:
    """Conversation in-process over a scratch schema and a throwaway index of the corpus with vectors."""
    schema = unique_name("conv_threshold").replace("-", "_")
    index = unique_name("conv-threshold-chunks")
    client = create_opensearch_client(infrastructure.opensearch_url)
    embedder = BuiltinEmbedder()
    try:
        await create_index(client, index, [STRICT, DEFAULT, REPLAYED], embedder=embedder)
        settings = ConversationSettings(
            service_name=unique_name("conversation-test"),
            database_schema=schema,
            consumer_group=unique_name("conversation.test"),
            consumer_offset_reset="latest",
            content_index=index,
            resolution_sweep_seconds=0,
            config_cache_seconds=0,
        )
        built = build_service(settings)
        async with built.kernel.lifecycle.running():
            yield built
    finally:
        await embedder.aclose()
        await client.indices.delete(index=index, ignore_unavailable=True)
        await client.close()
        engine = create_database_engine(infrastructure.database_url, pool_size=1)
        async with engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


async def configure(service: ConversationService, account: str, version: int, threshold: float | None) -> None:
    """Fold a configuration snapshot with this answer threshold."""
    snapshot = AgentConfigSnapshot(
        account_id=account,
        version=version,
        updated_at=datetime.now(UTC),
        agent=AgentProfile(answer_threshold=threshold),
    )
    assert await service.config.handle(make_event(AGENT_CONFIG_SNAPSHOT, snapshot, source="test", account_id=account))


async def ask(service: ConversationService, account: str) -> Reply:
    """The question on a new live-chat thread of ``account``."""
    event = assigned_event(QUESTION, unique_name("thread"), account=account)
    reply = await service.conversations.handle_assigned(event)
    assert reply is not None
    return reply


async def preview(service: ConversationService, account: str) -> PreviewAnswered:
    """The question in the preview chat of ``account``."""
    request = PreviewRequested(account_id=account, correlation_id=unique_name("corr"), text=QUESTION, locale="en")
    answered = await service.conversations.handle_preview(
        make_event(PREVIEW_REQUESTED, request, source="test", account_id=account)
    )
    assert answered is not None
    return answered


async def test_a_strict_account_declines_what_an_account_with_the_default_answers(
    service: ConversationService,
) -> None:
    await configure(service, STRICT, 1, 0.99)
    await configure(service, DEFAULT, 1, None)

    answered = await ask(service, DEFAULT)
    assert (answered.outcome, answered.kind) == ("answered", OutboundKind.ANSWER)
    assert answered.citations[0].url == PASSWORD_URL
    declined = await ask(service, STRICT)
    assert (declined.outcome, declined.kind) == ("rephrase", OutboundKind.REPHRASE_REQUEST)
    # Declined only by the strict threshold, the question is near its answer: the request offers the page.
    assert declined.text == f"{texts.REPHRASE_REQUEST['en']}\n{texts.RELATED_PAGES['en']}"
    assert declined.citations[0].url == PASSWORD_URL

    assert (await preview(service, DEFAULT)).kind is OutboundKind.ANSWER
    assert (await preview(service, STRICT)).kind is OutboundKind.REPHRASE_REQUEST


async def test_clearing_the_threshold_brings_back_the_default(service: ConversationService) -> None:
    await configure(service, STRICT, 2, 0.99)
    assert (await ask(service, STRICT)).outcome == "rephrase"
    await configure(service, STRICT, 3, None)
    assert (await ask(service, STRICT)).outcome == "answered"
    assert (await preview(service, STRICT)).kind is OutboundKind.ANSWER


async def test_the_languages_of_the_account_messages_settle_a_danish_question(service: ConversationService) -> None:
    account = unique_name("acc-languages")
    placeholders = dict.fromkeys(("available", "away", "at_capacity", "outside_hours", "handoff_unavailable"), "…")
    messages = {language: AvailabilityMessages(**placeholders) for language in ("da-DK", "en")}
    snapshot = AgentConfigSnapshot(
        account_id=account, version=1, updated_at=datetime.now(UTC), handoff=HandoffSettings(messages=messages)
    )
    assert await service.config.handle(make_event(AGENT_CONFIG_SNAPSHOT, snapshot, source="test", account_id=account))
    async with service.unit_of_work() as uow:
        record = await uow.profiles.get(account)
    assert record is not None
    assert record.languages == ("da", "en")
    # Short Danish reads as Norwegian without the account's languages; with them it is Danish.
    reply = await service.conversations.handle_assigned(
        assigned_event("Kan jeg betale med kort?", unique_name("thread"), account=account, locale=None)
    )
    assert reply is not None
    assert reply.language == "da"


async def test_a_replay_judges_the_logged_questions_under_the_live_and_the_draft_threshold(
    service: ConversationService,
) -> None:
    account = REPLAYED
    await configure(service, account, 1, None)
    thread = unique_name("thread")
    asked = [QUESTION, "Can I pay with seashells on the moon?", "thanks!"]
    for text_ in asked:
        assert await service.conversations.handle_assigned(assigned_event(text_, thread, account=account))
    live = AgentConfigSnapshot(account_id=account, version=1, updated_at=datetime.now(UTC))
    draft = live.model_copy(update={"agent": AgentProfile(answer_threshold=0.99)})
    request = ReplayRequested(account_id=account, replay_id=unique_name("rpl"), limit=200, live=live, draft=draft)
    event = make_event(REPLAY_REQUESTED, request, source="test", account_id=account)

    replayed = await service.replay.handle(event)

    assert replayed is not None
    assert (replayed.available, replayed.complete) == (2, True)  # "thanks!" is not a question
    newest, oldest = replayed.questions
    assert [oldest.text, newest.text] == asked[:2]
    assert (oldest.live.kind, oldest.live.answered) == (OutboundKind.ANSWER, True)
    assert oldest.live.citations[0].url == PASSWORD_URL
    assert (oldest.draft.kind, oldest.draft.answered) == (OutboundKind.REPHRASE_REQUEST, False)
    # Declined only by the draft's threshold, it is near its answer: the rephrase request offers the page.
    assert oldest.draft.citations[0].url == PASSWORD_URL
    # Live, the unanswerable question is the first miss; under the draft the second in a row: a person.
    assert (newest.live.kind, newest.live.handoff_reason) == (OutboundKind.REPHRASE_REQUEST, None)
    assert newest.draft.handoff_reason == "cannot_answer"
    assert await service.replay.handle(event) is None  # a redelivered request is answered once
