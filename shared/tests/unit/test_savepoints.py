"""Savepoints without a database: a transaction's collected state goes back to its mark, and the in-memory unit of
work of handler tests undoes what a failed savepoint did."""

from __future__ import annotations

from typing import Any

import pytest
from customer_agent_shared.events.envelope import CloudEvent, make_event
from customer_agent_shared.persistence.unit_of_work import TransactionState
from customer_agent_shared.testing.in_memory_unit_of_work import InMemoryDatabase, InMemoryUnitOfWork
from pydantic import BaseModel
from sqlalchemy import text

RENAME = text("UPDATE greetings SET text = :text WHERE id = :b_id")


def _row(name: str) -> dict[str, Any]:
    return {"id": name}


def _mark_then_change(state: TransactionState) -> TransactionState:
    """Collect some of everything, mark, then change each of it as a savepoint's work would."""
    kept = state.caches.setdefault("rows", {})
    kept["a"] = "as locked"
    state.stage(_row("a1"), "a")
    state.deferred[RENAME] = {1: {"b_id": 1, "text": "before"}}
    state.preclaimed["consumer"] = ({"e1", "e2"}, {"e1", "e2"})
    state.after_commit.append(lambda: None)
    mark = state.mark()

    kept["a"] = "changed in the savepoint"
    kept["b"] = "locked in the savepoint"
    state.caches.setdefault("later", {})["c"] = "kept in a cache the savepoint began"
    state.stage(_row("a2"), "a")  # replaces a1
    state.stage(_row("x"), None)
    state.deferred[RENAME][1] = {"b_id": 1, "text": "in the savepoint"}
    state.deferred[text("DELETE FROM greetings")] = {0: {}}
    state.preclaimed["consumer"][1].discard("e1")
    state.preclaimed["other"] = ({"e3"}, {"e3"})
    state.after_commit.append(lambda: None)
    return mark


def test_restoring_a_mark_brings_back_everything_collected_before_it_in_the_dicts_repositories_hold() -> None:
    state = TransactionState(shared=True)
    kept = state.caches.setdefault("rows", {})
    mark = _mark_then_change(state)
    later = state.caches["later"]

    state.restore(mark)

    assert state.caches == {"rows": {"a": "as locked"}, "later": {}}
    assert state.caches["rows"] is kept
    assert state.caches["later"] is later
    assert state.deferred == {RENAME: {1: {"b_id": 1, "text": "before"}}}
    assert state.preclaimed == {"consumer": ({"e1", "e2"}, {"e1", "e2"})}
    assert len(state.after_commit) == 1
    assert state.staged_events == 1
    assert state.take_outbox_rows() == [_row("a1")]
    state.stage(_row("a3"), "a")  # the state key points at a1's place again
    assert state.take_outbox_rows() == [_row("a3")]


class Note(BaseModel):
    """A test payload."""

    text: str


def _event(note: str) -> CloudEvent[Note]:
    return make_event("note.written", Note(text=note), source="test", account_id="acc-1")


class NotesUnitOfWork(InMemoryUnitOfWork[dict[str, str]]):
    """A unit of work over notes by id."""

    notes: dict[str, str]

    def bind(self, tables: dict[str, str]) -> None:
        self.notes = tables


async def _do_everything_then_fail(uow: NotesUnitOfWork, ran: list[str]) -> None:
    """In a savepoint: add and change notes, claim an event, stage one, add an after-commit action; fail."""
    async with uow.savepoint():
        uow.notes["undone"] = "inside"
        uow.notes["kept"] = "changed inside"
        assert await uow.claim_event("consumer", "e1")
        await uow.publish("notes", "undone", _event("inside"))
        uow.after_commit(lambda: ran.append("inside"))
        raise RuntimeError("in the savepoint")


async def test_a_failed_in_memory_savepoint_undoes_its_changes_claims_events_and_actions_and_keeps_the_rest() -> None:
    database: InMemoryDatabase[dict[str, str]] = InMemoryDatabase({})
    ran: list[str] = []
    async with NotesUnitOfWork(database) as uow:
        uow.notes["kept"] = "before"
        await uow.publish("notes", "kept", _event("before"))
        uow.after_commit(lambda: ran.append("before"))
        with pytest.raises(RuntimeError, match="in the savepoint"):
            await _do_everything_then_fail(uow, ran)
        async with uow.savepoint():
            assert await uow.claim_event("consumer", "e1")  # its claim was undone too
        await uow.commit()

    assert database.tables == {"kept": "before"}
    assert [key for _, key, _ in database.published] == ["kept"]
    assert database.claimed == {("consumer", "e1")}
    assert ran == ["before"]
