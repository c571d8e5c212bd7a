"""Billing commands that can never apply are refused with a readable reason (dead letter)."""

from __future__ import annotations

import pytest
from billing_service.handlers.commands import validate_command
from customer_agent_shared.events.billing import (
    CREDITS_ADJUST,
    CREDITS_OPEN,
    CREDITS_PLAN_CHANGE,
    CREDITS_PLAN_SET,
    CREDITS_PURCHASE,
    BillingCommand,
    CreditPlan,
    CreditPlanChange,
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
        (CREDITS_PLAN_CHANGE, command(), "at least one field"),
        (CREDITS_PLAN_CHANGE, command(plan_change={}), "at least one field"),
        (CREDITS_PLAN_CHANGE, command(plan_change={"timezone": "Nowhere/City"}), "unknown IANA time zone"),
        # A field of a newer plan this billing does not know: refused whole, never half-applied.
        (
            CREDITS_PLAN_CHANGE,
            command(plan_change={"reset_day": 2, "rollover": True}),
            r"unknown plan fields \['rollover'\]",
        ),
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
        (CREDITS_PLAN_CHANGE, command(plan_change=CreditPlanChange(auto_upgrade_limit=1))),
        (CREDITS_PLAN_CHANGE, command(plan_change=CreditPlanChange(timezone="Europe/Copenhagen"))),
        (CREDITS_OPEN, command()),
    ],
)
def test_valid_commands_pass(event_type: str, cmd: BillingCommand) -> None:
    validate_command(event_type, cmd)
