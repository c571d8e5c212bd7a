"""An edited short answer is what the index holds at once: the agent gives the new answer."""

from __future__ import annotations

import pytest
from customer_agent_shared.events.sources import SOURCE_SYNC, SOURCE_UPDATE, SourceKind
from customer_agent_shared.testing.kafka import unique_name
from ingestion_service.bootstrap import IngestionService

from .conftest import command_event, phrase_hits, wait_for_source

pytestmark = pytest.mark.integration


async def test_editing_a_short_answer_reindexes_it(ingestion: IngestionService) -> None:
    account = unique_name("acc")
    fields = {"account_id": account, "source_id": "qa", "kind": SourceKind.SHORT_ANSWER}
    await ingestion.commands.handle(
        command_event(SOURCE_SYNC, **fields, question="When does the shop open?", answer="Every Tuesday at nine.")
    )
    await wait_for_source(ingestion, account, "qa")

    # admin-api sends the whole edited source (PATCH /sources/{id}), citations off this time.
    await ingestion.commands.handle(
        command_event(
            SOURCE_UPDATE,
            **fields,
            question="When does the walrus shop open?",
            answer="Every Friday at ten.",
            citations_enabled=False,
        )
    )

    assert await phrase_hits(ingestion, account, "every tuesday at nine") == []
    [hit] = await phrase_hits(ingestion, account, "every friday at ten")
    assert hit["question"] == "When does the walrus shop open?"
    assert hit["citations_allowed"] is False
    record = await wait_for_source(ingestion, account, "qa")
    assert (record.state, record.title) == ("ready", "When does the walrus shop open?")
