"""What the batch-consumer and shared-transaction tests share: a scratch schema with an outbox, an inbox
and a table of greetings their use cases write."""

from __future__ import annotations

import json
from dataclasses import dataclass

from customer_agent_shared.persistence.database import create_session_factory, ensure_schema
from customer_agent_shared.persistence.inbox import define_inbox_table
from customer_agent_shared.persistence.outbox import define_outbox_table
from customer_agent_shared.persistence.unit_of_work import SqlUnitOfWork
from pydantic import BaseModel, Field
from sqlalchemy import Column, Integer, MetaData, String, Table, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

CONSUMER = "batch-test"


class Greeting(BaseModel):
    """Test payload."""

    text: str = Field(description="What to say.")


@dataclass
class Store:
    """A scratch schema with an outbox, an inbox and a table the handler writes."""

    sessions: async_sessionmaker[AsyncSession]
    outbox: Table
    inbox: Table
    greetings: Table

    def unit_of_work(self) -> SqlUnitOfWork:
        """A unit of work on the store's outbox and inbox."""
        return SqlUnitOfWork(self.sessions, outbox=self.outbox, inbox=self.inbox)

    async def rows(self) -> list[tuple[str, str]]:
        """(text, id of the inserting transaction) of every greeting, in insertion order."""
        async with self.sessions() as session:
            result = await session.execute(
                select(self.greetings.c.text, text("xmin::text")).order_by(self.greetings.c.id)
            )
            return [(row[0], row[1]) for row in result.all()]

    async def texts(self) -> dict[int, str]:
        """Each greeting's text, by id."""
        async with self.sessions() as session:
            rows = await session.execute(select(self.greetings.c.id, self.greetings.c.text))
            return {row[0]: row[1] for row in rows}

    async def outbox_texts(self) -> list[str]:
        """The text of each greeting event in the outbox, in the order they were staged."""
        async with self.sessions() as session:
            payloads = (await session.scalars(select(self.outbox.c.payload).order_by(self.outbox.c.id))).all()
        return [json.loads(payload)["data"]["text"] for payload in payloads]

    async def outbox_transactions(self) -> set[str]:
        """Ids of the transactions that staged the outbox rows."""
        async with self.sessions() as session:
            return set((await session.scalars(select(text("xmin::text")).select_from(self.outbox))).all())


async def make_store(scratch_schema: tuple[AsyncEngine, str]) -> Store:
    """Create the tables of a ``Store`` in the scratch schema."""
    engine, schema = scratch_schema
    metadata = MetaData(schema=schema)
    greetings = Table(
        "greetings", metadata, Column("id", Integer, primary_key=True), Column("text", String, nullable=False)
    )
    store = Store(
        create_session_factory(engine), define_outbox_table(metadata), define_inbox_table(metadata), greetings
    )
    await ensure_schema(engine, schema)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    return store
