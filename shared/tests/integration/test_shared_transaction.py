"""Units of work joined in one shared transaction (as a batch runs them) on real PostgreSQL: claims, writes
at commit, after-commit actions, the transaction cache and replaceable staged states."""

from __future__ import annotations

import pytest
from customer_agent_shared.events.envelope import CloudEvent, make_event
from customer_agent_shared.persistence.unit_of_work import UncommittedJoinedWorkError, shared_transaction
from sqlalchemy import bindparam, select

from .greeting_store import CONSUMER, Greeting, Store

pytestmark = pytest.mark.integration


async def test_a_joined_unit_of_work_that_claims_without_committing_fails_the_batch(store: Store) -> None:
    async def claim_in_a_batch_and_forget_to_commit() -> None:
        async with shared_transaction(store.unit_of_work) as batch:
            async with store.unit_of_work() as uow:
                assert await uow.claim_event(CONSUMER, "event-1")
            await batch.commit()

    with pytest.raises(UncommittedJoinedWorkError):
        await claim_in_a_batch_and_forget_to_commit()
    async with store.unit_of_work() as uow:  # the claim was rolled back with the batch
        assert await uow.claim_event(CONSUMER, "event-1")


async def test_writes_at_commit_run_once_at_the_shared_commit_and_the_last_per_key_wins(store: Store) -> None:
    async with store.unit_of_work() as uow:
        await uow.session.execute(store.greetings.insert(), [{"id": 1, "text": "a"}, {"id": 2, "text": "b"}])
        await uow.commit()
    rename = store.greetings.update().where(store.greetings.c.id == bindparam("b_id")).values(text=bindparam("text"))
    async with shared_transaction(store.unit_of_work) as batch:
        for key, value in ((1, "a1"), (2, "b1"), (1, "a2")):
            async with store.unit_of_work() as uow:
                await uow.write_at_commit(rename, key, {"b_id": key, "text": value})
                await uow.commit()
        assert await store.texts() == {1: "a", 2: "b"}  # nothing written before the shared commit
        await batch.commit()
    assert await store.texts() == {1: "a2", 2: "b1"}
    async with store.unit_of_work() as uow:  # alone, a unit of work writes at once
        await uow.write_at_commit(rename, 2, {"b_id": 2, "text": "b2"})
        assert (
            await uow.session.execute(select(store.greetings.c.text).where(store.greetings.c.id == 2))
        ).scalar() == "b2"
        await uow.rollback()
    assert await store.texts() == {1: "a2", 2: "b1"}


async def test_a_rolled_back_shared_transaction_drops_its_writes_at_commit(store: Store) -> None:
    async with store.unit_of_work() as uow:
        await uow.session.execute(store.greetings.insert().values(id=1, text="a"))
        await uow.commit()
    rename = store.greetings.update().where(store.greetings.c.id == bindparam("b_id")).values(text=bindparam("text"))

    async def fail_after_a_write_at_commit() -> None:
        async with shared_transaction(store.unit_of_work):
            async with store.unit_of_work() as uow:
                await uow.write_at_commit(rename, 1, {"b_id": 1, "text": "lost"})
                await uow.commit()
            raise RuntimeError("the batch failed")

    with pytest.raises(RuntimeError, match="the batch failed"):
        await fail_after_a_write_at_commit()
    assert await store.texts() == {1: "a"}


async def test_after_commit_actions_run_once_the_changes_are_committed_and_never_after_a_rollback(
    store: Store,
) -> None:
    ran: list[str] = []
    async with shared_transaction(store.unit_of_work) as batch:
        async with store.unit_of_work() as uow:
            uow.after_commit(lambda: ran.append("joined"))
            await uow.commit()
        assert ran == []  # the joined commit committed nothing yet
        await batch.commit()
    assert ran == ["joined"]

    async def fail_after_a_joined_commit() -> None:
        async with shared_transaction(store.unit_of_work):
            async with store.unit_of_work() as uow:
                uow.after_commit(lambda: ran.append("rolled back"))
                await uow.commit()
            raise RuntimeError("the batch failed")

    with pytest.raises(RuntimeError, match="the batch failed"):
        await fail_after_a_joined_commit()
    async with store.unit_of_work() as uow:
        uow.after_commit(lambda: ran.append("alone"))
        await uow.commit()
    async with store.unit_of_work() as uow:
        uow.after_commit(lambda: ran.append("discarded"))  # left without a commit
    async with store.unit_of_work() as uow:
        uow.after_commit(lambda: ran.append("rolled back alone"))
        await uow.rollback()
        await uow.commit()
    assert ran == ["joined", "alone"]


async def test_the_transaction_cache_is_shared_by_joined_units_and_emptied_at_the_end(store: Store) -> None:
    async with shared_transaction(store.unit_of_work) as batch:
        async with store.unit_of_work() as first:
            first.transaction_cache("rows")["k"] = "locked row"
        async with store.unit_of_work() as second:
            assert second.transaction_cache("rows") == {"k": "locked row"}
            assert second.transaction_cache("other") == {}
        await batch.commit()
        assert batch.transaction_cache("rows") == {}  # the next transaction must read again
    async with store.unit_of_work() as alone:
        alone.transaction_cache("rows")["k"] = "row"
        await alone.rollback()
        assert alone.transaction_cache("rows") == {}


async def test_a_state_staged_again_in_a_shared_transaction_replaces_the_earlier_one(store: Store) -> None:
    def state(text: str) -> CloudEvent[Greeting]:
        return make_event("greeting.sent", Greeting(text=text), source="test", account_id="acc-1")

    async with shared_transaction(store.unit_of_work) as batch:
        for text, state_key in (
            ("a1", "a"),
            ("b1", "b"),
            ("a transition", None),  # not replaceable, and replaces nothing
            ("a2", "a"),
            ("a3", "a"),
        ):
            async with store.unit_of_work() as uow:
                await uow.publish("states", "a", state(text), state_key=state_key)
                await uow.commit()
        await batch.commit()
    # Each state once, the latest; the others kept in the order they were staged.
    assert await store.outbox_texts() == ["b1", "a transition", "a3"]

    async def fail_after_staging() -> None:
        async with shared_transaction(store.unit_of_work):
            async with store.unit_of_work() as uow:
                await uow.publish("states", "a", state("rolled back"), state_key="a")
                await uow.commit()
            raise RuntimeError("the batch failed")

    with pytest.raises(RuntimeError, match="the batch failed"):
        await fail_after_staging()
    async with store.unit_of_work() as uow:  # alone, each event is staged at once and kept
        await uow.publish("states", "a", state("a4"), state_key="a")
        await uow.publish("states", "a", state("a5"), state_key="a")
        await uow.commit()
    assert await store.outbox_texts() == ["b1", "a transition", "a3", "a4", "a5"]
