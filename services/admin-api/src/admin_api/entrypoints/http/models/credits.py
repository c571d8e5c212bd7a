"""Bodies of the credits endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from customer_agent_shared.events.billing import PricingRule
from pydantic import BaseModel, Field

from admin_api.entrypoints.http.models.common import ApiModel, examples


class CreditPlanBody(ApiModel):
    """The plan fields to change: a field left out keeps the account's current value (billing decides it)."""

    model_config = examples(
        {"monthly_allotment": 2000, "reset_day": 15, "timezone": "Europe/Copenhagen"},
        {"auto_upgrade_pack_credits": 500, "auto_upgrade_limit": 2},
    )

    monthly_allotment: int | None = Field(default=None, ge=0, le=100_000_000, description="Credits each period.")
    reset_day: int | None = Field(default=None, ge=1, le=28, description="Day of month the allotment resets.")
    timezone: str | None = Field(default=None, max_length=64, description="IANA time zone of the reset.")
    pricing_rule: PricingRule | None = Field(default=None, description="What a credit buys.")
    credits_per_unit: int | None = Field(
        default=None, ge=1, le=1000, description="Credits per conversation/resolution."
    )
    resolution_hours: int | None = Field(default=None, ge=1, le=24 * 90, description="Quiet hours before a resolution.")
    auto_upgrade_pack_credits: int | None = Field(
        default=None, ge=0, le=10_000_000, description="0 = auto-upgrade off."
    )
    auto_upgrade_limit: int | None = Field(default=None, ge=0, le=1000, description="Max auto packs per period.")


class CreditPlanOut(BaseModel):
    """An account's plan as billing last reported it."""

    monthly_allotment: int
    reset_day: int
    timezone: str
    pricing_rule: PricingRule
    credits_per_unit: int
    resolution_hours: int
    auto_upgrade_pack_credits: int
    auto_upgrade_limit: int


class CreditsOut(BaseModel):
    """Credit state as billing last reported it (known=false until billing's first report on the account)."""

    model_config = examples(
        {
            "known": True,
            "balance": 420,
            "allotment": 1000,
            "used_this_period": 580,
            "purchased_this_period": 0,
            "auto_upgrades_this_period": 0,
            "period_start": "2026-11-01T00:00:00Z",
            "reset_at": "2026-12-01T00:00:00Z",
            "exhausted": False,
            "plan": {
                "monthly_allotment": 1000,
                "reset_day": 1,
                "timezone": "UTC",
                "pricing_rule": "per_conversation",
                "credits_per_unit": 1,
                "resolution_hours": 72,
                "auto_upgrade_pack_credits": 0,
                "auto_upgrade_limit": 0,
            },
        }
    )

    known: bool
    balance: int | None = None
    allotment: int | None = None
    used_this_period: int | None = Field(
        default=None,
        description="Credits billing charged for usage since period_start, minus what it refunded of those charges "
        "(a refund counts with the charge it takes back, in that charge's period); GET /performance's credits_used "
        "counts the same on the UTC days asked for.",
    )
    purchased_this_period: int | None = None
    auto_upgrades_this_period: int | None = None
    period_start: datetime | None = Field(default=None, description="When the current period began (last reset).")
    reset_at: datetime | None = None
    exhausted: bool = False
    plan: CreditPlanOut | None = None


class PurchaseBody(ApiModel):
    """Credits bought."""

    model_config = examples({"credits": 500})

    credits: int = Field(ge=1, le=10_000_000)


class CommandAccepted(BaseModel):
    """The command was recorded and will reach billing; GET /credits shows the outcome."""

    model_config = examples({"command_id": "cmd_1f2e", "status": "accepted"})

    command_id: str
    status: Literal["accepted"] = "accepted"
