"""Billing commands (from admin-api) and credit state (from billing)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import Field

from customer_agent_shared.events.channels import ContractModel
from customer_agent_shared.events.envelope import Timestamp

CREDITS_PURCHASE = "credits.purchase"
CREDITS_PLAN_SET = "credits.plan_set"
CREDITS_ADJUST = "credits.adjust"
CREDITS_PLAN_CHANGE = "credits.plan_change"
CREDITS_OPEN = "credits.open"
BILLING_COMMAND_TYPES = (CREDITS_PURCHASE, CREDITS_PLAN_SET, CREDITS_ADJUST, CREDITS_PLAN_CHANGE, CREDITS_OPEN)

CREDITS_STATE = "credits.state"
CREDITS_EXHAUSTED = "credits.exhausted"
CREDITS_RESTORED = "credits.restored"
CREDIT_STATE_TYPES = (CREDITS_STATE, CREDITS_EXHAUSTED, CREDITS_RESTORED)
USAGE_DAYS = 35
"""Days of usage a credit state carries (today included): more than a period, so the state a reset publishes
still holds every day of the period that ended."""


class PricingRule(StrEnum):
    """What a credit buys."""

    PER_CONVERSATION = "per_conversation"
    PER_RESOLUTION = "per_resolution"


class CreditPlan(ContractModel):
    """An account's plan."""

    monthly_allotment: int = Field(default=1000, ge=0, description="Credits granted each period.")
    reset_day: int = Field(default=1, ge=1, le=28, description="Day of month the allotment resets.")
    timezone: str = Field(default="UTC", description="Time zone of the reset.")
    pricing_rule: PricingRule = Field(default=PricingRule.PER_CONVERSATION, description="Pricing.")
    credits_per_unit: int = Field(default=1, ge=1, description="Credits per conversation/resolution.")
    resolution_hours: int = Field(default=72, ge=1, description="Quiet hours before a resolution.")
    auto_upgrade_pack_credits: int = Field(default=0, ge=0, description="Credits per auto pack (0 = off).")
    auto_upgrade_limit: int = Field(default=0, ge=0, description="Max auto packs per period.")


# A partial change is a command type of its own: a billing that predates it refuses the type as unknown
# (dead letter) instead of reading a whole credits.plan_set plan filled in with defaults.
class CreditPlanChange(ContractModel):
    """The plan fields a ``credits.plan_change`` sets; a field left out keeps the account's current value."""

    monthly_allotment: int | None = Field(default=None, ge=0, description="Credits granted each period.")
    reset_day: int | None = Field(default=None, ge=1, le=28, description="Day of month the allotment resets.")
    timezone: str | None = Field(default=None, description="Time zone of the reset.")
    pricing_rule: PricingRule | None = Field(default=None, description="Pricing.")
    credits_per_unit: int | None = Field(default=None, ge=1, description="Credits per conversation/resolution.")
    resolution_hours: int | None = Field(default=None, ge=1, description="Quiet hours before a resolution.")
    auto_upgrade_pack_credits: int | None = Field(default=None, ge=0, description="Credits per auto pack (0 = off).")
    auto_upgrade_limit: int | None = Field(default=None, ge=0, description="Max auto packs per period.")


class BillingCommand(ContractModel):
    """A command to the ledger's only writer (``credits.open`` needs no more than the ids)."""

    account_id: str = Field(description="Account id.")
    command_id: str = Field(description="Idempotency id of the command.")
    credits: int | None = Field(default=None, description="Credits purchased or adjusted.")
    plan: CreditPlan | None = Field(default=None, description="Whole new plan (plan_set, sent before plan_change).")
    plan_change: CreditPlanChange | None = Field(
        default=None, description="The plan fields to change (plan_change); the others keep their values."
    )
    note: str | None = Field(default=None, description="Why (adjust).")


class CreditLedgerEntry(ContractModel):
    """One ledger movement, as shown in an account's credit history."""

    kind: str = Field(description="allotment, reset, purchase, auto_upgrade, usage, refund or adjustment.")
    amount: int = Field(description="Signed credits (usage is negative).")
    balance_after: int = Field(description="Balance right after this entry.")
    cause: str = Field(description="What caused it: period, thread, command or auto pack id.")
    recorded_at: Timestamp = Field(description="When billing recorded it.")
    note: str | None = Field(default=None, description="Why, for adjustments.")


class CreditState(ContractModel):
    """An account's credit state; the compacted topic keeps the latest per account."""

    account_id: str = Field(description="Account id.")
    balance: int = Field(description="Credits left.")
    allotment: int = Field(ge=0, description="Credits per period.")
    used_this_period: int = Field(
        ge=0,
        description="Credits used since the last reset: usage charged since then, less the refunds of those charges "
        "(a refund counts with the charge it takes back, so one of an earlier period's charge lowers that period).",
    )
    purchased_this_period: int = Field(default=0, ge=0, description="Credits bought this period.")
    auto_upgrades_this_period: int = Field(default=0, ge=0, description="Auto packs bought.")
    reset_at: Timestamp = Field(description="Next reset.")
    exhausted: bool = Field(description="True while the agent must not take new threads.")
    plan: CreditPlan = Field(default_factory=CreditPlan, description="Current plan.")
    version: int = Field(ge=0, description="Monotonic; consumers ignore older states.")
    cause: str | None = Field(default=None, description="What changed: usage, reset, purchase, ...")
    period_start: Timestamp | None = Field(default=None, description="Start of the current period.")
    recent_entries: list[CreditLedgerEntry] = Field(
        default_factory=list, description="The latest ledger entries, newest first (credit history)."
    )
    usage_by_day: dict[date, int] = Field(
        default_factory=dict,
        description="Net credits used on each UTC day of the last USAGE_DAYS (0 when none): the usage billing "
        "charged that day, less the refunds of those charges whenever they came, as used_this_period counts them. "
        "A day's latest figure, never a change: a later state repeats it. Empty from a billing that predates it.",
    )
