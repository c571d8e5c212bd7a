"""Use cases: fold agent.config.v1 snapshots and billing.credit-state.v1 states into routing's tables."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from customer_agent_shared.events.billing import CREDIT_STATE_TYPES, CreditState
from customer_agent_shared.events.config import AgentConfigSnapshot
from customer_agent_shared.events.envelope import CloudEvent
from customer_agent_shared.messaging.reliable import PermanentHandlerError

from routing_service.adapters.account_cache import AccountDirectory
from routing_service.handlers.tenancy import require_matching_account
from routing_service.handlers.types import UnitOfWorkFactory

logger = logging.getLogger(__name__)


class FoldAccountState:
    """Keeps the latest config snapshot and credit state per account; older versions are ignored."""

    def __init__(self, unit_of_work: UnitOfWorkFactory, directory: AccountDirectory, consumer_prefix: str) -> None:
        self._unit_of_work = unit_of_work
        self._directory = directory
        self._prefix = consumer_prefix

    async def fold_config(self, topic: str, event: CloudEvent[AgentConfigSnapshot]) -> bool:
        """Store a snapshot if it is newer than the stored one; True when stored."""
        require_matching_account(event)
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(f"{self._prefix}:{topic}", event.id):
                return False
            stored = await uow.accounts.save_config(event.data)
            await uow.commit()
        if stored:
            self._directory.config_stored(event.data)
        logger.info("config snapshot folded", extra={"version": event.data.version, "stored": stored})
        return stored

    async def fold_credit_state(self, topic: str, event: CloudEvent[CreditState]) -> bool:
        """Store a credit state if it is newer than the stored one; True when stored."""
        require_matching_account(event)
        if event.type not in CREDIT_STATE_TYPES:
            raise PermanentHandlerError(f"unexpected credit state type {event.type!r}")
        state = event.data
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(f"{self._prefix}:{topic}", event.id):
                return False
            stored = await uow.accounts.save_credit_state(state, datetime.now(UTC))
            await uow.commit()
        if stored:
            self._directory.credit_stored(state.account_id, state.exhausted, state.version)
        logger.info(
            "credit state folded", extra={"version": state.version, "exhausted": state.exhausted, "stored": stored}
        )
        return stored
