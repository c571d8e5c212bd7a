"""A purge deletes in one short transaction after another until a batch comes back short."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from customer_agent_shared.persistence.unit_of_work_protocol import delete_in_batches


class CountingUnitOfWork:
    """A unit of work that only counts its commits (pure logic: the loop, not the database)."""

    commits = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def claim_event(self, consumer: str, event_id: str) -> bool:
        return True

    async def publish(self, topic: str, key: str | None, event: Any, *, state_key: Any = None) -> None:
        return None

    def after_commit(self, action: Any) -> None:
        return None

    async def commit(self) -> None:
        CountingUnitOfWork.commits += 1


async def test_batches_run_until_one_comes_back_short_each_committed() -> None:
    CountingUnitOfWork.commits = 0
    left = [250]

    async def delete_batch(uow: CountingUnitOfWork) -> int:
        deleted = min(100, left[0])
        left[0] -= deleted
        return deleted

    assert await delete_in_batches(CountingUnitOfWork, delete_batch, batch=100) == 250
    assert CountingUnitOfWork.commits == 3
