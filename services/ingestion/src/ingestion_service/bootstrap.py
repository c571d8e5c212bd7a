"""Wires ingestion: settings → stores → Kafka → use cases → entrypoints, and the process lifecycle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from customer_agent_shared.content_index import AccountScopedSearch
from customer_agent_shared.embeddings import BuiltinEmbedder, Embedder, OpenAICompatibleEmbedder, create_embedder
from customer_agent_shared.events.sources import SourceKind
from customer_agent_shared.kernel import (
    ServiceKernel,
    build_kernel,
    create_operations_app,
    start_consumers_last,
)
from customer_agent_shared.topics import CONTENT_EVENTS, SOURCES_COMMANDS
from customer_agent_shared.uploads import postgres as upload_store
from fastapi import FastAPI
from opensearchpy import AsyncOpenSearch

from ingestion_service.adapters.content_store import ContentStore
from ingestion_service.adapters.crawler import Crawler, CrawlOptions
from ingestion_service.adapters.embedding_store import EmbeddingStore
from ingestion_service.adapters.file_parsers import FileLimits
from ingestion_service.adapters.language import warm_up
from ingestion_service.adapters.metrics import FILE_BACKLOG
from ingestion_service.adapters.orm import SCHEMA, inbox_table, outbox_table
from ingestion_service.adapters.politeness import HostPoliteness
from ingestion_service.adapters.safe_http import FetchLimits, SafeFetcher
from ingestion_service.adapters.sync_lock import SyncLeases
from ingestion_service.adapters.unit_of_work import IngestionUnitOfWork
from ingestion_service.domain.network_policy import AddressPolicy, parse_networks
from ingestion_service.entrypoints.kafka_subscribers import register_subscribers
from ingestion_service.handlers.articles import ArticleIndexing
from ingestion_service.handlers.embedding import EmbeddingBackfill
from ingestion_service.handlers.embedding_progress import EmbeddingProgress
from ingestion_service.handlers.file_sync import FileSync
from ingestion_service.handlers.indexing import DocumentIndexer
from ingestion_service.handlers.scheduler import ResyncScheduler
from ingestion_service.handlers.source_commands import SourceCommands
from ingestion_service.handlers.sync_runner import SyncRunner
from ingestion_service.handlers.website_sync import WebsiteSync
from ingestion_service.settings import IngestionSettings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
TITLE = "Customer Agent ingestion"
DESCRIPTION = "Crawls, parses, chunks and indexes content sources."


@dataclass
class IngestionService:
    """Everything one ingestion process holds."""

    kernel: ServiceKernel
    settings: IngestionSettings
    store: ContentStore
    search: AccountScopedSearch
    fetcher: SafeFetcher
    runner: SyncRunner
    files: SyncRunner
    """Uploaded files waiting for their parse (a ``FileSync`` each)."""
    scheduler: ResyncScheduler
    commands: SourceCommands
    articles: ArticleIndexing
    backfill: EmbeddingBackfill | None = None

    def unit_of_work(self) -> IngestionUnitOfWork:
        """A new unit of work over ingestion's schema."""
        return IngestionUnitOfWork(
            self.kernel.session_factory, outbox=outbox_table, inbox=inbox_table, relay=self.kernel.relay
        )


def crawl_options(settings: IngestionSettings) -> CrawlOptions:
    """Crawler knobs from the settings."""
    return CrawlOptions(
        user_agent=settings.user_agent,
        max_urls=settings.max_urls_per_source,
        workers=settings.host_concurrency,
        max_seconds=settings.max_crawl_seconds,
        respect_crawl_delay=settings.respect_crawl_delay,
    )


def build_fetcher(settings: IngestionSettings) -> SafeFetcher:
    """The SSRF-safe fetcher configured from the settings."""
    return SafeFetcher(
        AddressPolicy(parse_networks(settings.allowed_private_networks)),
        user_agent=settings.user_agent,
        limits=FetchLimits(
            max_bytes=settings.max_page_bytes,
            max_redirects=settings.max_redirects,
            timeout_seconds=settings.request_timeout_seconds,
        ),
    )


def build_store(settings: IngestionSettings, opensearch: AsyncOpenSearch, embedder: Embedder | None) -> ContentStore:
    """The content index's writer, with a vector field when chunks are embedded."""
    return ContentStore(
        opensearch,
        index=settings.content_index,
        read_alias=settings.content_read_alias,
        write_alias=settings.content_write_alias,
        embedding_dimension=embedder.dimension if embedder else None,
        bulk_max_chunks=settings.bulk_batch_chunks,
        bulk_max_bytes=settings.bulk_max_bytes,
    )


def build_file_sync(
    settings: IngestionSettings,
    kernel: ServiceKernel,
    unit_of_work: Callable[[], IngestionUnitOfWork],
    indexer: DocumentIndexer,
) -> FileSync:
    """Uploaded files' parse and indexing, a run retried as the consumers retry a handler."""
    return FileSync(
        unit_of_work,
        indexer,
        file_limits(settings),
        max_parse_attempts=settings.parse_attempts,
        retry=kernel.reliable.retry,
    )


def build_service(settings: IngestionSettings | None = None) -> IngestionService:
    """Build (not start) an ingestion process."""
    settings = settings or IngestionSettings()
    kernel = build_kernel(
        settings,
        schema=SCHEMA,
        outbox=outbox_table,
        inbox=inbox_table,
        migrations_dir=MIGRATIONS_DIR,
        use_opensearch=True,
        schemas={upload_store.SCHEMA: settings.upload_schema},
    )
    assert kernel.opensearch is not None
    embedder = create_embedder(settings)
    store = build_store(settings, kernel.opensearch, embedder)

    def unit_of_work() -> IngestionUnitOfWork:
        return IngestionUnitOfWork(kernel.session_factory, outbox=outbox_table, inbox=inbox_table, relay=kernel.relay)

    indexer = DocumentIndexer(store, chunk_chars=settings.chunk_chars, overlap_chars=settings.chunk_overlap_chars)
    fetcher = build_fetcher(settings)
    crawler = build_crawler(settings, fetcher)
    leases = SyncLeases(kernel.redis, prefix=settings.service_name)
    runner = SyncRunner(
        website_sync(settings, unit_of_work, crawler, indexer),
        settings.max_concurrent_syncs,
        leases,
        max_per_account=settings.max_syncs_per_account,
    )
    file_sync = build_file_sync(settings, kernel, unit_of_work, indexer)
    files = file_runner(settings, file_sync, kernel)
    commands = SourceCommands(
        unit_of_work,
        indexer,
        runner,
        files=file_sync,
        file_runner=files,
        consumer=f"{settings.consumer_group}:{SOURCES_COMMANDS}",
    )
    service = IngestionService(
        kernel=kernel,
        settings=settings,
        store=store,
        search=AccountScopedSearch(kernel.opensearch, index=settings.content_read_alias),
        fetcher=fetcher,
        runner=runner,
        files=files,
        scheduler=ResyncScheduler(unit_of_work, runner, settings.scheduler_interval_seconds, files=files),
        commands=commands,
        articles=ArticleIndexing(
            unit_of_work,
            indexer,
            consumer=f"{settings.consumer_group}:{CONTENT_EVENTS}",
            parser=crawler.workers,  # the crawl's page workers: bounded, and never a second pool's memory
            max_body_bytes=settings.max_article_bytes,
        ),
        backfill=build_backfill(settings, kernel.opensearch, embedder, unit_of_work, leases) if embedder else None,
    )
    _add_ingestion_steps(service, crawler=crawler, embedder=embedder, unit_of_work=unit_of_work)
    register_subscribers(
        kernel.broker, commands, service.articles, settings.consumer_group, settings.consumer_offset_reset
    )
    start_consumers_last(kernel)
    return service


def build_crawler(settings: IngestionSettings, fetcher: SafeFetcher) -> Crawler:
    """The crawler: polite per host, parsing in time-bounded page workers."""
    return Crawler(
        fetcher,
        HostPoliteness(settings.host_concurrency, settings.host_delay_seconds),
        parse_workers=settings.parse_workers,
        parse_timeout_seconds=settings.page_parse_timeout_seconds,
        parse_memory_bytes=settings.page_parse_memory_bytes,
    )


def website_sync(
    settings: IngestionSettings,
    unit_of_work: Callable[[], IngestionUnitOfWork],
    crawler: Crawler,
    indexer: DocumentIndexer,
) -> WebsiteSync:
    """The use case crawling and indexing one website source."""
    return WebsiteSync(
        unit_of_work,
        crawler,
        indexer,
        crawl_options(settings),
        batch_chunks=settings.bulk_batch_chunks,
        progress_interval_seconds=settings.progress_interval_seconds,
        progress_every_pages=settings.progress_every_pages,
    )


def file_runner(settings: IngestionSettings, sync: FileSync, kernel: ServiceKernel) -> SyncRunner:
    """The background runner parsing uploaded files, a few at once and fewer of one account."""
    return SyncRunner(
        sync,
        settings.max_concurrent_file_parses,
        SyncLeases(kernel.redis, prefix=f"{settings.service_name}:file"),
        max_per_account=settings.max_file_parses_per_account,
        backlog=FILE_BACKLOG,
        name="file parse",
    )


def file_limits(settings: IngestionSettings) -> FileLimits:
    """What an uploaded file may be and cost to parse, from the settings."""
    return FileLimits(
        max_file_bytes=settings.max_file_bytes,
        max_unzipped_bytes=settings.max_unzipped_bytes,
        max_zip_ratio=settings.max_zip_ratio,
        max_zip_members=settings.max_zip_members,
        max_text_ratio=settings.max_text_ratio,
        max_text_chars=settings.max_text_chars,
        parse_memory_bytes=settings.parse_memory_bytes,
        parse_cpu_seconds=settings.parse_cpu_seconds,
        parse_timeout_seconds=settings.parse_timeout_seconds,
    )


def _add_ingestion_steps(
    service: IngestionService,
    *,
    crawler: Crawler,
    embedder: BuiltinEmbedder | OpenAICompatibleEmbedder | None,
    unit_of_work: Callable[[], IngestionUnitOfWork],
) -> None:
    """Start-up and shutdown steps of ingestion's own parts, after the plumbing's."""
    lifecycle = service.kernel.lifecycle

    async def prepare_index() -> None:
        await service.store.ensure_index()
        await asyncio.to_thread(warm_up)

    async def start_runner() -> None:
        await service.runner.resume(unit_of_work)
        await service.files.resume(unit_of_work, kind=SourceKind.FILE)

    lifecycle.add("content index", prepare_index)
    lifecycle.add("crawler http client", None, service.fetcher.aclose)
    lifecycle.add("page workers", crawler.workers.start, crawler.workers.aclose)

    async def stop_runners() -> None:
        await service.runner.stop()
        await service.files.stop()

    lifecycle.add("sync runners", start_runner, stop_runners)
    lifecycle.add("re-sync scheduler", service.scheduler.start, service.scheduler.stop)
    if embedder is not None and service.backfill is not None:
        lifecycle.add("embedding model", embedder.start, embedder.aclose)
        lifecycle.add("embedding backfill", service.backfill.start, service.backfill.stop)


def build_backfill(
    settings: IngestionSettings,
    opensearch: AsyncOpenSearch,
    embedder: Embedder,
    unit_of_work: Callable[[], IngestionUnitOfWork],
    leases: SyncLeases,
) -> EmbeddingBackfill:
    """The background use case that gives chunks their vectors (one replica at a time)."""
    store = EmbeddingStore(opensearch, write_alias=settings.content_write_alias)
    return EmbeddingBackfill(
        store,
        embedder,
        batch_size=settings.embedding_batch_chunks,
        max_chars=settings.embedding_max_chars,
        idle_seconds=settings.embedding_idle_seconds,
        progress=EmbeddingProgress(unit_of_work, store),
        lease=leases.hold_embedding,
    )


def asyncapi_document(service: IngestionService) -> str:
    """The AsyncAPI document of ingestion's topics, as JSON."""
    return service.kernel.asyncapi_document(TITLE, DESCRIPTION)


def create_app(settings: IngestionSettings | None = None) -> FastAPI:
    """The ASGI app: operations endpoints, with Kafka consumers running in its lifespan."""
    return create_operations_app(build_service(settings).kernel, title=TITLE, description=DESCRIPTION)
