"""Routing settings: ``ROUTING_*`` variables plus the shared infrastructure ones."""

from __future__ import annotations

from customer_agent_shared.settings import BatchConsumerSettings, ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class RoutingSettings(ServiceSettings, BatchConsumerSettings):
    """Everything the routing service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="ROUTING_", extra="ignore", populate_by_name=True)

    service_name: str = Field(default="routing", description="Name in logs, metrics and client ids.")
    http_port: int = Field(default=8003, ge=1, le=65535, description="Port of /metrics, /healthz, /readyz.")
    database_schema: str = Field(default="routing", description="PostgreSQL schema owned by routing.")
    consumer_group: str = Field(default="routing", description="Kafka consumer group prefix (<prefix>.<topic>).")
    account_cache_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How long a replica trusts its in-memory copy of an account's config and credit state "
        "before re-reading it (a replica that folds a newer version updates its copy at once).",
    )
