"""Routing settings: ``ROUTING_*`` variables plus the shared infrastructure ones."""

from __future__ import annotations

from typing import Self

from customer_agent_shared.settings import BatchConsumerSettings, ServiceSettings
from pydantic import Field, model_validator
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
    transcript_retention_days: int = Field(
        default=30,
        ge=1,
        description="Days a thread must stay closed, or idle in the agent's hands, before its transcript (the "
        "visitor messages and answers a handoff carries) is deleted; a visitor writing after that starts a new "
        "transcript. A thread closed that long is deleted too: a message on it then starts a new thread, as it "
        "would reopen the closed one. A thread waiting for or held by a person keeps its transcript up to "
        "ROUTING_TRANSCRIPT_MAX_DAYS. The entries are also what drops a message re-published under a new event "
        "id, so that guard lasts as long.",
    )
    transcript_max_days: int = Field(
        default=365,
        ge=1,
        description="Days after which a transcript entry is deleted whatever its thread's state: a thread left "
        "waiting for or held by a person, which the inbox never closes, keeps its visitor's text no longer than "
        "this (nor does an entry of a thread routing never routed). A thread left open (a person's, the "
        "unassigned view's or the agent's) and untouched this long (no visitor message, no change of owner) is "
        "deleted too, freeing the place it held in a person's or team's capacity: an inbox action on it then "
        "changes nothing, and a message on it starts a new thread. At least ROUTING_TRANSCRIPT_RETENTION_DAYS.",
    )
    transition_retention_days: int = Field(
        default=30,
        ge=1,
        description="Days each change of a thread's owner (thread_transitions: from, to, the event that caused "
        "it) is kept for investigating a routing decision; nothing in routing reads it back.",
    )

    @model_validator(mode="after")
    def _cap_not_below_retention(self) -> Self:
        """Refuse a hard cap shorter than the idle retention (it would cut transcripts of threads in use)."""
        if self.transcript_max_days < self.transcript_retention_days:
            raise ValueError("ROUTING_TRANSCRIPT_MAX_DAYS must be at least ROUTING_TRANSCRIPT_RETENTION_DAYS")
        return self
