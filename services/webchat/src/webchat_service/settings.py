"""Webchat settings: ``WEBCHAT_*`` variables plus the shared infrastructure ones."""

from __future__ import annotations

from customer_agent_shared.settings import ServiceSettings
from limits import parse
from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from webchat_service.domain.origins import OriginAllowlist


class WebchatSettings(ServiceSettings):
    """Everything the webchat service reads from its environment (it keeps no PostgreSQL state)."""

    model_config = SettingsConfigDict(env_prefix="WEBCHAT_", extra="ignore", populate_by_name=True)

    service_name: str = Field(default="webchat", description="Name in logs, metrics and client ids.")
    http_port: int = Field(
        default=8005, ge=1, le=65535, description="Port of the widget, the demo pages, the WebSocket and /metrics."
    )
    consumer_group: str = Field(default="webchat", description="Kafka consumer group prefix (<prefix>.<topic>).")
    allowed_origins: str = Field(
        default="",
        description="Browser origins allowed to open a chat, per account and channel: "
        "'acme/web=https://acme.example,https://www.acme.example;*=https://shop.example' ('*' applies to every "
        "channel). DESIGN.md has webchat consume no config topic, so the list lives here, not in admin-api.",
    )
    allow_own_origin: bool = Field(
        default=True,
        description="Accept chats from pages webchat serves itself (the demo pages: the Origin's host is the "
        "request's Host). Switch off in production to allow only WEBCHAT_ALLOWED_ORIGINS.",
    )
    messages_per_visitor: str = Field(
        default="20/minute",
        description="Messages one visitor (one chat thread) may send, in the limits library's notation; more "
        "close the socket with 1013 (try again later), counted in Redis across replicas.",
    )
    sessions_per_address: str = Field(
        default="30/minute",
        description="Chats one client address may open, so a visitor cannot escape the message budget by "
        "opening new threads.",
    )
    max_text_chars: int = Field(
        default=20_000, ge=1, le=20_000, description="Longest message text (the inbound contract allows 20,000)."
    )
    max_frame_bytes: int = Field(
        default=131_072,
        ge=1024,
        le=1_048_576,
        description="Largest WebSocket frame a visitor may send; a larger one closes the socket with 1009.",
    )
    max_locale_chars: int = Field(default=35, ge=2, le=35, description="Longest browser language tag accepted.")
    idle_timeout_seconds: float = Field(
        default=1800.0,
        gt=0,
        description="A socket with no visitor frame for this long is closed (1001); the widget reconnects with "
        "its thread_id when the visitor next writes and receives what arrived meanwhile.",
    )
    thread_ttl_seconds: int = Field(
        default=86_400,
        ge=60,
        description="How long a quiet thread stays resumable; its replay buffer, cursor and seen ids expire "
        "with it. Replies for a thread webchat no longer holds are skipped.",
    )
    replay_entries: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Most frames kept per thread for a visitor who reconnects (replies and handoffs).",
    )
    feed_poll_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="Each open socket re-reads its thread's replay buffer at least this often, in case a Redis "
        "notification was lost (they are sent at once otherwise).",
    )
    publish_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        le=120,
        description="Longest wait for Kafka to acknowledge a visitor's message before the socket is closed "
        "(1011) asking the widget to send it again.",
    )

    @field_validator("messages_per_visitor", "sessions_per_address")
    @classmethod
    def _rate(cls, value: str) -> str:
        parse(value)
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        OriginAllowlist.parse(value)
        return value

    def origin_allowlist(self) -> OriginAllowlist:
        """The parsed ``allowed_origins``."""
        return OriginAllowlist.parse(self.allowed_origins)
