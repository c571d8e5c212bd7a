"""An uploaded file's background run retried as a consumer retries a handler (the shared ``RetryPolicy``): a bug
gets ``max_attempts`` tries and then fails its source with the error; one that passes leaves nothing behind."""

from __future__ import annotations

from typing import Any

import pytest
from customer_agent_shared.events.sources import SOURCE_SYNC, SourceKind, SourceState

from .test_handlers import FAST_RETRIES, PRICES, Ingestion, command_event


async def upload_failing_to_index(ingestion: Ingestion, monkeypatch: pytest.MonkeyPatch, failures: int) -> list[int]:
    """A file waiting for its parse whose first ``failures`` writes to the index fail with a bug; the tries."""
    await ingestion.commands.handle(
        command_event(SOURCE_SYNC, "file", SourceKind.FILE, upload=ingestion.stored("prices.txt", PRICES))
    )
    write = ingestion.files._indexer.write
    tries: list[int] = []

    async def buggy_write(*args: Any, **kwargs: Any) -> None:
        tries.append(len(tries) + 1)
        if len(tries) <= failures:
            raise RuntimeError("a bug")
        await write(*args, **kwargs)

    monkeypatch.setattr(ingestion.files._indexer, "write", buggy_write)
    return tries


async def test_a_bug_gets_the_policy_s_attempts_then_fails_the_source_with_its_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ingestion = Ingestion()
    tries = await upload_failing_to_index(ingestion, monkeypatch, failures=FAST_RETRIES.max_attempts)

    await ingestion.parse_waiting_files()

    assert len(tries) == FAST_RETRIES.max_attempts
    source = ingestion.source("file")
    assert (source.state, source.error, source.pending_file) == (
        SourceState.FAILED,
        "indexing failed: RuntimeError: a bug",
        None,
    )
    assert ingestion.statuses("file")[-1].state is SourceState.FAILED
    assert ingestion.index.of_source("file") == []


async def test_a_bug_that_passes_before_the_attempts_run_out_leaves_the_file_indexed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ingestion = Ingestion()
    tries = await upload_failing_to_index(ingestion, monkeypatch, failures=FAST_RETRIES.max_attempts - 1)

    await ingestion.parse_waiting_files()

    assert len(tries) == FAST_RETRIES.max_attempts
    assert (ingestion.source("file").state, ingestion.source("file").error) == (SourceState.READY, None)
    assert len(ingestion.index.of_source("file")) == 1
