"""Savepoints on real PostgreSQL: a part of a transaction that fails is undone alone (its writes, deferred ones
too, events, claims, after-commit actions and kept rows) and the rest of the transaction commits."""

from __future__ import annotations

import pytest
from customer_agent_shared.events.envelope import CloudEvent, make_event
from customer_agent_shared.persistence.unit_of_work import SqlUnitOfWork, shared_transaction
from sqlalchemy import Executable, bindparam
from sqlalchemy.exc import IntegrityError

from .greeting_store import CONSUMER, Greeting, Store

pytestmark = pytest.mark.integration


def _greeting(text: str) -> CloudEvent[Greeting]:
    return make_event("greeting.sent", Greeting(text=text), source="test", account_id="acc-1")


async def test_a_failed_savepoint_is_undone_alone_and_the_rest_of_the_transaction_commits(store: Store) -> None:
    ran: list[str] = []
    async with store.unit_of_work() as uow:
        kept = uow.transaction_cache("rows")
        await uow.session.execute(store.greetings.insert().values(id=1, text="before"))
        await uow.publish("greetings", "acc-1", _greeting("before"))
        uow.after_commit(lambda: ran.append("before"))
        kept["row"] = "as read before"
        with pytest.raises(RuntimeError, match="inside"):
            await _do_everything_then_fail(store, uow, ran)
        assert uow.transaction_cache("rows") == {"row": "as read before"}
        assert await uow.claim_event(CONSUMER, "event-1")  # the claim inside was rolled back with it
        async with uow.savepoint():  # one that succeeds keeps what it did
            await uow.session.execute(store.greetings.insert().values(id=3, text="after"))
        await uow.commit()

    assert await store.texts() == {1: "before", 3: "after"}
    assert await store.outbox_texts() == ["before"]
    assert ran == ["before"]


async def _do_everything_then_fail(store: Store, uow: SqlUnitOfWork, ran: list[str]) -> None:
    """In a savepoint: write, stage an event, claim one, add an after-commit action and change a kept row; fail."""
    async with uow.savepoint():
        await uow.session.execute(store.greetings.insert().values(id=2, text="inside"))
        await uow.publish("greetings", "acc-1", _greeting("inside"))
        uow.after_commit(lambda: ran.append("inside"))
        uow.transaction_cache("rows")["row"] = "as changed inside"
        assert await uow.claim_event(CONSUMER, "event-1")
        raise RuntimeError("inside")


async def test_in_a_shared_transaction_writes_deferred_inside_a_failed_savepoint_are_dropped_and_others_kept(
    store: Store,
) -> None:
    async with store.unit_of_work() as uow:
        await uow.session.execute(store.greetings.insert(), [{"id": 1, "text": "a"}, {"id": 2, "text": "b"}])
        await uow.commit()
    rename = store.greetings.update().where(store.greetings.c.id == bindparam("b_id")).values(text=bindparam("text"))

    async with shared_transaction(store.unit_of_work) as batch:
        async with store.unit_of_work() as uow:
            await uow.write_at_commit(rename, 1, {"b_id": 1, "text": "a1"})  # deferred before: not the savepoint's
            with pytest.raises(RuntimeError, match="inside"):
                await _write_then_fail(uow, rename)
            async with uow.savepoint():
                await uow.write_at_commit(rename, 2, {"b_id": 2, "text": "b1"})
            await uow.commit()
        await batch.commit()

    assert await store.texts() == {1: "a1", 2: "b1"}


async def _write_then_fail(uow: SqlUnitOfWork, rename: Executable) -> None:
    """In a savepoint: rename both greetings (deferred in a shared transaction), then fail."""
    async with uow.savepoint():
        await uow.write_at_commit(rename, 1, {"b_id": 1, "text": "undone"})
        await uow.write_at_commit(rename, 2, {"b_id": 2, "text": "undone"})
        raise RuntimeError("inside")


async def _stage_then_write_a_null_text(uow: SqlUnitOfWork, insert: Executable) -> None:
    """In a savepoint: stage an event and defer a greeting without text, which breaks NOT NULL when run."""
    async with uow.savepoint():
        await uow.publish("greetings", "acc-1", _greeting("undone"))
        await uow.write_at_commit(insert, 1, {"id": 1, "text": None})


async def test_a_deferred_write_that_fails_at_the_end_of_its_savepoint_is_undone_with_it(store: Store) -> None:
    insert = store.greetings.insert().values(id=bindparam("id"), text=bindparam("text"))
    async with shared_transaction(store.unit_of_work) as batch:
        async with store.unit_of_work() as uow:
            with pytest.raises(IntegrityError):
                await _stage_then_write_a_null_text(uow, insert)
            await uow.write_at_commit(insert, 2, {"id": 2, "text": "kept"})
            await uow.publish("greetings", "acc-1", _greeting("kept"))
            await uow.commit()
        await batch.commit()

    assert await store.texts() == {2: "kept"}
    assert await store.outbox_texts() == ["kept"]
