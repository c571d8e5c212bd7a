"""Credits: read the state billing publishes; opening a new account, purchases and plan changes (the
operator's) are commands to billing, the ledger's only writer and the owner of the plan."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from customer_agent_shared.events.billing import (
    CREDITS_OPEN,
    CREDITS_PLAN_CHANGE,
    CREDITS_PURCHASE,
    BillingCommand,
    CreditPlanChange,
    CreditState,
)
from customer_agent_shared.events.envelope import derived_event_id, make_event
from customer_agent_shared.topics import BILLING_COMMANDS

from admin_api.adapters.unit_of_work import AdminUnitOfWork
from admin_api.domain import configuration
from admin_api.domain.configuration import check_timezone
from admin_api.domain.errors import InvalidRequest, NotFound
from admin_api.handlers.audit import SOURCE, publish_snapshot, record_change


class CreditUseCases:
    """Credit balance, purchases and plan."""

    def __init__(self, unit_of_work: Callable[[], AdminUnitOfWork]) -> None:
        self._unit_of_work = unit_of_work

    async def state(self, account_id: str) -> CreditState | None:
        """The latest state billing published, if any."""
        async with self._unit_of_work() as uow:
            return await uow.credits.get(account_id)

    async def exhausted(self, account_id: str) -> bool:
        """Billing last reported the credits exhausted (an account it never reported on is not)."""
        state = await self.state(account_id)
        return bool(state and state.exhausted)

    async def _command(
        self, account_id: str, *, actor: str, command_type: str, command: BillingCommand, target: str
    ) -> str:
        async with self._unit_of_work() as uow:
            if await uow.accounts.get(account_id) is None:
                raise NotFound(f"Account {account_id!r} does not exist.")
            current = await uow.credits.get(account_id)
            event = make_event(command_type, command, source=SOURCE, account_id=account_id)
            await uow.publish(BILLING_COMMANDS, account_id, event)
            before = None
            if target == "credit_plan" and current is not None:
                before = current.plan.model_dump(mode="json")
            await record_change(
                uow,
                account_id=account_id,
                actor=actor,
                action="create" if target == "credit_purchase" else "edit",
                target_type=target,
                target_id=command.command_id,
                before=before,
                after=command.model_dump(mode="json", exclude_none=True),
            )
            await uow.commit()
        return command.command_id

    async def purchase(self, account_id: str, *, actor: str, credits: int) -> str:
        """Ask billing to add purchased credits; returns the command id."""
        command = BillingCommand(account_id=account_id, command_id=_command_id(), credits=credits)
        return await self._command(
            account_id, actor=actor, command_type=CREDITS_PURCHASE, command=command, target="credit_purchase"
        )

    async def change_plan(self, account_id: str, *, actor: str, change: CreditPlanChange) -> str:
        """Ask billing to change the plan fields given; billing keeps the others as they are."""
        if not change.model_dump(exclude_none=True):
            fields = ", ".join(CreditPlanChange.model_fields)
            raise InvalidRequest(
                f"The plan change names no field: give at least one of {fields} (a field left out keeps its value)."
            )
        if change.timezone is not None:
            check_timezone(change.timezone, "Plan")
        command = BillingCommand(account_id=account_id, command_id=_command_id(), plan_change=change)
        return await self._command(
            account_id, actor=actor, command_type=CREDITS_PLAN_CHANGE, command=command, target="credit_plan"
        )

    async def apply_state(self, consumer: str, event_id: str, state: CreditState) -> bool:
        """Fold billing's state; an older version is ignored. True if stored. The plan's resolution hours go
        into the agent's configuration, so conversation resolves threads after the hours billing charges by;
        the credits used per day are kept for GET /performance (each day from the newest state reporting it)."""
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(consumer, event_id):
                return False
            await uow.credit_usage.save(state.account_id, version=state.version, days=state.usage_by_day)
            stored = await uow.credits.save_if_newer(state)
            if stored:
                await _carry_resolution_hours(uow, state)
            await uow.commit()
        return stored


async def _carry_resolution_hours(uow: AdminUnitOfWork, state: CreditState) -> None:
    """A new configuration snapshot when billing's plan has other resolution hours than the configuration."""
    seen = await uow.accounts.config(state.account_id)
    if seen is None or seen.resolution_hours == state.plan.resolution_hours:
        return  # most states are usage: the configuration's row is locked only when its hours must change
    current = await uow.accounts.config(state.account_id, for_update=True)
    if current is None:
        return
    changed = configuration.with_resolution_hours(current, state.plan.resolution_hours)
    if changed is not None:
        snapshot = configuration.next_version(changed, datetime.now(UTC))
        await uow.accounts.save_config(snapshot)
        await publish_snapshot(uow, snapshot)


async def open_billing_account(uow: AdminUnitOfWork, account_id: str, *, created_at: datetime) -> None:
    """Stage the command that has billing open a new account's credits, so its state is published at once."""
    # Ids derived from the creation: a re-sent command is recognisably the same one.
    creation = derived_event_id(account_id, f"account-created:{created_at.isoformat()}")
    command = BillingCommand(account_id=account_id, command_id=f"open_{uuid.UUID(creation).hex}")
    event = make_event(CREDITS_OPEN, command, source=SOURCE, account_id=account_id, time=created_at, event_id=creation)
    await uow.publish(BILLING_COMMANDS, account_id, event)


def _command_id() -> str:
    return "cmd_" + uuid.uuid4().hex
