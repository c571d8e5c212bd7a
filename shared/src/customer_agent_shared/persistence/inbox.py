"""Inbox: the ids of events a consumer has handled, written in the handler's transaction.

Claiming the event id in the same transaction as the state change makes a
redelivered event a no-op even if the process died after commit but before
the Kafka offset was committed.

The table is partitioned by day on ``processed_at`` so that old claims leave by
dropping whole partitions (``maintenance``), never by a large DELETE. Its primary
key must then hold ``processed_at``, so a unique index can no longer catch a
repeat claimed at another time, and ``ON CONFLICT`` cannot be the claim. A claim
is two statements instead: first a transaction-level advisory lock per
(consumer, event id), taken in a fixed order, which makes a concurrent claim of
the same id wait until the holder's transaction ends; then an insert of the ids
no partition holds yet. Under READ COMMITTED the insert's snapshot is taken after
the lock was granted, so it sees a claim the holder committed, and a claim it
rolled back is free again: an id is claimed once. Lock-key collisions only make
unrelated claims wait. An id is remembered for the retention (by default 14 days),
far longer than any redelivery.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    DDL,
    Column,
    DateTime,
    Insert,
    MetaData,
    Select,
    String,
    Table,
    Text,
    bindparam,
    event,
    exists,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from customer_agent_shared.persistence.partitions import DEFAULT_PARTITION


def define_inbox_table(metadata: MetaData) -> Table:
    """The processed-events table in the metadata's schema, partitioned by day on ``processed_at``.

    Created by ``create_all`` (tests) it gets only its default partition; migrations and the maintenance
    task add the day partitions.
    """
    inbox = Table(
        "processed_events",
        metadata,
        Column("consumer", String(200), primary_key=True),
        Column("event_id", String(200), primary_key=True),
        Column("processed_at", DateTime(timezone=True), primary_key=True, server_default=func.now()),
        postgresql_partition_by="RANGE (processed_at)",
    )
    event.listen(
        inbox,
        "after_create",
        DDL(f"CREATE TABLE %(schema)s.{DEFAULT_PARTITION} PARTITION OF %(fullname)s DEFAULT"),  # type: ignore[no-untyped-call]
    )
    return inbox


def _lock_statement() -> Select[Any]:
    # Two-int advisory locks live apart from the relay's one-bigint lock. Ordered by key: two transactions
    # claiming overlapping sets take their common locks in the same order and cannot deadlock on them.
    ids = func.unnest(bindparam("event_ids", type_=ARRAY(Text))).table_valued("event_id").render_derived()
    keys = (
        select(func.hashtext(bindparam("consumer", type_=Text)).label("k1"), func.hashtext(ids.c.event_id).label("k2"))
        .distinct()
        .order_by("k2")
        .subquery("keys")
    )
    return select(func.count(func.pg_advisory_xact_lock(keys.c.k1, keys.c.k2))).select_from(keys)


_LOCK = _lock_statement()


@cache
def _claim_statement(inbox: Table) -> Insert:
    # Built once per inbox table and executed with parameters: a reused statement keeps its cache key
    # and compiled form, where a new one per call costs SQLAlchemy that work again for every event.
    ids = func.unnest(bindparam("event_ids", type_=ARRAY(Text))).table_valued("event_id").render_derived()
    consumer = bindparam("consumer", type_=Text)
    fresh = (
        select(consumer.label("consumer"), ids.c.event_id)
        .distinct()
        .where(~exists().where(inbox.c.consumer == consumer, inbox.c.event_id == ids.c.event_id))
    )
    return inbox.insert().from_select(["consumer", "event_id"], fresh).returning(inbox.c.event_id)


async def claim_events(session: AsyncSession, inbox: Table, consumer: str, event_ids: list[str]) -> set[str]:
    """Record many events as handled (two statements whatever their number); returns the ids not handled
    before."""
    if not event_ids:
        return set()
    parameters = {"consumer": consumer, "event_ids": event_ids}
    await session.execute(_LOCK, parameters)
    return set((await session.execute(_claim_statement(inbox), parameters)).scalars())


async def claim_event(session: AsyncSession, inbox: Table, consumer: str, event_id: str) -> bool:
    """Record the event as handled; False if it already was (then do nothing)."""
    return bool(await claim_events(session, inbox, consumer, [event_id]))
