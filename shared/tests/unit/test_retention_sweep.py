"""A retention sweep deletes each table's rows before now minus its retention, in batches, and counts them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from customer_agent_shared.observability.metrics import RETENTION_DELETED_ROWS
from customer_agent_shared.persistence.retention import Retention, RetentionSweep
from customer_agent_shared.testing.in_memory_unit_of_work import InMemoryDatabase, InMemoryUnitOfWork

Row = tuple[str, datetime]


class RowsUnitOfWork(InMemoryUnitOfWork[list[Row]]):
    """A unit of work over (table, time) rows held in memory, counting its commits."""

    commits = 0
    rows: list[Row]

    def bind(self, tables: list[Row]) -> None:
        self.rows = tables

    async def commit(self) -> None:
        RowsUnitOfWork.commits += 1
        await super().commit()

    def delete(self, table: str, before: datetime, limit: int) -> int:
        """Delete at most ``limit`` rows of ``table`` older than ``before``."""
        doomed = [row for row in self.rows if row[0] == table and row[1] < before][:limit]
        for row in doomed:
            self.rows.remove(row)
        return len(doomed)


async def delete_facts(uow: RowsUnitOfWork, before: datetime, limit: int) -> int:
    return uow.delete("facts", before, limit)


async def delete_keys(uow: RowsUnitOfWork, before: datetime, limit: int) -> int:
    return uow.delete("keys", before, limit)


async def test_each_table_loses_only_rows_past_its_own_retention_in_batches() -> None:
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    old_facts = [("facts", now - timedelta(days=401, minutes=minute)) for minute in range(5)]
    kept = [("facts", now - timedelta(days=399)), ("keys", now - timedelta(hours=47))]
    database = InMemoryDatabase([*old_facts, ("keys", now - timedelta(hours=49)), *kept])
    RowsUnitOfWork.commits = 0
    sweep = RetentionSweep(
        "unit-test",
        lambda: RowsUnitOfWork(database),
        [Retention("facts", timedelta(days=400), delete_facts), Retention("keys", timedelta(hours=48), delete_keys)],
        interval_seconds=0,
        batch=2,
    )
    counted_before = RETENTION_DELETED_ROWS.labels("unit-test", "facts")._value.get()

    assert await sweep.run_once(now) == {"facts": 5, "keys": 1}

    assert database.tables == kept
    assert RowsUnitOfWork.commits == 3 + 1  # facts: 2 + 2 + 1 (short: done); keys: 1 (short: done)
    assert RETENTION_DELETED_ROWS.labels("unit-test", "facts")._value.get() - counted_before == 5
