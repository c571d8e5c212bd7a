"""Billing's settings: the default plan comes from BILLING_DEFAULT_* variables."""

from __future__ import annotations

import pytest
from billing_service.settings import BillingSettings
from customer_agent_shared.events.billing import PricingRule
from pydantic import ValidationError


def test_default_plan_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_DEFAULT_MONTHLY_ALLOTMENT", "250")
    monkeypatch.setenv("BILLING_DEFAULT_TIMEZONE", "Europe/Copenhagen")
    monkeypatch.setenv("BILLING_DEFAULT_PRICING_RULE", "per_resolution")
    monkeypatch.setenv("BILLING_DEFAULT_AUTO_UPGRADE_PACK_CREDITS", "100")
    monkeypatch.setenv("BILLING_DEFAULT_AUTO_UPGRADE_LIMIT", "2")
    plan = BillingSettings().default_plan()
    assert plan.monthly_allotment == 250
    assert plan.timezone == "Europe/Copenhagen"
    assert plan.pricing_rule is PricingRule.PER_RESOLUTION
    assert (plan.auto_upgrade_pack_credits, plan.auto_upgrade_limit) == (100, 2)


def test_unknown_default_time_zone_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_DEFAULT_TIMEZONE", "Europe/Atlantis")
    with pytest.raises(ValidationError, match="Europe/Atlantis"):
        BillingSettings()
