"""A knowledge base the admin removed stays removed: later articles are refused, and the source says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from customer_agent_shared.events.content import ARTICLE_PUBLISHED, ArticleChanged
from customer_agent_shared.events.sources import SOURCE_DELETE, SOURCE_SYNC, SourceKind
from customer_agent_shared.testing.kafka import unique_name
from ingestion_service.bootstrap import IngestionService
from ingestion_service.domain.model import IMPLICIT_KB_SOURCE

from .conftest import article_event, command_event, last_status, phrase_hits, wait_for_source

pytestmark = pytest.mark.integration


def _article(account: str, article_id: str, body: str) -> ArticleChanged:
    return ArticleChanged(
        account_id=account,
        article_id=article_id,
        url=f"https://kb.test/{article_id}",
        title="Refunds",
        body_html=f"<p>{body}</p>",
        language="en",
        updated_at=datetime.now(UTC) + timedelta(seconds=len(article_id)),
    )


async def test_articles_after_the_knowledge_base_was_removed_are_refused(ingestion: IngestionService) -> None:
    account = unique_name("acc")
    await ingestion.articles.handle(article_event(ARTICLE_PUBLISHED, _article(account, "a1", "Walruses get refunds.")))
    assert await phrase_hits(ingestion, account, "walruses get refunds")
    await ingestion.commands.handle(
        command_event(SOURCE_DELETE, account_id=account, source_id=IMPLICIT_KB_SOURCE, kind=SourceKind.KNOWLEDGE_BASE)
    )

    later = article_event(ARTICLE_PUBLISHED, _article(account, "a2", "Narwhals get refunds too."))
    await ingestion.articles.handle(later)

    assert await phrase_hits(ingestion, account, "narwhals get refunds") == []
    removed = await wait_for_source(ingestion, account, IMPLICIT_KB_SOURCE)
    assert removed.state == "deleted"

    status = await last_status(ingestion, account, IMPLICIT_KB_SOURCE)
    assert status["state"] == "deleted"
    assert "'a2'" in status["error"]
    assert "knowledge base was removed" in status["error"]

    # Once the admin adds a knowledge base again, articles are taken again.
    await ingestion.commands.handle(
        command_event(SOURCE_SYNC, account_id=account, source_id="kb-again", kind=SourceKind.KNOWLEDGE_BASE)
    )
    await wait_for_source(ingestion, account, "kb-again")
    await ingestion.articles.handle(article_event(ARTICLE_PUBLISHED, _article(account, "a3", "Seals are welcome.")))
    hits = await phrase_hits(ingestion, account, "seals are welcome")
    assert [hit["source_id"] for hit in hits] == ["kb-again"]
