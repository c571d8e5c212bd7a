"""Skeleton use case: claim each event exactly once in admin-api's transaction.

The decision logic (issue: admin-api) replaces this with the ownership state machine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from customer_agent_shared.events.envelope import CloudEvent

from admin_api.adapters.unit_of_work import AdminUnitOfWork

logger = logging.getLogger(__name__)


class EventIntake:
    """Records consumed events idempotently; the base every admin-api use case builds on."""

    def __init__(self, unit_of_work: Callable[[], AdminUnitOfWork], consumer_prefix: str) -> None:
        self._unit_of_work = unit_of_work
        self._consumer_prefix = consumer_prefix

    async def record(self, topic: str, event: CloudEvent[Any]) -> bool:
        """Claim the event; return False if it was already handled."""
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(f"{self._consumer_prefix}:{topic}", event.id):
                logger.info("event already handled", extra={"event_type": event.type})
                return False
            await uow.commit()
        logger.info("event recorded", extra={"event_type": event.type})
        return True
