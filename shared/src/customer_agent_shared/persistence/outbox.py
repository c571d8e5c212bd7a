"""Transactional outbox: events are written in the same transaction as the state change
and published to Kafka by a relay after commit (never after a rollback).

A crash between commit and publish only delays the event: the relay finds the
row on its next pass. A crash after publish but before the row is deleted sends
the event again with the same id, which consumers drop as a duplicate.
Only one relay per schema publishes at a time (a PostgreSQL advisory lock), so
rows leave in id order and per-key order holds across replicas.

A pass is two statements on the relay's own connection, each its own
transaction: take the lock and read the pending rows; send them; delete them
and release the lock. The lock is a session lock, released by the second
statement or by the connection closing (on any error the connection is
dropped). The deletes do not wait for the disk (``synchronous_commit`` off on
that connection only): a delete lost in a database crash sends the event again,
which is harmless, and a pass no longer waits on a WAL flush.

Published rows are deleted rather than marked: Kafka keeps the events, an
update would copy each row whole (payload included) into a new version with
new index entries, and kept rows made the table grow by every event of a day
(2.6 GB after a day of benchmarks, with inserts into indexes far larger than
the buffer cache). ``published_at`` is only set on rows of older versions,
which ``delete_old_rows`` still prunes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Insert,
    LargeBinary,
    MetaData,
    Select,
    String,
    Table,
    any_,
    bindparam,
    delete,
    func,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from customer_agent_shared.events.envelope import CLOUDEVENTS_JSON, CloudEvent, serialize_event
from customer_agent_shared.observability.metrics import OUTBOX_PENDING, OUTBOX_PUBLISHED

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutgoingMessage:
    """One Kafka message ready to send."""

    topic: str
    key: bytes | None
    value: bytes
    headers: dict[str, str]


PublishBatch = Callable[[list[OutgoingMessage]], Awaitable[None]]


def define_outbox_table(metadata: MetaData) -> Table:
    """The outbox table in the metadata's schema."""
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", String(200), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("message_key", String(500), nullable=True),
        Column("payload", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
    )


def outbox_row(topic: str, key: str | None, event: CloudEvent[Any]) -> dict[str, Any]:
    """The outbox table's column values for one event."""
    return {"event_id": event.id, "topic": topic, "message_key": key, "payload": serialize_event(event)}


@cache
def _insert_statement(outbox: Table) -> Insert:
    # Built once per outbox table and executed with parameters: a reused statement keeps its cache key
    # and compiled form, where a new one per call costs SQLAlchemy that work again for every event.
    return outbox.insert()


async def stage_rows(session: AsyncSession, outbox: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``outbox_row``s into the outbox inside the session's current transaction, in one statement."""
    if rows:
        await session.execute(_insert_statement(outbox), rows)


def _lock_and_read_statement(outbox: Table) -> Select[Any]:
    # One row with ``held`` even when nothing is pending (the LEFT JOIN), so the caller knows to unlock.
    # A volatile function in a WITH query runs once, before the rows are read.
    leader = select(func.pg_try_advisory_lock(bindparam("lock_id", type_=BigInteger)).label("held")).cte("leader")
    pending = (
        select(outbox.c.id, outbox.c.topic, outbox.c.message_key, outbox.c.payload, outbox.c.event_id)
        .where(leader.c.held, outbox.c.published_at.is_(None))
        .order_by(outbox.c.id)
        .limit(bindparam("batch_size"))
        .lateral("pending")
    )
    return select(leader.c.held, pending).select_from(leader.outerjoin(pending, true()))


def _delete_and_unlock_statement(outbox: Table) -> Select[Any]:
    # A data-modifying WITH query runs to completion whether or not the main query reads it.
    published = (
        delete(outbox)
        .where(outbox.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger))))
        .returning(outbox.c.id)
        .cte("published")
    )
    return select(func.pg_advisory_unlock(bindparam("lock_id", type_=BigInteger))).add_cte(published)


_UNLOCK = select(func.pg_advisory_unlock(bindparam("lock_id", type_=BigInteger)))


class OutboxRelay:
    """Publishes committed outbox rows in id order, then deletes them."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        outbox: Table,
        publish_batch: PublishBatch,
        *,
        batch_size: int = 200,
        idle_poll_seconds: float = 0.5,
        retention_hours: int = 24,
        lock_name: str | None = None,
        inbox: Table | None = None,
        inbox_retention_days: int = 14,
        linger_seconds: float = 0.001,
    ) -> None:
        self._session_factory = session_factory
        self._outbox = outbox
        self._publish_batch = publish_batch
        self._batch_size = batch_size
        self._idle_poll_seconds = idle_poll_seconds
        # After a wake-up, wait this long so the commits of concurrent handlers leave in one pass
        # (one pass and one produce request for many rows instead of one per row). 1 ms: since a pass
        # costs ~1.3 ms, 5 ms added more latency than it saved passes (p50 at 20 msg/s 54-55 -> 37-38
        # ms through the two hops; in one run at 100 msg/s no pause at all did worse than either).
        self._linger_seconds = linger_seconds
        self._retention_hours = retention_hours
        # The inbox is pruned here too: an event older than this is past any redelivery.
        self._inbox = inbox
        self._inbox_retention_days = inbox_retention_days
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # The actual schema (after any translation), so relays of different schemas never wait on each other.
        schema = lock_name or outbox.schema or "public"
        # Advisory lock id: stable per schema so one relay per service publishes at a time.
        self._lock_id = zlib.crc32(f"outbox:{schema}".encode())
        self._schema = schema
        self._lock_and_read = _lock_and_read_statement(outbox)
        self._delete_and_unlock = _delete_and_unlock_statement(outbox)
        self._connection: AsyncConnection | None = None
        """The relay's own connection (see the module docstring); opened on the first pass."""

    def notify(self) -> None:
        """Wake the relay now (call after committing a transaction that staged events)."""
        self._wakeup.set()

    def start(self) -> None:
        """Run the relay in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self._schema}")

    async def stop(self) -> None:
        """Publish what is committed, then stop."""
        self._stopping.set()
        self._wakeup.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self._drop_connection()

    async def _run(self) -> None:
        last_cleanup = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                published = await self.publish_pending()
                if loop.time() - last_cleanup > 600:
                    await self.delete_old_rows()
                    last_cleanup = loop.time()
            except Exception:
                logger.exception("outbox relay pass failed; retrying", extra={"schema": self._schema})
                published = 0
                await asyncio.sleep(1.0)
            if self._stopping.is_set() and published == 0:
                return
            if published >= self._batch_size:
                continue
            if self._stopping.is_set():
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._idle_poll_seconds)
            if self._wakeup.is_set() and self._linger_seconds > 0 and not self._stopping.is_set():
                await asyncio.sleep(self._linger_seconds)
            self._wakeup.clear()

    async def publish_pending(self) -> int:
        """One pass: publish up to a batch of committed rows; return how many were published."""
        connection = await self._relay_connection()
        try:
            rows = (
                await connection.execute(
                    self._lock_and_read, {"lock_id": self._lock_id, "batch_size": self._batch_size}
                )
            ).all()
            if not rows or not rows[0].held:
                return 0  # another relay of this schema is publishing
            pending = [row for row in rows if row.id is not None]
            OUTBOX_PENDING.labels(schema=self._schema).set(len(pending))
            if not pending:
                await connection.execute(_UNLOCK, {"lock_id": self._lock_id})
                return 0
            await self._publish_batch(
                [
                    OutgoingMessage(
                        topic=row.topic,
                        key=row.message_key.encode() if row.message_key is not None else None,
                        value=row.payload,
                        headers={"ce_id": row.event_id, "content-type": CLOUDEVENTS_JSON},
                    )
                    for row in pending
                ]
            )
            await connection.execute(
                self._delete_and_unlock, {"ids": [row.id for row in pending], "lock_id": self._lock_id}
            )
        except BaseException:
            # Closing the connection releases the lock whatever state the pass was left in.
            await self._drop_connection()
            raise
        OUTBOX_PUBLISHED.labels(schema=self._schema).inc(len(pending))
        return len(pending)

    async def _relay_connection(self) -> AsyncConnection:
        if self._connection is None:
            engine: AsyncEngine = self._session_factory.kw["bind"]
            self._connection = await engine.connect()
            try:
                self._connection = await self._connection.execution_options(isolation_level="AUTOCOMMIT")
                await self._connection.execute(text("SET synchronous_commit TO off"))
            except BaseException:
                await self._drop_connection()
                raise
        return self._connection

    async def _drop_connection(self) -> None:
        """Close the relay's connection for good: invalidated, so its session settings never reach the pool."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.invalidate()
            with contextlib.suppress(Exception):
                await connection.close()

    async def delete_old_rows(self) -> None:
        """Drop old inbox claims, and outbox rows an older version marked published longer ago than the retention."""
        async with self._session_factory() as session, session.begin():
            await session.execute(
                self._outbox.delete().where(
                    self._outbox.c.published_at < func.now() - text(f"interval '{int(self._retention_hours)} hours'")
                )
            )
            if self._inbox is not None:
                await session.execute(
                    self._inbox.delete().where(
                        self._inbox.c.processed_at
                        < func.now() - text(f"interval '{int(self._inbox_retention_days)} days'")
                    )
                )
