"""What every service's use cases need of a unit of work besides its repositories (SqlUnitOfWork meets it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

from customer_agent_shared.events.envelope import CloudEvent


class UnitOfWorkProtocol(Protocol):
    """One transaction: the inbox claim, staged events and the commit; services add their repositories."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def claim_event(self, consumer: str, event_id: str) -> bool:
        """Mark the event handled in this transaction; False means it was handled before."""
        ...

    async def publish(
        self, topic: str, key: str | None, event: CloudEvent[Any], *, state_key: Hashable | None = None
    ) -> None:
        """Stage an event, sent only if this unit of work commits."""
        ...

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once this unit of work's changes are committed."""
        ...

    async def commit(self) -> None:
        """Commit state, inbox and outbox atomically."""
        ...


UnitOfWork = TypeVar("UnitOfWork", bound=UnitOfWorkProtocol)


async def delete_in_batches(
    unit_of_work: Callable[[], UnitOfWork], delete_batch: Callable[[UnitOfWork], Awaitable[int]], *, batch: int
) -> int:
    """Run ``delete_batch`` (deleting at most ``batch`` rows) in one transaction after another until a batch
    comes back short; return how many rows were deleted. Short transactions keep a large purge from holding
    locks or bloating one transaction."""
    total = 0
    while True:
        async with unit_of_work() as uow:
            deleted = await delete_batch(uow)
            await uow.commit()
        total += deleted
        if deleted < batch:
            return total
