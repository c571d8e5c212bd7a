"""Routing settings: ``CONVERSATION_*`` variables plus the shared infrastructure ones."""

from __future__ import annotations

from customer_agent_shared.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class ConversationSettings(ServiceSettings):
    """Everything the conversation service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="CONVERSATION_", extra="ignore", populate_by_name=True)

    service_name: str = Field(default="conversation", description="Name in logs, metrics and client ids.")
    http_port: int = Field(default=8002, ge=1, le=65535, description="Port of /metrics, /healthz, /readyz.")
    database_schema: str = Field(default="conversation", description="PostgreSQL schema owned by conversation.")
    consumer_group: str = Field(default="conversation", description="Kafka consumer group prefix (<prefix>.<topic>).")
