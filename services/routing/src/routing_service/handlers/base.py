"""What the per-event routing use cases share: their dependencies, inbox name and the staging of replies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from customer_agent_shared.events.envelope import CloudEvent, derived_event_id, make_event
from pydantic import BaseModel

from routing_service.adapters.account_cache import AccountDirectory
from routing_service.handlers.effects import SOURCE
from routing_service.handlers.types import RoutingUnitOfWorkProtocol, UnitOfWorkFactory


def utc_now() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


def keep_prepared(uow: RoutingUnitOfWorkProtocol, cache: str, event_id: str, *, source: object, value: object) -> None:
    """Keep what a batch's ``prepare`` worked out from an event's ``source`` (its data or raw form) for its
    ``handle``, in the batch's transaction."""
    uow.transaction_cache(cache)[event_id] = (source, value)


def take_prepared(uow: RoutingUnitOfWorkProtocol, cache: str, event_id: str, *, source: object) -> Any | None:
    """What this transaction's ``prepare`` kept for the event, taken once; None when nothing was kept for this very
    ``source`` (an event handled on its own, or redone so after its batch failed: its transaction kept nothing)."""
    kept = uow.transaction_cache(cache).pop(event_id, None)
    return kept[1] if kept is not None and kept[0] is source else None


class RoutingUseCase:
    """A use case that claims each event under one inbox name and reads accounts through the directory."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        directory: AccountDirectory,
        consumer: str,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._directory = directory
        self._consumer = consumer
        self._clock = clock

    @property
    def inbox_consumer(self) -> str:
        """The name this use case claims its events under in the inbox."""
        return self._consumer


async def stage_reply(
    uow: RoutingUnitOfWorkProtocol, cause: CloudEvent[Any], *, topic: str, event_type: str, data: BaseModel
) -> None:
    """Stage the answer to a request on ``topic``, keyed by its account, its id derived from the request's."""
    account_id: str = cause.data.account_id
    reply = make_event(
        event_type, data, source=SOURCE, account_id=account_id, event_id=derived_event_id(cause.id, event_type)
    )
    await uow.publish(topic, account_id, reply)
