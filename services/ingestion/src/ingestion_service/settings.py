"""Ingestion settings: ``INGESTION_*`` variables plus the shared infrastructure ones."""

from __future__ import annotations

from customer_agent_shared.content_index import READ_ALIAS, WRITE_ALIAS, concrete_index_name
from customer_agent_shared.embeddings import EmbeddingSettings
from customer_agent_shared.settings import ServiceSettings, UploadStoreSettings
from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from ingestion_service.adapters.bulk_batches import DEFAULT_BULK_MAX_BYTES
from ingestion_service.adapters.page_worker_pool import (
    DEFAULT_MEMORY_BYTES,
    DEFAULT_PARSE_WORKERS,
    DEFAULT_TIMEOUT_SECONDS,
)
from ingestion_service.adapters.parse_limits import MIB
from ingestion_service.domain.network_policy import parse_networks
from ingestion_service.handlers.articles import DEFAULT_MAX_BODY_BYTES


class IngestionSettings(ServiceSettings, EmbeddingSettings, UploadStoreSettings):
    """Everything the ingestion service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="INGESTION_", extra="ignore", populate_by_name=True)

    service_name: str = Field(default="ingestion", description="Name in logs, metrics and client ids.")
    http_port: int = Field(default=8001, ge=1, le=65535, description="Port of /metrics, /healthz, /readyz.")
    database_schema: str = Field(default="ingestion", description="PostgreSQL schema owned by ingestion.")
    consumer_group: str = Field(default="ingestion", description="Kafka consumer group prefix (<prefix>.<topic>).")

    # Content index (tests use throwaway names).
    content_index: str = Field(default_factory=concrete_index_name, description="Concrete chunk index name.")
    content_read_alias: str = Field(default=READ_ALIAS, description="Alias every read goes through.")
    content_write_alias: str = Field(default=WRITE_ALIAS, description="Alias every write goes through.")
    bulk_batch_chunks: int = Field(default=500, ge=1, description="Chunks per bulk request, at most.")
    bulk_max_bytes: int = Field(
        default=DEFAULT_BULK_MAX_BYTES,
        ge=64 * 1024,
        description="Bytes per bulk request, at most (below OpenSearch's http.max_content_length); a chunk larger "
        "than this alone fails its document.",
    )

    # Crawler safety and limits.
    allowed_private_networks: str = Field(
        default="", description="CIDRs the crawler may reach although private/loopback (comma-separated)."
    )
    user_agent: str = Field(default="CustomerAgentBot/1.0 (+https://example.invalid/bot)", description="User-Agent.")
    max_urls_per_source: int = Field(default=1000, ge=1, description="URLs crawled per source at most.")
    max_page_bytes: int = Field(default=5_000_000, ge=1024, description="Largest page body read.")
    max_redirects: int = Field(default=5, ge=0, description="Redirects followed per request.")
    request_timeout_seconds: float = Field(default=15.0, gt=0, description="Timeout of one HTTP request.")
    max_crawl_seconds: float = Field(default=3600.0, gt=0, description="Longest a website sync may run.")
    host_concurrency: int = Field(default=4, ge=1, description="Parallel requests per host.")
    host_delay_seconds: float = Field(default=0.25, ge=0, description="Minimum gap between request starts per host.")
    respect_crawl_delay: bool = Field(default=True, description="Honour robots.txt Crawl-delay (capped at 10 s).")
    parse_workers: int = Field(
        default=DEFAULT_PARSE_WORKERS,
        ge=0,
        description="Processes parsing crawled pages, robots.txt files and sitemaps (0: in the event loop).",
    )
    page_parse_timeout_seconds: float = Field(
        default=DEFAULT_TIMEOUT_SECONDS,
        gt=0,
        description="Longest a page worker may spend on one crawled page, robots.txt or sitemap; then it is "
        "killed and replaced and the page fails (with INGESTION_PARSE_WORKERS=0: no limit).",
    )
    page_parse_memory_bytes: int = Field(
        default=DEFAULT_MEMORY_BYTES,
        ge=320 * MIB,
        description="Address-space limit (RLIMIT_AS) of each page worker; a page whose parse needs more fails "
        "alone and its worker is replaced. The pod's memory limit must hold every worker plus the service.",
    )

    max_article_bytes: int = Field(
        default=DEFAULT_MAX_BODY_BYTES,
        ge=1024,
        description="Largest knowledge-base article body (body_html, UTF-8) parsed; a larger one is not indexed, "
        "its refusal is reported on the knowledge base's status and its event dead-lettered.",
    )

    # Files.
    max_file_bytes: int = Field(default=25_000_000, ge=1, description="Largest uploaded file parsed.")
    max_unzipped_bytes: int = Field(default=100_000_000, ge=1, description="docx/pptx: total uncompressed size cap.")
    max_zip_ratio: float = Field(default=100.0, gt=1, description="docx/pptx: largest compression ratio of a member.")
    max_zip_members: int = Field(default=2000, ge=1, description="docx/pptx: most members in the archive.")
    max_text_ratio: float = Field(
        default=20.0, gt=0, description="Most characters of parsed text per byte of an uploaded file; beyond, refused."
    )
    max_text_chars: int = Field(
        default=25_000_000, ge=1000, description="Most characters of parsed text of one uploaded file; beyond, refused."
    )
    parse_memory_bytes: int = Field(
        default=256 * MIB,
        ge=64 * MIB,
        description="Address-space limit (RLIMIT_AS) of the process parsing one uploaded file. The pod's memory "
        "limit must hold it plus the service itself (about 550 MiB with the built-in embedding model).",
    )
    parse_cpu_seconds: int = Field(default=15, ge=1, description="CPU-time limit of the process parsing one file.")
    parse_timeout_seconds: float = Field(
        default=20.0, gt=0, description="Wall-clock limit of the process parsing one file (it is killed after it)."
    )
    parse_attempts: int = Field(
        default=2,
        ge=1,
        description="Parser processes started for one uploaded file before it fails: a parser stopped by a limit "
        "or a crash (or a service restart while parsing) counts as one.",
    )

    # Chunking.
    chunk_chars: int = Field(default=1200, ge=200, description="Target chunk size in characters.")
    chunk_overlap_chars: int = Field(default=200, ge=0, description="Overlap between consecutive chunks.")

    # Vectors (INGESTION_EMBEDDINGS and its companions choose the model; see EmbeddingSettings).
    embedding_batch_chunks: int = Field(default=16, ge=1, le=512, description="Chunks embedded per batch.")
    embedding_max_chars: int = Field(
        default=1500, ge=100, le=20_000, description="Characters of a chunk (headings first) its vector reads."
    )
    embedding_idle_seconds: float = Field(
        default=2.0, gt=0, description="How often new chunks are looked for when every chunk has its vector."
    )

    # Progress and scheduling.
    progress_interval_seconds: float = Field(default=1.0, gt=0, description="Most frequent progress report.")
    progress_every_pages: int = Field(default=25, ge=1, description="Report at least every this many pages.")
    max_concurrent_syncs: int = Field(default=4, ge=1, description="Website syncs running at once.")
    max_syncs_per_account: int = Field(
        default=2,
        ge=1,
        description="Website syncs of one account running at once (of max_concurrent_syncs): an account with many "
        "slow sites leaves the other slots to other accounts.",
    )
    max_concurrent_file_parses: int = Field(
        default=2,
        ge=1,
        description="Uploaded files parsed at once in the background, each in a parser process of up to "
        "parse_memory_bytes.",
    )
    max_file_parses_per_account: int = Field(
        default=1,
        ge=1,
        description="Uploaded files of one account parsed at once (of max_concurrent_file_parses): its slow or "
        "hostile files wait for each other, not other accounts' files.",
    )
    scheduler_interval_seconds: float = Field(default=60.0, gt=0, description="How often due re-syncs are looked for.")

    @field_validator("allowed_private_networks")
    @classmethod
    def _valid_networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    @model_validator(mode="after")
    def _parsing_fits_a_handler_attempt(self) -> IngestionSettings:
        if self.parse_timeout_seconds * self.parse_attempts >= self.handler_timeout_seconds:
            raise ValueError(
                "parse_timeout_seconds x parse_attempts must stay under handler_timeout_seconds: "
                "a file command parses its file up to parse_attempts times within one handler attempt"
            )
        return self
