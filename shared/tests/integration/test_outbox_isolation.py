"""The outbox never wedges and a relay that lost its lease cannot publish: on real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import MessageSizeTooLargeError
from customer_agent_shared.events.envelope import make_event, parse_envelope
from customer_agent_shared.messaging.producer import KafkaEventProducer
from customer_agent_shared.observability.metrics import OUTBOX_DEAD_ROWS
from customer_agent_shared.persistence.advisory_locks import lock_holders
from customer_agent_shared.persistence.database import create_session_factory
from customer_agent_shared.persistence.outbox import LeaseLostError, OutboxRelay, OutgoingMessage
from customer_agent_shared.persistence.outbox_dead import outbox_dead_of, requeue_dead_row
from customer_agent_shared.persistence.unit_of_work import SqlUnitOfWork
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.fixtures import CreateTopics
from customer_agent_shared.testing.kafka import collect_records, unique_name
from customer_agent_shared.testing.plumbing import eventually, plumbing_store
from pydantic import BaseModel
from sqlalchemy import Table, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration

TOPIC_LIMIT = 32_768
"""The throwaway topic's ``max.message.bytes``: above the producer's batch size, as on any real topic."""


class Note(BaseModel):
    """Test payload."""

    text: str


async def _stage(engine: AsyncEngine, outbox: Table, topic: str, *texts: str) -> None:
    inbox = outbox.metadata.tables[f"{outbox.schema}.processed_events"]
    async with SqlUnitOfWork(create_session_factory(engine), outbox=outbox, inbox=inbox) as uow:
        for value in texts:
            note = make_event("note.written", Note(text=value), source="t", account_id="a")
            await uow.publish(topic, "a:1", note)
        await uow.commit()


def _text(message: OutgoingMessage | bytes) -> str:
    value = message.value if isinstance(message, OutgoingMessage) else message
    return str(parse_envelope(value).data["text"]).split("|")[0]


async def test_rows_over_the_topic_limit_move_to_outbox_dead_and_the_rows_behind_them_are_published(
    infrastructure: InfrastructureSettings,
    scratch_schema: tuple[AsyncEngine, str],
    throwaway_topics: CreateTopics,
) -> None:
    engine, outbox, _ = await plumbing_store(scratch_schema)
    sessions = create_session_factory(engine)
    topic = unique_name("test.outbox-limit")
    await throwaway_topics([topic], configs={"max.message.bytes": str(TOPIC_LIMIT)})
    producer = KafkaEventProducer(
        infrastructure.kafka_bootstrap_servers, service="outbox-test", security=infrastructure
    )
    await producer.start()
    relay = OutboxRelay(sessions, outbox, producer.send_each, lock_name=unique_name("lock"))
    dead_before = OUTBOX_DEAD_ROWS.labels(schema=relay._schema, reason="MessageSizeTooLargeError")._value.get()
    big = "x" * (2 * TOPIC_LIMIT)
    try:
        # The broker refuses a large row's producer batch; the batches behind it on the partition then fail
        # (the idempotent producer's sequence has a gap) and the relay retries them after a new producer.
        await _stage(engine, outbox, topic, "first", "big-1|" + big, "second", "big-2|" + big, "third")
        relay.start()
        records = await collect_records(
            infrastructure.kafka_bootstrap_servers, topic, until=lambda rs: len(rs) >= 3, timeout_seconds=30
        )
        assert [_text(record.value) for record in records] == ["first", "second", "third"]
        dead = outbox_dead_of(outbox)

        async def drained() -> bool:
            async with sessions() as session:
                return await session.scalar(select(func.count()).select_from(outbox)) == 0

        await eventually(drained, "the outbox drained")
        async with sessions() as session:
            refused = (await session.execute(select(dead.c.id, dead.c.reason).order_by(dead.c.id))).all()
        assert len(refused) == 2
        assert all(reason.startswith("MessageSizeTooLargeError") for _, reason in refused)
        after = OUTBOX_DEAD_ROWS.labels(schema=relay._schema, reason="MessageSizeTooLargeError")._value.get()
        assert after - dead_before == 2
        await relay.stop()

        # Ops re-queue one (its cause fixed): it goes back to the end of the outbox, with a new id.
        async with sessions() as session, session.begin():
            new_id = await requeue_dead_row(session, outbox, refused[0].id)
            assert await requeue_dead_row(session, outbox, -1) is None
        async with sessions() as session:
            assert await session.scalar(select(outbox.c.id)) == new_id
            assert await session.scalar(select(func.count()).select_from(dead)) == 1
        assert new_id is not None
        assert new_id > refused[1].id
    finally:
        await relay.stop()
        await producer.stop()


async def test_a_pass_loads_rows_up_to_its_byte_budget_and_always_at_least_one(
    scratch_schema: tuple[AsyncEngine, str],
) -> None:
    engine, outbox, _ = await plumbing_store(scratch_schema)
    passes: list[list[str]] = []

    async def record(messages: list[OutgoingMessage]) -> list[BaseException | None]:
        passes.append([_text(message) for message in messages])
        return [None] * len(messages)

    relay = OutboxRelay(
        create_session_factory(engine), outbox, record, budget_bytes=250_000, lock_name=unique_name("l")
    )
    try:
        await _stage(engine, outbox, "notes", "huge|" + "x" * 400_000)
        await _stage(engine, outbox, "notes", *(f"r{i}|" + "x" * 100_000 for i in range(5)))
        while await relay.publish_pending():
            pass
    finally:
        await relay.stop()
    # A row over the budget goes alone; then three rows start below it (0, 100 and 200 kB loaded before them).
    assert passes == [["huge"], ["r0", "r1", "r2"], ["r3", "r4"]]


async def test_a_relay_that_lost_its_lease_marks_nothing_and_sends_nothing_more(
    scratch_schema: tuple[AsyncEngine, str],
) -> None:
    engine, outbox, _ = await plumbing_store(scratch_schema)
    sessions = create_session_factory(engine)
    lock = unique_name("lock")
    sent: dict[str, list[str]] = {"stale": [], "other": []}

    async def other_send(messages: list[OutgoingMessage]) -> list[BaseException | None]:
        sent["other"].extend(_text(message) for message in messages)
        return [None] * len(messages)

    other = OutboxRelay(sessions, outbox, other_send, lock_name=lock)

    async def stale_send(messages: list[OutgoingMessage]) -> list[BaseException | None]:
        sent["stale"].extend(_text(message) for message in messages)
        # Mid-send the stale relay's session loses the lock (as a session replaced after a lost connection
        # would hold none), and the other relay takes over and publishes the same rows.
        assert stale._connection is not None
        await stale._connection.execute(text("SELECT pg_advisory_unlock_all()"))
        assert await other.publish_pending() == 2
        # Both rows refused for their size: the stale relay would now send each alone, and must not.
        return [MessageSizeTooLargeError(), MessageSizeTooLargeError()]

    stale = OutboxRelay(sessions, outbox, stale_send, lock_name=lock)
    try:
        await _stage(engine, outbox, "notes", "n1", "n2")
        with pytest.raises(LeaseLostError):
            await stale.publish_pending()
        assert sent == {"stale": ["n1", "n2"], "other": ["n1", "n2"]}  # no send alone after the lease was lost
        async with sessions() as session:
            assert await session.scalar(select(func.count()).select_from(outbox_dead_of(outbox))) == 0

        # Lost during the last statement's wait: its marks are refused too.
        async def unlocking_send(messages: list[OutgoingMessage]) -> list[BaseException | None]:
            assert stale._connection is not None
            await stale._connection.execute(text("SELECT pg_advisory_unlock_all()"))
            return [MessageSizeTooLargeError()] + [None] * (len(messages) - 1)

        stale._send_each = unlocking_send
        await _stage(engine, outbox, "notes", "n3", "n4")
        with pytest.raises(LeaseLostError):
            await stale.publish_pending()
        async with sessions() as session:
            assert await session.scalar(select(func.count()).select_from(outbox)) == 2, "nothing was marked"
            assert await session.scalar(select(func.count()).select_from(outbox_dead_of(outbox))) == 0
        assert await other.publish_pending() == 2
    finally:
        await stale.stop()
        await other.stop()


async def test_a_relay_whose_connection_was_cut_mid_send_cannot_mark_after_another_took_over(
    scratch_schema: tuple[AsyncEngine, str],
) -> None:
    engine, outbox, _ = await plumbing_store(scratch_schema)
    sessions = create_session_factory(engine)
    lock = unique_name("lock")
    other_sent: list[str] = []

    async def other_send(messages: list[OutgoingMessage]) -> list[BaseException | None]:
        other_sent.extend(_text(message) for message in messages)
        return [None] * len(messages)

    other = OutboxRelay(sessions, outbox, other_send, lock_name=lock)

    async def cut_send(messages: list[OutgoingMessage]) -> list[BaseException | None]:
        async with engine.connect() as admin:  # the database ends the stale relay's session
            holders = lock_holders(stale._lock_name).subquery()
            await admin.execute(select(func.pg_terminate_backend(holders.c.pid)))

        async def took_over() -> bool:
            return await other.publish_pending() == 2

        # Once the server has noticed the session's end and released its lock.
        await eventually(took_over, "the other relay took over")
        return [None] * len(messages)

    stale = OutboxRelay(sessions, outbox, cut_send, lock_name=lock)
    try:
        await _stage(engine, outbox, "notes", "n1", "n2")
        with pytest.raises(DBAPIError):
            await asyncio.wait_for(stale.publish_pending(), timeout=20)
        assert other_sent == ["n1", "n2"]
        async with sessions() as session:
            assert await session.scalar(select(func.count()).select_from(outbox)) == 0
    finally:
        await stale.stop()
        await other.stop()
