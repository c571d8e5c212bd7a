"""Transactional outbox: events are written in the same transaction as the state change
and published to Kafka by a relay after commit (never after a rollback).

A crash between commit and publish only delays the event: the relay finds the
row on its next pass. A crash after publish but before the row is marked sends
the event again with the same id, which consumers drop as a duplicate.
Only one relay per schema publishes at a time (a PostgreSQL advisory lock), so
rows leave in id order and per-key order holds across replicas.
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
    String,
    Table,
    func,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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


async def stage_event(
    session: AsyncSession, outbox: Table, topic: str, key: str | None, event: CloudEvent[Any]
) -> None:
    """Insert an event into the outbox inside the session's current transaction."""
    await stage_rows(session, outbox, [outbox_row(topic, key, event)])


async def stage_rows(session: AsyncSession, outbox: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``outbox_row``s into the outbox inside the session's current transaction, in one statement."""
    if rows:
        await session.execute(_insert_statement(outbox), rows)


class OutboxRelay:
    """Publishes committed outbox rows in id order, then marks them published."""

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
        linger_seconds: float = 0.005,
    ) -> None:
        self._session_factory = session_factory
        self._outbox = outbox
        self._publish_batch = publish_batch
        self._batch_size = batch_size
        self._idle_poll_seconds = idle_poll_seconds
        # After a wake-up, wait this long so the commits of concurrent handlers leave in one pass
        # (one transaction and one produce request for many rows instead of one per row).
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
        async with self._session_factory() as session, session.begin():
            locked = await session.scalar(select(func.pg_try_advisory_xact_lock(self._lock_id)))
            if not locked:
                return 0
            rows = (
                await session.execute(
                    select(
                        self._outbox.c.id,
                        self._outbox.c.topic,
                        self._outbox.c.message_key,
                        self._outbox.c.payload,
                        self._outbox.c.event_id,
                    )
                    .where(self._outbox.c.published_at.is_(None))
                    .order_by(self._outbox.c.id)
                    .limit(self._batch_size)
                )
            ).all()
            OUTBOX_PENDING.labels(schema=self._schema).set(len(rows))
            if not rows:
                return 0
            await self._publish_batch(
                [
                    OutgoingMessage(
                        topic=row.topic,
                        key=row.message_key.encode() if row.message_key is not None else None,
                        value=row.payload,
                        headers={"ce_id": row.event_id, "content-type": CLOUDEVENTS_JSON},
                    )
                    for row in rows
                ]
            )
            await session.execute(
                update(self._outbox)
                .where(self._outbox.c.id.in_([row.id for row in rows]))
                .values(published_at=func.now())
            )
        OUTBOX_PUBLISHED.labels(schema=self._schema).inc(len(rows))
        return len(rows)

    async def delete_old_rows(self) -> None:
        """Drop outbox rows published longer ago than the retention, and old inbox claims."""
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
