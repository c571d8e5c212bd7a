"""Use case: apply admin-api's commands (new accounts, purchases, plan changes, adjustments) to the ledger."""

from __future__ import annotations

import logging

from customer_agent_shared.events.billing import (
    CREDITS_ADJUST,
    CREDITS_OPEN,
    CREDITS_PLAN_CHANGE,
    CREDITS_PLAN_SET,
    CREDITS_PURCHASE,
    BillingCommand,
    CreditPlan,
)
from customer_agent_shared.events.envelope import CloudEvent
from customer_agent_shared.messaging.reliable import PermanentHandlerError

from billing_service.clock import Clock
from billing_service.domain.ledger import (
    CreditAccount,
    Decision,
    EntryKind,
    change_plan,
    merged_plan,
    record_adjustment,
    record_purchase,
)
from billing_service.domain.periods import UnknownTimeZoneError, time_zone
from billing_service.handlers.ledger_writer import LedgerPolicy, LedgerTransaction
from billing_service.handlers.types import BillingUnitOfWorkProtocol, UnitOfWorkFactory

logger = logging.getLogger(__name__)

_ENTRY_KINDS = {
    CREDITS_PURCHASE: EntryKind.PURCHASE,
    CREDITS_ADJUST: EntryKind.ADJUSTMENT,
    CREDITS_PLAN_SET: EntryKind.ALLOTMENT,
    CREDITS_PLAN_CHANGE: EntryKind.ALLOTMENT,
}


def command_cause(command_id: str) -> str:
    """The cause id of the ledger entry a command makes."""
    return f"command:{command_id}"


def validate_command(event_type: str, command: BillingCommand) -> None:
    """Raise ``PermanentHandlerError`` with a readable reason for a command that can never apply."""
    if event_type not in _ENTRY_KINDS and event_type != CREDITS_OPEN:
        raise PermanentHandlerError(f"unknown billing command type {event_type!r}")
    if event_type == CREDITS_PURCHASE and (command.credits is None or command.credits <= 0):
        raise PermanentHandlerError("credits.purchase needs a positive 'credits'")
    if event_type == CREDITS_ADJUST and not command.credits:
        raise PermanentHandlerError("credits.adjust needs a non-zero 'credits'")
    if event_type == CREDITS_PLAN_SET:
        if command.plan is None:
            raise PermanentHandlerError("credits.plan_set needs a 'plan'")
        _check_time_zone(command.plan.timezone)
    if event_type == CREDITS_PLAN_CHANGE:
        _validate_plan_change(command)


def _validate_plan_change(command: BillingCommand) -> None:
    change = command.plan_change
    if change is None or not change.model_dump(exclude_none=True):
        raise PermanentHandlerError("credits.plan_change needs a 'plan_change' with at least one field")
    if change.model_extra:
        # A field this billing does not know: applying the rest would half-apply a newer command.
        raise PermanentHandlerError(f"credits.plan_change sets unknown plan fields {sorted(change.model_extra)}")
    if change.timezone is not None:
        _check_time_zone(change.timezone)


def _check_time_zone(name: str) -> None:
    try:
        time_zone(name)
    except UnknownTimeZoneError as error:
        raise PermanentHandlerError(str(error)) from error


class CreditCommands:
    """Billing is the only writer of the ledger; admin-api asks it through these commands."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        *,
        policy: LedgerPolicy,
        clock: Clock,
        consumer: str,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._policy = policy
        self._clock = clock
        self._consumer = consumer

    async def handle(self, event: CloudEvent[BillingCommand]) -> bool:
        """Apply one command once (by event id, by command id, and by its ledger entry once the command id has
        expired); True only when the ledger changed, False if the command was applied before."""
        command = event.data
        validate_command(event.type, command)
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(self._consumer, event.id):
                return False
            if not await uow.commands.claim(command.account_id, command.command_id, command_type=event.type):
                logger.info("billing command already applied", extra={"command_id": command.command_id})
                await uow.commit()
                return False
            ledger = LedgerTransaction(uow, self._policy, self._clock())
            # An account billing does not know yet is opened here (the default plan's allotment).
            account = await ledger.lock_account(command.account_id)
            changed = bool(ledger.applied)  # opened (or reset): all credits.open asks for
            if event.type != CREDITS_OPEN:
                decision = await _decide(uow, ledger, event.type, command, account)
                await ledger.apply(account, decision)
                changed = decision.changed
            await uow.commit()
        log = {"command_id": command.command_id, "event_type": event.type}
        if not changed:
            # An account open before, or a repeat that came after its command id expired (its entry is there).
            logger.info("billing command already in the ledger; nothing changed", extra=log)
            return False
        logger.info("billing command applied", extra=log)
        return True


async def _decide(
    uow: BillingUnitOfWorkProtocol,
    ledger: LedgerTransaction,
    event_type: str,
    command: BillingCommand,
    account: CreditAccount,
) -> Decision:
    """What a purchase, adjustment or plan command does to the locked account (nothing if it is recorded)."""
    cause = command_cause(command.command_id)
    recorded = await uow.ledger.recorded(command.account_id, [(_ENTRY_KINDS[event_type], cause)])
    if event_type == CREDITS_PURCHASE:
        return record_purchase(account, cause, command.credits or 0, recorded)
    if event_type == CREDITS_ADJUST:
        return record_adjustment(account, cause, command.credits or 0, recorded, note=command.note)
    return change_plan(account, _new_plan(event_type, command, account.plan), cause, ledger.now, recorded)


def _new_plan(event_type: str, command: BillingCommand, current: CreditPlan) -> CreditPlan:
    """A plan_set's whole plan, or the current plan with a plan_change's fields merged in."""
    if event_type == CREDITS_PLAN_SET:
        assert command.plan is not None  # validated
        return command.plan
    assert command.plan_change is not None  # validated
    return merged_plan(current, command.plan_change)
