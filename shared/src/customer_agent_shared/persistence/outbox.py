"""Transactional outbox: events are written in the same transaction as the state change
and published to Kafka by a relay after commit (never after a rollback).

A crash between commit and publish only delays the event: the relay finds the
row on its next pass. A crash after publish but before the row is deleted sends
the event again with the same id, which consumers drop as a duplicate.

A pass is two statements on the relay's own connection, each its own
transaction: take a PostgreSQL advisory lock (one per schema) and read the
first pending rows, up to a row count and a byte budget; send them; then delete
the sent rows, move the rows Kafka refused for good to ``outbox_dead`` and
release the lock. The deletes do not wait for the disk (``synchronous_commit``
off on that connection only): a delete lost in a database crash sends the event
again, which is harmless, and a pass no longer waits on a WAL flush.

Fencing, and why it is safe. The lock is a session lock held by the relay's
connection, so it is held exactly as long as that database session lives: it
cannot be lost without the session ending (any error drops the connection;
nothing unlocks mid-pass). Only one relay per schema therefore reads and sends
at a time, in id order, so per-key order holds across replicas. A relay whose
session died mid-send (network cut, backend killed, failover) may have its
in-flight send land after another relay took the lock; its final statement
re-checks in ``pg_locks`` that its own session still holds the lock and marks
nothing otherwise (a silently reconnected session holds no lock), and the relay
stops publishing: it gives up the pass, drops the connection and can only send
again after winning the lock anew. Its late records are copies of rows still in
the outbox, sent in the same id order, so consumers keep the first copy of each
and drop the rest by id. Rows sent again on their own (see below) also check the
lease before each send.

A row Kafka refuses for what it is (``outbox_failures``) no longer stops the
outbox: it moves to ``outbox_dead`` with the reason, in the statement that marks
its pass, and the rows behind it leave. A transient failure keeps the rows it hit
pending and the pass is retried with capped exponential backoff. Rows of a topic
refused together (a producer batch fails whole) are each sent alone to find the
one at fault; those found innocent then leave after rows of the same partition
that were sent meanwhile. That needs a topic whose size limit is below the
producer's batch size (16 KB): a larger record always travels in a batch of its own.

Published rows are deleted rather than marked: Kafka keeps the events, an
update would copy each row whole (payload included) into a new version with
new index entries. ``published_at`` is only set on rows of older versions, which
the maintenance task (``maintenance``) still prunes, in bounded chunks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from aiokafka.errors import UnknownTopicOrPartitionError
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
    text,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from tenacity import AsyncRetrying, RetryCallState, wait_exponential_jitter

from customer_agent_shared.events.envelope import CLOUDEVENTS_JSON, CloudEvent, serialize_event
from customer_agent_shared.observability.metrics import OUTBOX_DEAD_ROWS, OUTBOX_PENDING, OUTBOX_PUBLISHED
from customer_agent_shared.persistence.outbox_dead import define_outbox_dead_table
from customer_agent_shared.persistence.outbox_failures import Settlement, refusal_reason, settle
from customer_agent_shared.persistence.outbox_statements import (
    LEASE_CHECK,
    UNLOCK,
    lock_and_read_statement,
    mark_statement,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutgoingMessage:
    """One Kafka message ready to send."""

    topic: str
    key: bytes | None
    value: bytes
    headers: dict[str, str]


SendEach = Callable[[list[OutgoingMessage]], Awaitable[list[BaseException | None]]]
"""Sends messages and returns each one's error (None: sent), as ``KafkaEventProducer.send_each``."""

DEFAULT_BUDGET_BYTES = 8 * 1024 * 1024


class LeaseLostError(RuntimeError):
    """The relay's session no longer holds the outbox lock: another relay may have taken over."""


def define_outbox_table(metadata: MetaData) -> Table:
    """The outbox table in the metadata's schema (and ``outbox_dead`` next to it)."""
    define_outbox_dead_table(metadata)
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


def _message(row: Row[Any]) -> OutgoingMessage:
    return OutgoingMessage(
        topic=row.topic,
        key=row.message_key.encode() if row.message_key is not None else None,
        value=row.payload,
        headers={"ce_id": row.event_id, "content-type": CLOUDEVENTS_JSON},
    )


class OutboxRelay:
    """Publishes committed outbox rows in id order, then deletes them (see the module docstring)."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        outbox: Table,
        send_each: SendEach,
        *,
        batch_size: int = 200,
        budget_bytes: int = DEFAULT_BUDGET_BYTES,
        idle_poll_seconds: float = 0.5,
        lock_name: str | None = None,
        linger_seconds: float = 0.001,
        missing_topic_grace_seconds: float = 60.0,
        max_backoff_seconds: float = 30.0,
    ) -> None:
        self._session_factory = session_factory
        self._send_each = send_each
        self._batch_size = batch_size
        self._budget_bytes = budget_bytes
        self._idle_poll_seconds = idle_poll_seconds
        # After a wake-up, wait this long so the commits of concurrent handlers leave in one pass
        # (one pass and one produce request for many rows instead of one per row). 1 ms: since a pass
        # costs ~1.3 ms, 5 ms added more latency than it saved passes (p50 at 20 msg/s 54-55 -> 37-38
        # ms through the two hops; in one run at 100 msg/s no pause at all did worse than either).
        self._linger_seconds = linger_seconds
        self._grace_seconds = missing_topic_grace_seconds
        self._max_backoff_seconds = max_backoff_seconds
        self._missing_since: dict[str, float] = {}
        """Per topic: when sends first found it missing (cleared by the next send to it that succeeds)."""
        self._more = False
        """The last pass stopped at its row count or byte budget: more rows may be pending."""
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # The actual schema (after any translation), so relays of different schemas never wait on each other.
        schema = lock_name or outbox.schema or "public"
        # One lock per schema (``advisory_locks``), so one relay per service publishes at a time.
        self._lock_name = f"outbox:{schema}"
        self._schema = schema
        self._read = lock_and_read_statement(outbox)
        self._mark = mark_statement(outbox)
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
        while True:
            try:
                handled = await self._publish_with_backoff()
            except Exception:
                return  # raised only once stopping: what is left leaves after the next start
            if self._stopping.is_set() and handled == 0:
                return
            if self._more or self._stopping.is_set():
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._idle_poll_seconds)
            if self._wakeup.is_set() and self._linger_seconds > 0 and not self._stopping.is_set():
                await asyncio.sleep(self._linger_seconds)
            self._wakeup.clear()

    async def _publish_with_backoff(self) -> int:
        """One pass; a failed pass (Kafka or PostgreSQL away, a transient refusal) is retried with capped
        exponential backoff and jitter for as long as it takes, until the relay is stopped."""
        retrying = AsyncRetrying(
            wait=wait_exponential_jitter(multiplier=0.2, max=self._max_backoff_seconds, jitter=0.5),
            stop=lambda _state: self._stopping.is_set(),
            sleep=self._sleep_unless_stopping,
            before_sleep=self._log_failed_pass,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self.publish_pending()
        raise AssertionError("tenacity ends with a result or an error")

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    def _log_failed_pass(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        logger.warning(
            "outbox relay pass failed; retrying",
            extra={"schema": self._schema, "error": repr(error), "attempt": state.attempt_number, "wait": wait},
        )

    async def publish_pending(self) -> int:
        """One pass: send up to a batch of committed rows, delete the sent ones and set aside the refused ones;
        return how many rows left the outbox. Raises the first transient failure after marking the rest."""
        connection = await self._relay_connection()
        try:
            rows = (
                await connection.execute(
                    self._read,
                    {"lock_name": self._lock_name, "batch_size": self._batch_size, "budget_bytes": self._budget_bytes},
                )
            ).all()
            if not rows or not rows[0].held:
                return 0  # another relay of this schema is publishing
            pending = [row for row in rows if row.id is not None]
            OUTBOX_PENDING.labels(schema=self._schema).set(len(pending))
            self._more = bool(pending) and (
                len(pending) >= self._batch_size or pending[-1].loaded >= self._budget_bytes
            )
            if not pending:
                await connection.execute(UNLOCK, {"lock_name": self._lock_name})
                return 0
            settlement = await self._send(connection, pending)
            await self._mark_pass(connection, settlement)
        except BaseException:
            # Closing the connection releases the lock whatever state the pass was left in.
            await self._drop_connection()
            raise
        OUTBOX_PUBLISHED.labels(schema=self._schema).inc(len(settlement.sent))
        if settlement.transient is not None:
            raise settlement.transient
        return len(settlement.sent) + len(settlement.dead)

    async def _send(self, connection: AsyncConnection, rows: list[Row[Any]]) -> Settlement:
        settlement = self._settle(rows, await self._send_each([_message(row) for row in rows]))
        alone = set(settlement.alone)
        for row in (row for row in rows if row.id in alone):
            if not (await connection.execute(LEASE_CHECK, {"lock_name": self._lock_name})).scalar_one():
                raise LeaseLostError(f"the outbox lock of {self._schema} was lost")
            settlement.absorb(self._settle([row], await self._send_each([_message(row)]), sent_alone=True))
        return settlement

    def _settle(
        self, rows: list[Row[Any]], errors: list[BaseException | None], *, sent_alone: bool = False
    ) -> Settlement:
        now = asyncio.get_running_loop().time()
        for row, error in zip(rows, errors, strict=True):
            if error is None:
                self._missing_since.pop(row.topic, None)
            elif isinstance(error, UnknownTopicOrPartitionError):
                self._missing_since.setdefault(row.topic, now)

        def reason_of(topic: str, error: BaseException) -> str | None:
            missing_for = now - self._missing_since.get(topic, now)
            return refusal_reason(error, missing_for_seconds=missing_for, grace_seconds=self._grace_seconds)

        return settle([(row.id, row.topic) for row in rows], errors, reason_of, sent_alone=sent_alone)

    async def _mark_pass(self, connection: AsyncConnection, settlement: Settlement) -> None:
        marked = (
            await connection.execute(
                self._mark,
                {
                    "lock_name": self._lock_name,
                    "sent_ids": settlement.sent,
                    "dead_ids": list(settlement.dead),
                    "dead_reasons": list(settlement.dead.values()),
                },
            )
        ).one()
        if not marked.held:
            raise LeaseLostError(f"the outbox lock of {self._schema} was lost; another relay may have taken over")
        for reason in settlement.dead.values():
            OUTBOX_DEAD_ROWS.labels(schema=self._schema, reason=reason.split(":", 1)[0]).inc()
        if settlement.dead:
            logger.error(
                "outbox rows refused by Kafka moved to outbox_dead",
                extra={
                    "schema": self._schema,
                    "rows": sorted(settlement.dead),
                    "reasons": sorted(set(settlement.dead.values())),
                },
            )

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
