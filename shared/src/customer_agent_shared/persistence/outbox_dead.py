"""Outbox rows Kafka refused for good, set aside so the rows behind them still leave, and their re-queueing.

A row lands here in the same statement that marks the rows of its pass published (see
``outbox_statements.mark_statement``), with the reason. Once the cause is fixed (the topic created,
its ``max.message.bytes`` raised), ``requeue_dead_row`` or this SQL puts it back at the end of the
outbox, with a new id, so it leaves after the events committed since:

    WITH moved AS (DELETE FROM <schema>.outbox_dead WHERE id = <id>
                   RETURNING event_id, topic, message_key, payload, created_at)
    INSERT INTO <schema>.outbox (event_id, topic, message_key, payload, created_at) SELECT * FROM moved;
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, LargeBinary, MetaData, String, Table, Text, func, select
from sqlalchemy.ext.asyncio import AsyncSession


def define_outbox_dead_table(metadata: MetaData) -> Table:
    """The table of refused outbox rows: the outbox's columns, the reason and when."""
    return Table(
        "outbox_dead",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("event_id", String(200), nullable=False),
        Column("topic", String(200), nullable=False),
        Column("message_key", String(500), nullable=True),
        Column("payload", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("reason", Text, nullable=False),
        Column("failed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def outbox_dead_of(outbox: Table) -> Table:
    """The dead-row table declared next to ``outbox`` by ``define_outbox_table``."""
    return outbox.metadata.tables[f"{outbox.schema}.outbox_dead" if outbox.schema else "outbox_dead"]


REQUEUED_COLUMNS = ("event_id", "topic", "message_key", "payload", "created_at")


async def requeue_dead_row(session: AsyncSession, outbox: Table, row_id: int) -> int | None:
    """Move a dead row back to the end of the outbox in the session's transaction; its new id, or None if
    there is no such dead row. The caller commits (and may wake the relay)."""
    dead = outbox_dead_of(outbox)
    moved = (
        dead.delete().where(dead.c.id == row_id).returning(*(dead.c[name] for name in REQUEUED_COLUMNS)).cte("moved")
    )
    statement = (
        outbox.insert()
        .from_select(list(REQUEUED_COLUMNS), select(*(moved.c[name] for name in REQUEUED_COLUMNS)))
        .returning(outbox.c.id)
    )
    new_id: int | None = await session.scalar(statement)
    return new_id
