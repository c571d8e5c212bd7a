"""The recorder: every record of the watched topics since the run began, and the final state (REST, read-only SQL)."""

from __future__ import annotations

import contextlib
import os

from aiokafka import AIOKafkaConsumer, TopicPartition
from customer_agent_shared.persistence.database import create_database_engine
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import topic_partitions
from customer_agent_shared.testing.plumbing import eventually
from customer_agent_shared.topics import (
    BILLING_CREDIT_STATE,
    CHANNELS_INBOUND,
    CHANNELS_OUTBOUND,
    CONVERSATIONS_EVENTS,
    DEAD_LETTER_SUFFIX,
    INBOX_HANDOFFS,
    all_topic_names,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.e2e.journey import AdminClient
from tests.faults.history import FinalState, LedgerRow, Record
from tests.faults.traffic import retrying

WATCHED = (
    CHANNELS_INBOUND,
    CHANNELS_OUTBOUND,
    INBOX_HANDOFFS,
    CONVERSATIONS_EVENTS,
    BILLING_CREDIT_STATE,
    *(name for name in all_topic_names() if name.endswith(DEAD_LETTER_SUFFIX)),
)
Offsets = dict[TopicPartition, int]


def bootstrap_servers() -> str:
    """Where Kafka is, as the services were told."""
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


async def end_offsets() -> Offsets:
    """The end of every partition of the watched topics now: the run's records start there."""
    partitions = [
        TopicPartition(topic, partition)
        for topic in WATCHED
        for partition in await topic_partitions(bootstrap_servers(), topic)
    ]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(), enable_auto_commit=False)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def read_since(start: Offsets, account_prefix: str) -> list[Record]:
    """Every record written since ``start`` that concerns the run's accounts (by key, or anywhere in a dead
    letter), every copy kept."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(), enable_auto_commit=False)
    await consumer.start()
    records: list[Record] = []
    try:
        ends = await consumer.end_offsets(list(start))
        pending = {tp for tp in start if ends[tp] > start[tp]}
        consumer.assign(list(pending))
        for tp in pending:
            consumer.seek(tp, start[tp])
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, messages in batches.items():
                records.extend(_record(tp, message) for message in messages)
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    return [record for record in records if _concerns(record, account_prefix)]


def _record(tp: TopicPartition, message: object) -> Record:
    key = getattr(message, "key", None) or b""
    value = getattr(message, "value", None) or b""
    return Record(
        topic=tp.topic,
        partition=tp.partition,
        offset=int(getattr(message, "offset", -1)),
        timestamp=int(getattr(message, "timestamp", 0)) / 1000,
        key=key.decode(errors="replace"),
        value=value.decode(errors="replace"),
    )


def _concerns(record: Record, account_prefix: str) -> bool:
    if record.topic.endswith(DEAD_LETTER_SUFFIX):
        return account_prefix in record.key or account_prefix in record.value
    return record.key.startswith(account_prefix)


async def final_state(admins: list[AdminClient], account_prefix: str) -> FinalState:
    """Read-only SQL over the services' schemas (a test's privilege), then GET /credits of every account once
    admin-api shows the balance the ledger adds up to (or after a while, for the checker to report)."""
    state = FinalState()
    engine = create_database_engine(InfrastructureSettings().database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SET TRANSACTION READ ONLY"))
            await _read_outboxes(connection, state, account_prefix)
            await _read_ledger(connection, state, account_prefix)
            await _read_owners(connection, state, account_prefix)
            await connection.rollback()
    finally:
        await engine.dispose()
    for admin in admins:
        await _read_credits(admin, state)
    return state


async def _read_credits(admin: AdminClient, state: FinalState) -> None:
    total = sum(entry.amount for entry in state.ledger.get(admin.account_id, []))

    async def shows_the_ledger() -> bool:
        credits = await retrying(admin, "GET", "/credits") or {}
        state.credits[admin.account_id] = credits
        return credits.get("balance", 0 if not credits.get("known") else None) == total

    with contextlib.suppress(AssertionError):
        await eventually(shows_the_ledger, f"GET /credits of {admin.account_id} shows {total}", within=30)


async def pending_outbox_rows(account_prefix: str) -> int:
    """How many outbox rows of the run's accounts wait to be published, over every service's schema."""
    engine = create_database_engine(InfrastructureSettings().database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            state = FinalState()
            await _read_outboxes(connection, state, account_prefix)
            await connection.rollback()
            return len(state.pending_outbox)
    finally:
        await engine.dispose()


async def _read_outboxes(connection: AsyncConnection, state: FinalState, account_prefix: str) -> None:
    tables = await connection.execute(
        text(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_name IN ('outbox', 'outbox_dead') ORDER BY 1, 2"
        )
    )
    like = {"prefix": account_prefix + "%"}
    for schema, table in tables.all():
        unpublished = " AND published_at IS NULL" if table == "outbox" else ""
        query = f'SELECT id, topic, message_key FROM "{schema}"."{table}" WHERE message_key LIKE :prefix'
        rows = await connection.execute(text(query + unpublished), like)
        found = [f"{schema}.{table} id={row.id} {row.topic} key={row.message_key}" for row in rows]
        (state.pending_outbox if table == "outbox" else state.dead_outbox).extend(found)


async def _read_ledger(connection: AsyncConnection, state: FinalState, account_prefix: str) -> None:
    rows = await connection.execute(
        text(
            "SELECT account_id, id, kind, cause_id, amount, balance_after FROM billing.ledger_entries"
            " WHERE account_id LIKE :prefix ORDER BY id"
        ),
        {"prefix": account_prefix + "%"},
    )
    for row in rows:
        entry = LedgerRow(int(row.id), str(row.kind), str(row.cause_id), int(row.amount), int(row.balance_after))
        state.ledger.setdefault(str(row.account_id), []).append(entry)


async def _read_owners(connection: AsyncConnection, state: FinalState, account_prefix: str) -> None:
    like = {"prefix": account_prefix + "%"}
    routing = await connection.execute(
        text("SELECT account_id, thread_id, state FROM routing.threads WHERE account_id LIKE :prefix"), like
    )
    state.routing_threads = {(str(r.account_id), str(r.thread_id)): str(r.state) for r in routing}
    conversation = await connection.execute(
        text("SELECT account_id, thread_id, handed_off FROM conversation.threads WHERE account_id LIKE :prefix"), like
    )
    state.conversation_threads = {(str(r.account_id), str(r.thread_id)): bool(r.handed_off) for r in conversation}
