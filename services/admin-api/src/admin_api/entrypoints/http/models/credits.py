"""Bodies of the credits endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from customer_agent_shared.events.billing import PricingRule
from pydantic import BaseModel, Field

from admin_api.entrypoints.http.models.common import ApiModel, examples


class CreditPlanBody(ApiModel):
    """An account's plan: allotment, reset, pricing and auto-upgrade packs."""

    model_config = examples(
        {
            "monthly_allotment": 1000,
            "reset_day": 1,
            "timezone": "UTC",
            "auto_upgrade_pack_credits": 500,
            "auto_upgrade_limit": 2,
        }
    )

    monthly_allotment: int = Field(default=1000, ge=0, le=100_000_000)
    reset_day: int = Field(default=1, ge=1, le=28)
    timezone: str = Field(default="UTC", max_length=64)
    pricing_rule: PricingRule = PricingRule.PER_CONVERSATION
    credits_per_unit: int = Field(default=1, ge=1, le=1000)
    resolution_hours: int = Field(default=72, ge=1, le=24 * 90)
    auto_upgrade_pack_credits: int = Field(default=0, ge=0, le=10_000_000, description="0 = auto-upgrade off.")
    auto_upgrade_limit: int = Field(default=0, ge=0, le=1000, description="Max auto packs per period.")


class CreditsOut(BaseModel):
    """Credit state as billing last reported it (known=false before its first report)."""

    model_config = examples(
        {
            "known": True,
            "balance": 420,
            "allotment": 1000,
            "used_this_period": 580,
            "purchased_this_period": 0,
            "auto_upgrades_this_period": 0,
            "reset_at": "2026-12-01T00:00:00Z",
            "exhausted": False,
            "plan": {"monthly_allotment": 1000, "reset_day": 1, "timezone": "UTC"},
        }
    )

    known: bool
    balance: int | None = None
    allotment: int | None = None
    used_this_period: int | None = None
    purchased_this_period: int | None = None
    auto_upgrades_this_period: int | None = None
    reset_at: datetime | None = None
    exhausted: bool = False
    plan: CreditPlanBody | None = None


class PurchaseBody(ApiModel):
    """Credits bought."""

    model_config = examples({"credits": 500})

    credits: int = Field(ge=1, le=10_000_000)


class CommandAccepted(BaseModel):
    """The command was recorded and will reach billing; GET /credits shows the outcome."""

    model_config = examples({"command_id": "cmd_1f2e", "status": "accepted"})

    command_id: str
    status: Literal["accepted"] = "accepted"
