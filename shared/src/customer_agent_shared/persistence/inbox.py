"""Inbox: the ids of events a consumer has handled, written in the handler's transaction.

Claiming the event id in the same transaction as the state change makes a
redelivered event a no-op even if the process died after commit but before
the Kafka offset was committed.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import Column, DateTime, Index, Insert, MetaData, String, Table, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession


def define_inbox_table(metadata: MetaData) -> Table:
    """The processed-events table in the metadata's schema."""
    return Table(
        "processed_events",
        metadata,
        Column("consumer", String(200), primary_key=True),
        Column("event_id", String(200), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Index("ix_processed_events_processed_at", "processed_at"),
    )


@cache
def _claim_statement(inbox: Table) -> Insert:
    # Built once per inbox table and executed with parameters: a reused statement keeps its cache key
    # and compiled form, where a new one per call costs SQLAlchemy that work again for every event.
    return insert(inbox).on_conflict_do_nothing(index_elements=["consumer", "event_id"]).returning(inbox.c.event_id)


async def claim_event(session: AsyncSession, inbox: Table, consumer: str, event_id: str) -> bool:
    """Record the event as handled; False if it already was (then do nothing)."""
    result = await session.execute(_claim_statement(inbox), {"consumer": consumer, "event_id": event_id})
    return result.first() is not None


async def claim_events(session: AsyncSession, inbox: Table, consumer: str, event_ids: list[str]) -> set[str]:
    """Record many events as handled in one statement; returns the ids that were not handled before."""
    if not event_ids:
        return set()
    # Many parameter sets on the prebuilt statement: SQLAlchemy sends them as one multi-row INSERT
    # ("insertmanyvalues") and returns the rows of all of them, without building a statement per batch.
    result = await session.execute(
        _claim_statement(inbox), [{"consumer": consumer, "event_id": event_id} for event_id in event_ids]
    )
    return {row[0] for row in result.all()}
