"""Routing settings: ``INGESTION_*`` variables plus the shared infrastructure ones."""

from __future__ import annotations

from customer_agent_shared.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class IngestionSettings(ServiceSettings):
    """Everything the ingestion service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="INGESTION_", extra="ignore", populate_by_name=True)

    service_name: str = Field(default="ingestion", description="Name in logs, metrics and client ids.")
    http_port: int = Field(default=8001, ge=1, le=65535, description="Port of /metrics, /healthz, /readyz.")
    database_schema: str = Field(default="ingestion", description="PostgreSQL schema owned by ingestion.")
    consumer_group: str = Field(default="ingestion", description="Kafka consumer group prefix (<prefix>.<topic>).")
