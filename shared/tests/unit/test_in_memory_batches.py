"""The in-memory unit of work of handler tests in a batch: units of work opened in it share its copy and caches,
and nothing of it is committed, nor follows a commit, before the batch ends without an error."""

from __future__ import annotations

import pytest
from customer_agent_shared.testing.in_memory_unit_of_work import (
    InMemoryDatabase,
    InMemoryStore,
    InMemoryUnitOfWork,
)


class NotesUnitOfWork(InMemoryUnitOfWork[dict[str, str]]):
    """A unit of work over notes by id."""

    notes: dict[str, str]

    def bind(self, tables: dict[str, str]) -> None:
        self.notes = tables


class Notes(InMemoryStore[dict[str, str]]):
    """Opens notes' units of work, joined to the batch open."""

    def __call__(self) -> NotesUnitOfWork:
        return NotesUnitOfWork(self.database, self.joining)


async def _write(store: Notes, note: str, ran: list[str]) -> None:
    """One use case: claim, write a note and keep it in the transaction's cache, commit."""
    async with store() as uow:
        assert await uow.claim_event("consumer", note)
        uow.notes[note] = "written"
        uow.transaction_cache("seen")[note] = True
        uow.after_commit(lambda: ran.append(note))
        await uow.commit()


async def test_units_of_work_in_a_batch_share_its_copy_and_caches_and_commit_with_it() -> None:
    store, ran = Notes(InMemoryDatabase({})), list[str]()
    async with store.batch():
        await _write(store, "a", ran)
        async with store() as uow:
            assert (uow.notes, dict(uow.transaction_cache("seen"))) == ({"a": "written"}, {"a": True})
            assert not await uow.claim_event("consumer", "a")
        await _write(store, "b", ran)
        assert (store.database.tables, store.database.claimed, ran) == ({}, set(), [])

    assert store.database.tables == {"a": "written", "b": "written"}
    assert store.database.claimed == {("consumer", "a"), ("consumer", "b")}
    assert ran == ["a", "b"]
    async with store() as uow:  # a new transaction: the batch's caches are gone
        assert uow.transaction_cache("seen") == {}


async def _failing_batch(store: Notes, ran: list[str]) -> None:
    """A batch whose first use case commits, then another fails."""
    async with store.batch():
        await _write(store, "a", ran)
        raise RuntimeError("the batch failed")


async def _failing_savepoint(uow: NotesUnitOfWork, ran: list[str]) -> None:
    """Write a note, keep it, add an after-commit action, all in a savepoint that fails."""
    async with uow.savepoint():
        uow.notes["b"] = "undone"
        uow.transaction_cache("seen")["b"] = True
        uow.after_commit(lambda: ran.append("b"))
        raise RuntimeError("in the savepoint")


async def test_a_failed_batch_leaves_nothing_and_a_failed_savepoint_in_it_only_its_own_part() -> None:
    store, ran = Notes(InMemoryDatabase({})), list[str]()
    with pytest.raises(RuntimeError, match="the batch failed"):
        await _failing_batch(store, ran)
    assert (store.database.tables, store.database.claimed, ran) == ({}, set(), [])

    async with store.batch() as batch:
        await _write(store, "a", ran)
        async with store() as uow:
            with pytest.raises(RuntimeError, match="in the savepoint"):
                await _failing_savepoint(uow, ran)
        assert (batch.working.tables, batch.caches) == ({"a": "written"}, {"seen": {"a": True}})

    assert (store.database.tables, ran) == ({"a": "written"}, ["a"])
