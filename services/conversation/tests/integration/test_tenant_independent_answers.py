"""Whether conversation answers an account's question depends on that account's content alone.

OpenSearch computes BM25 term statistics over the whole shard, which every account shares, so the raw
score of a chunk falls as other accounts index the same words. The same account with the same content
is asked the same questions in an index of its own and in one crowded with other accounts holding
identical content; every decision (answer or not, and from which chunk) must be the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from conversation_service.adapters.bilingual_dictionary import read_lexicon
from conversation_service.bootstrap import build_answer_engine
from conversation_service.domain.composer import Persona
from conversation_service.handlers.answering import AnswerEngine, Attempt
from conversation_service.settings import ConversationSettings
from customer_agent_shared.clients import create_opensearch_client
from customer_agent_shared.content_index import index_body, with_localized_fields
from customer_agent_shared.embeddings import create_embedder
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import unique_name
from opensearchpy import AsyncOpenSearch

pytestmark = pytest.mark.integration

SHOP = unique_name("tenant-shop")
NEIGHBOURS = 40
HOURS_QUESTION = "What are your opening hours?"
HOURS_ANSWER = "We are open Monday to Friday from 9 to 17, and Saturday from 10 to 14."
ANSWERABLE = [
    HOURS_QUESTION,
    "When are you open on Saturday?",
    "How long does delivery to Germany take?",
]
UNANSWERABLE = ["Do you sell pizza?", "Can I pay with bitcoin at the counter?"]


def shop_documents(account_id: str) -> list[dict[str, Any]]:
    """A tiny shop: one short answer and one page, as ingestion would index them."""
    now = datetime.now(UTC).isoformat()
    common = {
        "account_id": account_id,
        "position": 0,
        "private": False,
        "citations_allowed": True,
        "language": "en",
        "updated_at": now,
    }
    hours = {
        **common,
        "chunk_id": "hours",
        "source_id": "short-hours",
        "document_id": "short-hours",
        "source_kind": "short_answer",
        "url": "",
        "title": HOURS_QUESTION,
        "section": HOURS_QUESTION,
        "body": HOURS_ANSWER,
        "question": HOURS_QUESTION,
        "answer": HOURS_ANSWER,
        "content_hash": "hash-hours",
    }
    delivery = {
        **common,
        "chunk_id": "delivery",
        "source_id": "site",
        "document_id": "delivery",
        "source_kind": "url",
        "url": "https://shop.example.com/delivery",
        "title": "Delivery",
        "section": "Delivery",
        "body": "Delivery to Germany takes three to five working days. Parcels are sent with DHL.",
        "content_hash": "hash-delivery",
    }
    return [hours, delivery]


async def add_accounts(client: AsyncOpenSearch, index: str, accounts: list[str], *, only_hours: bool = False) -> None:
    """Index the shop's content (or its short answer alone) for each of ``accounts``."""
    lines: list[dict[str, Any]] = []
    for account_id in accounts:
        documents = shop_documents(account_id)
        for document in documents[:1] if only_hours else documents:
            lines.append({"index": {"_index": index, "_id": f"{account_id}:{document['chunk_id']}"}})
            lines.append(with_localized_fields(document))
    result = await client.bulk(body=lines, refresh=True)
    assert not result["errors"], result


@pytest.fixture(scope="module")
async def indexes(infrastructure: InfrastructureSettings) -> AsyncIterator[tuple[AsyncOpenSearch, str, str]]:
    """Two throwaway indexes: the shop alone, and the shop among many accounts with the same content."""
    client = create_opensearch_client(infrastructure.opensearch_url)
    alone, crowded = unique_name("tenant-alone"), unique_name("tenant-crowded")
    neighbours = [unique_name("tenant-neighbour") for _ in range(NEIGHBOURS)]
    try:
        for index in (alone, crowded):
            await client.indices.create(index=index, body=index_body())
            await add_accounts(client, index, [SHOP])
        # Neighbours whose only content is the same short answer: the question's words are in most chunks.
        await add_accounts(client, crowded, neighbours, only_hours=True)
        yield client, alone, crowded
    finally:
        await client.indices.delete(index=f"{alone},{crowded}", ignore_unavailable=True)
        await client.close()


def engine_over(client: AsyncOpenSearch, index: str) -> AnswerEngine:
    """The answer pipeline with conversation's default thresholds, reading ``index``."""
    settings = ConversationSettings(content_index=index)
    lexicon = read_lexicon(settings.dictionary_dir)
    return build_answer_engine(settings, client, embedder=create_embedder(settings), lexicon=lexicon)


async def attempt(engine: AnswerEngine, question: str) -> Attempt:
    """Ask the shop's agent ``question`` in English."""
    return await engine.answer(SHOP, question, language="en", previous_questions=(), persona=Persona(), greet=False)


def decision(result: Attempt) -> tuple[bool, str]:
    """Whether it answered, and with which text."""
    return result.supported, result.answer.passage if result.answer else ""


async def test_the_shop_gets_the_same_answers_alone_and_among_identical_neighbours(
    indexes: tuple[AsyncOpenSearch, str, str],
) -> None:
    client, alone, crowded = indexes
    alone_engine, crowded_engine = engine_over(client, alone), engine_over(client, crowded)
    for question in ANSWERABLE:
        by_itself = await attempt(alone_engine, question)
        among_others = await attempt(crowded_engine, question)
        assert by_itself.supported, question
        assert decision(among_others) == decision(by_itself), question
    for question in UNANSWERABLE:
        assert not (await attempt(alone_engine, question)).supported, question
        assert not (await attempt(crowded_engine, question)).supported, question


async def test_the_short_answer_is_given_for_its_own_question_in_a_crowded_index(
    indexes: tuple[AsyncOpenSearch, str, str],
) -> None:
    client, _, crowded = indexes
    result = await attempt(engine_over(client, crowded), HOURS_QUESTION)
    assert result.supported
    assert result.answer is not None
    assert HOURS_ANSWER in result.answer.text
