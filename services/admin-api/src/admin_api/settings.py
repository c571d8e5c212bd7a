"""Admin-api settings: ``ADMIN_*`` variables plus the shared infrastructure ones."""

from __future__ import annotations

from customer_agent_shared.settings import BatchConsumerSettings, ServiceSettings, UploadStoreSettings
from limits import parse
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict


class AdminSettings(ServiceSettings, BatchConsumerSettings, UploadStoreSettings):
    """Everything the admin-api service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="ADMIN_", extra="ignore", populate_by_name=True)

    service_name: str = Field(default="admin-api", description="Name in logs, metrics and client ids.")
    http_port: int = Field(default=8000, ge=1, le=65535, description="Port of the REST API and operations endpoints.")
    database_schema: str = Field(default="admin", description="PostgreSQL schema owned by admin-api.")
    consumer_group: str = Field(default="admin-api", description="Kafka consumer group prefix (<prefix>.<topic>).")
    consumer_gather_ms: int = Field(
        default=250,
        ge=0,
        le=5000,
        description="How long Kafka may hold a fetch of conversation events to gather a full batch: performance "
        "figures and knowledge gaps appear up to this much later, in fewer, larger transactions.",
    )
    bootstrap_token: SecretStr | None = Field(
        default=None,
        description="ADMIN_BOOTSTRAP_TOKEN: operator token that creates accounts and API keys, records credit "
        "purchases and sets plans (unset = disabled).",
    )
    max_upload_bytes: int = Field(
        default=15 * 1024 * 1024, ge=1, description="Largest file accepted by POST /sources/files (bytes)."
    )
    max_json_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body of every endpoint but POST /sources/files (bytes): a larger one is "
        "refused with 413 as soon as its Content-Length, or the bytes received so far, exceed it.",
    )
    max_concurrent_uploads: int = Field(
        default=3,
        ge=1,
        description="Uploads (POST /sources/files) one process receives at once; one more is refused with 429 and "
        "Retry-After before its body is read. A file over 1 MiB is spooled to /tmp while it arrives, so this times "
        "ADMIN_MAX_UPLOAD_BYTES must fit in /tmp (the pod's 64 MiB emptyDir holds three at the default 15 MiB).",
    )
    rate_limit_per_key: str = Field(
        default="1200/minute",
        description="Requests one API key (or the operator's token) may make, in the limits library's notation "
        "(e.g. '1200/minute', '50/second'), counted over a moving window in Redis across replicas; past it, 429 "
        "with Retry-After.",
    )
    rate_limit_preview_per_key: str = Field(
        default="120/minute",
        description="POST /agent/preview calls one API key may make (each may be a model call), on top of "
        "ADMIN_RATE_LIMIT_PER_KEY.",
    )
    rate_limit_failed_authentication_per_client: str = Field(
        default="120/minute",
        description="Requests without a valid key one client address may make before it gets 429 instead of "
        "401 (the address is the proxy's unless uvicorn trusts forwarded headers).",
    )
    rate_limit_outage_pause_seconds: float = Field(
        default=10.0,
        gt=0,
        description="After Redis fails a rate-limit check, requests pass unchecked for this long before Redis is "
        "tried again (each failure is logged and counted in customer_agent_admin_api_rate_limit_unchecked_total).",
    )
    demo_account: bool = Field(
        default=False,
        description="At start-up, create the account 'demo' (a short answer, the agent on live chat 'website') "
        "unless it exists, for trying the console and webchat (make up turns it on and prints a fresh key of it); "
        "keep it off in production.",
    )
    preview_timeout_seconds: float = Field(
        default=15.0, gt=0, description="How long POST /agent/preview waits for the conversation service."
    )
    replay_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        description="How long a draft replay (POST /agent/draft/replay) may take: one still without conversation's "
        "verdicts then fails; one still without routing's reports the agent's part only.",
    )
    replay_retention_days: int = Field(
        default=7,
        ge=1,
        description="Days a draft replay (its report, with the visitors' questions it changed) is kept; older ones "
        "are deleted every hour.",
    )
    performance_retention_days: int = Field(
        default=400,
        ge=1,
        description="Days each conversation event, and each day's credits used, is kept for GET /performance "
        "(which reads those of the period asked for); older ones are deleted. 400 keeps the longest period it "
        "accepts (366 days) whole for another month; a period further back reports only what is left.",
    )
    idempotency_retention_hours: int = Field(
        default=48,
        ge=1,
        description="Hours the response to a creating request with an Idempotency-Key is kept: a retry with the "
        "same key within this gets that response again; after it, the key creates anew. Clients retry within "
        "minutes, so two days covers a retry after a day's outage.",
    )
    closed_gap_retention_days: int = Field(
        default=180,
        ge=1,
        description="Days a knowledge gap (with its visitor's first question) is kept after it was resolved or "
        "dismissed; older ones are deleted (open gaps never are). Only an admin looking back at what was resolved or "
        "dismissed (GET /knowledge-gaps with that status) reads a closed gap, and the short answer that resolved one "
        "is a source of its own, so half a year keeps two quarters to review.",
    )

    @field_validator("rate_limit_per_key", "rate_limit_preview_per_key", "rate_limit_failed_authentication_per_client")
    @classmethod
    def _rate_limit_notation(cls, value: str) -> str:
        parse(value)  # a ValueError names what is wrong with it
        return value
