"""Folds the events admin-api consumes into its own tables (each claimed once, in its transaction)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from customer_agent_shared.events.audit import AuditRecorded
from customer_agent_shared.events.envelope import CloudEvent

from admin_api.adapters.unit_of_work import AdminUnitOfWork

logger = logging.getLogger(__name__)


class AuditIntake:
    """Keeps audit records published by any service (ours are already stored: same event id)."""

    def __init__(self, unit_of_work: Callable[[], AdminUnitOfWork], consumer: str) -> None:
        self._unit_of_work = unit_of_work
        self._consumer = consumer

    async def record(self, event: CloudEvent[AuditRecorded]) -> bool:
        """Append the record once; False if already handled."""
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(self._consumer, event.id):
                return False
            await uow.audit.append(event.id, event.data)
            await uow.commit()
        logger.info("audit record kept", extra={"event_type": event.type})
        return True
