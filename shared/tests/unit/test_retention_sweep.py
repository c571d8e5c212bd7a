"""A retention sweep deletes each table's rows before now minus its retention, in batches, one replica at a time,
counting each committed batch, and a table that fails does not stop the others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from customer_agent_shared.observability.metrics import RETENTION_DELETED_ROWS
from customer_agent_shared.persistence.retention import Retention, RetentionSweep
from customer_agent_shared.testing.in_memory_unit_of_work import InMemoryDatabase, InMemoryUnitOfWork

Row = tuple[str, datetime]
NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


class RowsUnitOfWork(InMemoryUnitOfWork[list[Row]]):
    """A unit of work over (table, time) rows held in memory, counting its commits; ``held`` are the advisory
    locks another replica holds."""

    commits = 0
    held: set[str] = set()
    locks: list[str] = []
    rows: list[Row]

    def bind(self, tables: list[Row]) -> None:
        self.rows = tables

    async def commit(self) -> None:
        RowsUnitOfWork.commits += 1
        await super().commit()

    async def try_advisory_lock(self, name: str) -> bool:
        RowsUnitOfWork.locks.append(name)
        return name not in RowsUnitOfWork.held

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


def _sweep(
    database: InMemoryDatabase[list[Row]], *retentions: Retention[RowsUnitOfWork]
) -> RetentionSweep[RowsUnitOfWork]:
    RowsUnitOfWork.commits, RowsUnitOfWork.held, RowsUnitOfWork.locks = 0, set(), []
    return RetentionSweep(
        "unit-test", lambda: RowsUnitOfWork(database), retentions, schema="s", interval_seconds=0, batch=2
    )


def _counted(table: str) -> float:
    return float(RETENTION_DELETED_ROWS.labels("unit-test", table)._value.get())


FACTS = Retention("facts", timedelta(days=400), delete_facts)
KEYS = Retention("keys", timedelta(hours=48), delete_keys)


async def test_each_table_loses_only_rows_past_its_own_retention_in_batches_under_its_own_lock() -> None:
    old_facts = [("facts", NOW - timedelta(days=401, minutes=minute)) for minute in range(5)]
    kept = [("facts", NOW - timedelta(days=399)), ("keys", NOW - timedelta(hours=47))]
    database = InMemoryDatabase([*old_facts, ("keys", NOW - timedelta(hours=49)), *kept])
    sweep = _sweep(database, FACTS, KEYS)
    counted_before = _counted("facts")

    assert await sweep.run_once(NOW) == {"facts": 5, "keys": 1}

    assert database.tables == kept
    assert RowsUnitOfWork.commits == 3 + 1  # facts: 2 + 2 + 1 (short: done); keys: 1 (short: done)
    assert RowsUnitOfWork.locks == ["retention:s.facts"] * 3 + ["retention:s.keys"]  # one per batch
    assert _counted("facts") - counted_before == 5


async def test_a_table_another_replica_is_sweeping_is_skipped() -> None:
    database = InMemoryDatabase([("facts", NOW - timedelta(days=401)), ("keys", NOW - timedelta(hours=49))])
    sweep = _sweep(database, FACTS, KEYS)
    RowsUnitOfWork.held = {"retention:s.facts"}

    assert await sweep.run_once(NOW) == {"facts": 0, "keys": 1}

    assert database.tables == [("facts", NOW - timedelta(days=401))]


async def test_a_failing_table_keeps_what_its_committed_batches_deleted_and_the_others_are_still_swept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    database = InMemoryDatabase([("facts", NOW - timedelta(days=401, minutes=minute)) for minute in range(3)])
    database.tables.append(("keys", NOW - timedelta(hours=49)))
    batches = 0

    async def fail_on_the_second_batch(uow: RowsUnitOfWork, before: datetime, limit: int) -> int:
        nonlocal batches
        batches += 1
        if batches == 2:
            raise ConnectionError("database gone")
        return uow.delete("facts", before, limit)

    sweep = _sweep(database, Retention("facts", timedelta(days=400), fail_on_the_second_batch), KEYS)
    counted_before = _counted("facts")

    assert await sweep.run_once(NOW) == {"facts": 2, "keys": 1}

    assert database.tables == [("facts", NOW - timedelta(days=401, minutes=2))]
    assert _counted("facts") - counted_before == 2
    assert "retention of a table failed" in caplog.text
