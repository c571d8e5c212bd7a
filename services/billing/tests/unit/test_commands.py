"""Billing commands that can never apply are refused with a readable reason (dead letter)."""

from __future__ import annotations

import pytest
from billing_service.handlers.commands import validate_command
from customer_agent_shared.events.billing import (
    CREDITS_ADJUST,
    CREDITS_PLAN_SET,
    CREDITS_PURCHASE,
    BillingCommand,
    CreditPlan,
)
from customer_agent_shared.messaging.reliable import PermanentHandlerError


def command(**fields: object) -> BillingCommand:
    return BillingCommand.model_validate({"account_id": "acc", "command_id": "c1", **fields})


@pytest.mark.parametrize(
    ("event_type", "cmd", "reason"),
    [
        ("credits.refund", command(credits=5), "unknown billing command type"),
        (CREDITS_PURCHASE, command(), "positive 'credits'"),
        (CREDITS_PURCHASE, command(credits=0), "positive 'credits'"),
        (CREDITS_PURCHASE, command(credits=-5), "positive 'credits'"),
        (CREDITS_ADJUST, command(credits=0), "non-zero 'credits'"),
        (CREDITS_PLAN_SET, command(), "needs a 'plan'"),
        (CREDITS_PLAN_SET, command(plan=CreditPlan(timezone="Nowhere/City")), "unknown IANA time zone"),
    ],
)
def test_invalid_commands_are_permanent_errors(event_type: str, cmd: BillingCommand, reason: str) -> None:
    with pytest.raises(PermanentHandlerError, match=reason):
        validate_command(event_type, cmd)


@pytest.mark.parametrize(
    ("event_type", "cmd"),
    [
        (CREDITS_PURCHASE, command(credits=100)),
        (CREDITS_ADJUST, command(credits=-3, note="goodwill reversal")),
        (CREDITS_PLAN_SET, command(plan=CreditPlan(timezone="Europe/Copenhagen", reset_day=15))),
    ],
)
def test_valid_commands_pass(event_type: str, cmd: BillingCommand) -> None:
    validate_command(event_type, cmd)
