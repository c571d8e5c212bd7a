"""Settings shared by every service; each service subclasses with its own prefix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]


class KafkaSecuritySettings(BaseSettings):
    """How every Kafka client of the code encrypts and authenticates; un-prefixed, shared by every service."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    kafka_security_protocol: KafkaSecurityProtocol = Field(
        default="PLAINTEXT",
        validation_alias="KAFKA_SECURITY_PROTOCOL",
        description="PLAINTEXT (local development only), SSL, SASL_PLAINTEXT or SASL_SSL: how the Kafka clients "
        "connect. SASL_* authenticate with SCRAM as KAFKA_SASL_USERNAME, whose ACLs grant only its own topics.",
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = Field(
        default="SCRAM-SHA-512",
        validation_alias="KAFKA_SASL_MECHANISM",
        description="SASL mechanism of the SASL_* protocols (Strimzi's KafkaUser uses SCRAM-SHA-512).",
    )
    kafka_sasl_username: str | None = Field(
        default=None,
        validation_alias="KAFKA_SASL_USERNAME",
        description="SCRAM user the service authenticates as (its KafkaUser); required by the SASL_* protocols.",
    )
    kafka_sasl_password: SecretStr | None = Field(
        default=None,
        validation_alias="KAFKA_SASL_PASSWORD",
        description="Password of KAFKA_SASL_USERNAME (on Kubernetes the Strimzi-created Secret of the user).",
    )
    kafka_ssl_cafile: str | None = Field(
        default=None,
        validation_alias="KAFKA_SSL_CAFILE",
        description="PEM file of the CA that signed the brokers' certificates (Strimzi's cluster CA); unset: "
        "the system's trusted CAs. Used by SSL and SASL_SSL.",
    )
    kafka_ssl_certfile: str | None = Field(
        default=None,
        validation_alias="KAFKA_SSL_CERTFILE",
        description="PEM client certificate for brokers that require mutual TLS (with KAFKA_SSL_KEYFILE).",
    )
    kafka_ssl_keyfile: str | None = Field(
        default=None,
        validation_alias="KAFKA_SSL_KEYFILE",
        description="PEM private key of KAFKA_SSL_CERTFILE.",
    )

    @model_validator(mode="after")
    def _complete(self) -> KafkaSecuritySettings:
        """Refuse a SASL protocol without credentials, or half a client certificate, at start-up."""
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_username and self.kafka_sasl_password and self.kafka_sasl_password.get_secret_value()
        ):
            raise ValueError(f"{self.kafka_security_protocol} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
        if (self.kafka_ssl_certfile is None) != (self.kafka_ssl_keyfile is None):
            raise ValueError("KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together")
        return self


class InfrastructureSettings(KafkaSecuritySettings):
    """Connection settings every service reads from un-prefixed environment variables.

    Subclasses set ``env_prefix`` (for example ``ROUTING_``) for their own fields;
    the fields below keep their exact shared names because each has an alias.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias="KAFKA_BOOTSTRAP_SERVERS",
        description="Comma-separated Kafka bootstrap servers.",
    )
    database_url: str = Field(
        default="postgresql+asyncpg://customer_agent:customer_agent@127.0.0.1:5432/customer_agent",
        validation_alias="DATABASE_URL",
        description="SQLAlchemy async URL of the PostgreSQL database; each service owns a schema.",
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias="REDIS_URL",
        description="Redis URL used for idempotency keys, locks, caches and rate limits.",
    )
    opensearch_url: str = Field(
        default="http://127.0.0.1:9200",
        validation_alias="OPENSEARCH_URL",
        description="OpenSearch base URL.",
    )
    topic_partitions: int = Field(
        default=6,
        validation_alias="KAFKA_TOPIC_PARTITIONS",
        ge=1,
        description="Partitions of keyed channel/conversation topics when the stack creates them.",
    )
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL", description="Root log level.")
    log_format: str = Field(
        default="json",
        validation_alias="LOG_FORMAT",
        description="'json' for structured logs (default), 'text' for a terminal.",
    )


def async_database_url(url: str) -> str:
    """Return the URL with the asyncpg driver, accepting plain ``postgresql://`` URLs too."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


class ServiceSettings(InfrastructureSettings):
    """Fields every service has; each service subclasses with its prefix and defaults."""

    service_name: str = Field(default="service", description="Name in logs, metrics and client ids.")
    http_host: str = Field(default="127.0.0.1", description="Bind address of the HTTP endpoints.")
    http_port: int = Field(default=8080, ge=1, le=65535, description="Port of /metrics, /healthz, /readyz.")
    database_schema: str = Field(default="public", description="PostgreSQL schema owned by the service.")
    consumer_group: str = Field(
        default="service", description="Kafka consumer group prefix: one group per subscribed topic, <prefix>.<topic>."
    )
    run_migrations_on_start: bool = Field(
        default=True, description="Apply Alembic migrations at start-up (a Job does it on Kubernetes)."
    )
    consumer_offset_reset: Literal["earliest", "latest"] = Field(
        default="earliest",
        description="Where a new consumer group starts: 'earliest' so a fresh deployment misses nothing.",
    )
    shutdown_grace_seconds: int = Field(
        default=25, ge=1, description="How long in-flight work may take to finish on SIGTERM."
    )
    offset_commit_interval_seconds: float = Field(
        default=0.2,
        ge=0,
        le=10,
        description="How often handled Kafka offsets are committed (0: after every message). Handlers claim "
        "each event id in PostgreSQL, so a crash before the commit only causes deduplicated redeliveries.",
    )
    gc_generation0_threshold: int = Field(
        default=10_000,
        ge=100,
        le=1_000_000,
        description="Allocations between collections of Python's youngest generation (Python's default is "
        "700). Start-up objects are also frozen out of collection, so a busy service rarely pauses for a "
        "full collection (figures: bench/pipeline/README.md).",
    )
    handler_timeout_seconds: float = Field(
        default=60.0,
        ge=1,
        le=240,
        description="Longest one attempt of a message handler (or of a batch's transaction) may run: a hung "
        "database, search or model call is cancelled, rolled back and retried as a dependency outage, but a "
        "message cut off 10 times in a row while every readiness check passed (its partition waiting behind "
        "it) is dead-lettered as a slow poison message. Kept well under Kafka's max.poll.interval (300 s), past "
        "which a consumer is dropped from its group.",
    )
    transient_retry_max_delay_seconds: float = Field(
        default=30.0,
        ge=0.1,
        le=120,
        description="Longest wait between retries of a message whose handler failed because a dependency was "
        "unavailable (connection error, timeout, 429/503, serialization conflict). Such a message is retried "
        "until the dependency is back, with its consumer's partitions paused; it is dead-lettered only after 10 "
        "attempts in a row cut off by the handler timeout while every dependency answered.",
    )
    blocked_consumer_unready_seconds: float = Field(
        default=30.0,
        ge=0,
        description="/readyz reports not ready, naming the topic and the dependency, while a consumer has "
        "been waiting longer than this for an unavailable dependency.",
    )
    redis_dedup: bool = Field(
        default=False,
        description="Also check and record handled event ids in Redis before the PostgreSQL inbox claim "
        "(two extra round trips per message; every handler already claims its event in its transaction).",
    )
    outbox_pass_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="Most payload bytes one outbox relay pass loads and sends (it always takes at least one row, "
        "and at most 200): bounds the relay's memory when rows are large.",
    )
    outbox_missing_topic_grace_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How long the outbox relay keeps retrying a row whose topic does not exist before it moves "
        "the row to outbox_dead (the topic may be created a little after the first event for it).",
    )
    inbox_retention_days: int = Field(
        default=14,
        ge=1,
        le=365,
        description="Days a handled event id stays in the inbox (processed_events), which drops a redelivered "
        "event: whole day partitions older than this are dropped. Keep it well above the longest consumer lag.",
    )
    maintenance_interval_seconds: float = Field(
        default=3600.0,
        ge=10,
        description="How often the inbox's coming day partitions are created and old ones dropped, "
        "published outbox rows of older versions removed, and the service's own retention sweep run, where it "
        "has one (in small chunks, off the relay's loop).",
    )


class BatchConsumerSettings(BaseSettings):
    """Mixed into the settings of services whose busiest topics use batch subscribers."""

    consumer_batch_size: int = Field(
        default=100,
        ge=1,
        le=1000,
        description="Most events of the busiest topics handled in one database transaction (what one Kafka "
        "fetch returned, so light traffic is never delayed); a failing batch is retried one event at a time.",
    )
    consumer_concurrency: int = Field(
        default=1,
        ge=1,
        le=16,
        description="Batches of each of the busiest topics handled at once, each by its own Kafka consumer of "
        "the group over its own partitions (order within a partition holds): one batch's database and search "
        "round trips overlap another's work, but each consumer's batches are smaller and every batch has a "
        "fixed cost, so on a machine whose cores are busy one consumer keeps latency lower.",
    )
    consumer_gather_ms: int = Field(
        default=0,
        ge=0,
        le=5000,
        description="How long Kafka may hold a fetch of the busiest topics to gather a full batch (0: return as "
        "soon as one record is there). Consumers off the reply path set it so that each batch's fixed cost is "
        "shared by many events, leaving the cores to the services a visitor waits on.",
    )


class UploadStoreSettings(BaseSettings):
    """Mixed into the settings of the services that use the upload store (admin-api writes, ingestion reads)."""

    upload_schema: str = Field(
        default="uploads",
        validation_alias="UPLOADS_DATABASE_SCHEMA",
        description="PostgreSQL schema of the upload store: uploaded files, stored once per account by their "
        "SHA-256 while a file source holds them; admin-api writes and migrates it, ingestion reads it.",
    )


def unknown_settings(settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> list[str]:
    """Variables of ``environ`` with the class's prefix that no setting reads: a typo or a removed setting."""
    prefix = str(settings_cls.model_config.get("env_prefix") or "").upper()
    if not prefix:
        return []
    known: set[str] = set()
    for name, field in settings_cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, str):
            known.add(alias.upper())
        elif isinstance(alias, AliasChoices):
            known.update(choice.upper() for choice in alias.choices if isinstance(choice, str))
        else:
            known.add(f"{prefix}{name.upper()}")
    return sorted(key for key in environ if key.upper().startswith(prefix) and key.upper() not in known)
