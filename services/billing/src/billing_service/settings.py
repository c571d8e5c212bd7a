"""Billing settings: ``BILLING_*`` variables plus the shared infrastructure ones."""

from __future__ import annotations

from customer_agent_shared.events.billing import CreditPlan, PricingRule
from customer_agent_shared.settings import BatchConsumerSettings, ServiceSettings
from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from billing_service.domain.periods import time_zone


class BillingSettings(ServiceSettings, BatchConsumerSettings):
    """Everything the billing service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore", populate_by_name=True)

    service_name: str = Field(default="billing", description="Name in logs, metrics and client ids.")
    http_port: int = Field(default=8004, ge=1, le=65535, description="Port of /metrics, /healthz, /readyz.")
    database_schema: str = Field(default="billing", description="PostgreSQL schema owned by billing.")
    consumer_group: str = Field(default="billing", description="Kafka consumer group prefix (<prefix>.<topic>).")
    consumer_gather_ms: int = Field(
        default=250,
        ge=0,
        le=5000,
        description="How long Kafka may hold a fetch of conversation events to gather a full batch: metering "
        "is off the reply path, so credits are counted up to this much later in fewer, larger transactions.",
    )
    default_monthly_allotment: int = Field(
        default=1000, ge=0, description="Credits per period of the plan a new account opens on (until a plan change)."
    )
    default_reset_day: int = Field(default=1, ge=1, le=28, description="Day of month the default plan resets.")
    default_timezone: str = Field(default="UTC", description="IANA time zone of the default plan's reset.")
    default_pricing_rule: PricingRule = Field(
        default=PricingRule.PER_CONVERSATION, description="per_conversation or per_resolution."
    )
    default_credits_per_unit: int = Field(default=1, ge=1, description="Credits per conversation or resolution.")
    default_resolution_hours: int = Field(
        default=72, ge=1, description="Quiet hours after which an answered thread counts as resolved."
    )
    default_auto_upgrade_pack_credits: int = Field(
        default=0, ge=0, description="Credits of an automatic pack (0 = no auto-upgrade)."
    )
    default_auto_upgrade_limit: int = Field(default=0, ge=0, description="Automatic packs allowed per period.")
    scheduler_interval_seconds: float = Field(
        default=30.0, gt=0, description="How often due resets and quiet resolutions are applied."
    )
    thread_retention_days: int = Field(
        default=90,
        ge=7,
        description="Days billing remembers a quiet thread's facts (answered, handed off, feedback). A thread is "
        "charged at most once in its life (its usage entry stays in the ledger): a visitor writing again on a "
        "charged thread, even after this, is not charged again; a thread never charged is judged on what happens "
        "after it was forgotten.",
    )
    applied_command_retention_days: int = Field(
        default=14,
        ge=1,
        description="Days the id of an applied purchase, adjustment or plan change is kept, so a repeat of the "
        "command is dropped at once (as the inbox keeps event ids, 14 days); a repeat after that is still refused "
        "by its ledger entry, whose cause is unique.",
    )
    history_entries: int = Field(
        default=10, ge=0, le=100, description="Latest ledger entries carried in each published credit state."
    )

    @field_validator("default_timezone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        time_zone(value)
        return value

    def default_plan(self) -> CreditPlan:
        """The plan a new account opens on; a plan change from admin-api is merged onto it."""
        return CreditPlan(
            monthly_allotment=self.default_monthly_allotment,
            reset_day=self.default_reset_day,
            timezone=self.default_timezone,
            pricing_rule=self.default_pricing_rule,
            credits_per_unit=self.default_credits_per_unit,
            resolution_hours=self.default_resolution_hours,
            auto_upgrade_pack_credits=self.default_auto_upgrade_pack_credits,
            auto_upgrade_limit=self.default_auto_upgrade_limit,
        )
