"""The transactional outbox on real PostgreSQL and Kafka: published after commit, never after rollback."""

from __future__ import annotations

import asyncio

import pytest
from customer_agent_shared.events.envelope import make_event, parse_envelope
from customer_agent_shared.messaging.producer import KafkaEventProducer
from customer_agent_shared.persistence.database import create_session_factory
from customer_agent_shared.persistence.outbox import OutboxRelay, OutgoingMessage
from customer_agent_shared.persistence.unit_of_work import SqlUnitOfWork
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.fixtures import CreateTopics
from customer_agent_shared.testing.kafka import collect_records, end_offsets, unique_name
from customer_agent_shared.testing.plumbing import plumbing_store
from pydantic import BaseModel
from sqlalchemy import Table, event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration


class Note(BaseModel):
    """Test payload."""

    text: str


async def test_outbox_publishes_committed_rows_and_never_rolled_back_ones(
    infrastructure: InfrastructureSettings,
    scratch_schema: tuple[AsyncEngine, str],
    throwaway_topics: CreateTopics,
) -> None:
    engine, outbox, inbox = await plumbing_store(scratch_schema)
    sessions = create_session_factory(engine)
    topic = unique_name("test.outbox")
    await throwaway_topics([topic])
    producer = KafkaEventProducer(
        infrastructure.kafka_bootstrap_servers, service="outbox-test", security=infrastructure
    )
    await producer.start()
    relay = OutboxRelay(sessions, outbox, producer.send_each, idle_poll_seconds=0.1)
    try:
        committed = make_event("note.written", Note(text="kept"), source="test", account_id="a")
        rolled_back = make_event("note.written", Note(text="discarded"), source="test", account_id="a")
        async with SqlUnitOfWork(sessions, outbox=outbox, inbox=inbox, relay=relay) as uow:
            await uow.publish(topic, "a:1", rolled_back)
            await uow.rollback()
        async with SqlUnitOfWork(sessions, outbox=outbox, inbox=inbox, relay=relay) as uow:
            await uow.publish(topic, "a:1", committed)
            # Nothing leaves before the commit: the relay sees only committed rows.
            assert await relay.publish_pending() == 0
            await uow.commit()
        async with SqlUnitOfWork(sessions, outbox=outbox, inbox=inbox, relay=relay) as uow:
            await uow.publish(topic, "a:1", rolled_back)
            # leaving the block without commit discards the row

        # A "crash between commit and publish": no relay was running. Starting one now publishes.
        relay.start()
        records = await collect_records(
            infrastructure.kafka_bootstrap_servers, topic, until=lambda rs: len(rs) >= 1, timeout_seconds=15
        )
        await relay.stop()
        assert [parse_envelope(record.value).id for record in records] == [committed.id]
        assert records[0].key == b"a:1"
        assert (await end_offsets(infrastructure.kafka_bootstrap_servers, topic, partitions=1)) == {0: 1}
        async with sessions() as session:
            left = await session.scalar(select(func.count()).select_from(outbox))
        assert left == 0, "a published row is deleted, not kept"
    finally:
        await relay.stop()
        await producer.stop()


async def test_a_unit_of_work_on_its_own_inserts_its_events_in_one_statement_at_commit(
    scratch_schema: tuple[AsyncEngine, str],
) -> None:
    engine, outbox, inbox = await plumbing_store(scratch_schema)
    sessions = create_session_factory(engine)
    outbox_inserts: list[str] = []

    def count_outbox_inserts(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.startswith("INSERT INTO") and ".outbox " in statement:
            outbox_inserts.append(statement)

    notes = [make_event("note.written", Note(text=f"n{i}"), source="test", account_id="a") for i in range(3)]
    event.listen(engine.sync_engine, "before_cursor_execute", count_outbox_inserts)
    try:
        async with SqlUnitOfWork(sessions, outbox=outbox, inbox=inbox) as uow:
            for note in notes:
                await uow.publish("test.notes", "a:1", note)
            assert outbox_inserts == [], "nothing is written before the commit"
            await uow.commit()
            assert len(outbox_inserts) == 1
            dropped = make_event("note.dropped", Note(text="x"), source="test", account_id="a")
            await uow.publish("test.notes", "a:1", dropped)
            await uow.rollback()
            later = make_event("note.written", Note(text="later"), source="test", account_id="a")
            await uow.publish("test.notes", "a:1", later)
            await uow.commit()  # a second commit of the same unit of work sends only what came after the first
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count_outbox_inserts)
    assert len(outbox_inserts) == 2
    async with sessions() as session:
        stored = (await session.execute(select(outbox.c.event_id).order_by(outbox.c.id))).scalars().all()
    assert stored == [*(note.id for note in notes), later.id]


async def test_inbox_claims_an_event_once(scratch_schema: tuple[AsyncEngine, str]) -> None:
    engine, outbox, inbox = await plumbing_store(scratch_schema)
    sessions = create_session_factory(engine)
    async with SqlUnitOfWork(sessions, outbox=outbox, inbox=inbox) as uow:
        assert await uow.claim_event("c", "e1") is True
        await uow.rollback()
    async with SqlUnitOfWork(sessions, outbox=outbox, inbox=inbox) as uow:
        assert await uow.claim_event("c", "e1") is True  # the rolled-back claim did not stick
        await uow.commit()
    async with SqlUnitOfWork(sessions, outbox=outbox, inbox=inbox) as uow:
        assert await uow.claim_event("c", "e1") is False
        assert await uow.claim_event("other-consumer", "e1") is True


async def _stage(engine: AsyncEngine, outbox: Table, inbox: Table, *texts: str) -> None:
    async with SqlUnitOfWork(create_session_factory(engine), outbox=outbox, inbox=inbox) as uow:
        for value in texts:
            await uow.publish("notes", "a", make_event("note.written", Note(text=value), source="t", account_id="a"))
        await uow.commit()


async def test_one_relay_of_a_schema_publishes_at_a_time_and_a_failed_pass_releases_the_lock(
    scratch_schema: tuple[AsyncEngine, str],
) -> None:
    engine, outbox, inbox = await plumbing_store(scratch_schema)
    sent: dict[str, list[str]] = {"first": [], "second": []}
    sending, release = asyncio.Event(), asyncio.Event()
    fail_next = True

    async def first_publish(messages: list[OutgoingMessage]) -> list[BaseException | None]:
        nonlocal fail_next
        sending.set()
        await release.wait()
        if fail_next:
            fail_next = False
            raise ConnectionError("the broker went away mid-send")
        sent["first"].extend(parse_envelope(message.value).data["text"] for message in messages)
        return [None] * len(messages)

    async def second_publish(messages: list[OutgoingMessage]) -> list[BaseException | None]:
        sent["second"].extend(parse_envelope(message.value).data["text"] for message in messages)
        return [None] * len(messages)

    first = OutboxRelay(create_session_factory(engine), outbox, first_publish, lock_name="shared-lock")
    second = OutboxRelay(create_session_factory(engine), outbox, second_publish, lock_name="shared-lock")
    try:
        await _stage(engine, outbox, inbox, "n1", "n2")
        first_pass = asyncio.create_task(first.publish_pending())
        await sending.wait()
        assert await second.publish_pending() == 0  # the first holds the lock while it sends
        release.set()
        with pytest.raises(ConnectionError):
            await first_pass
        # The failed pass deleted nothing and let go of the lock: the other relay publishes both rows.
        assert await second.publish_pending() == 2
        await _stage(engine, outbox, inbox, "n3")
        assert await first.publish_pending() == 1  # the first reconnects on its next pass
        assert await second.publish_pending() == 0
    finally:
        await first.stop()
        await second.stop()
    assert sent == {"first": ["n3"], "second": ["n1", "n2"]}
    async with engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(outbox)) == 0  # published rows deleted
        # The relays' own setting stayed on their own connections, which were closed for good.
        assert await connection.scalar(text("SHOW synchronous_commit")) == "on"
