"""Ingestion benchmark: crawl + parse + index of the Python 3.11 documentation served locally,
beside a fetch-only baseline of the same pages, measured in the same run.

Run with ``uv run python bench/ingestion/run.py`` against the running local stack (Kafka,
PostgreSQL, Redis, OpenSearch). It installs Debian's python3.11-doc if missing, serves
/usr/share/doc/python3.11/html from a child process, and prints pages/s and the ratio
(target: the full pipeline at least half the fetch-only rate). Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from customer_agent_shared.clients import create_opensearch_client
from customer_agent_shared.embeddings import create_embedder
from customer_agent_shared.events.envelope import make_event
from customer_agent_shared.events.sources import SOURCE_SYNC, SourceCommand, SourceKind
from customer_agent_shared.persistence.database import create_database_engine
from customer_agent_shared.testing.kafka import unique_name
from ingestion_service.adapters.embedding_store import EmbeddingStore
from ingestion_service.adapters.safe_http import FetchLimits, FetchRefused, SafeFetcher
from ingestion_service.bootstrap import IngestionService, build_service
from ingestion_service.domain.network_policy import AddressPolicy, parse_networks
from ingestion_service.settings import IngestionSettings
from opensearchpy import AsyncOpenSearch
from sqlalchemy import text

DOC_ROOT = Path("/usr/share/doc/python3.11/html")
WARM_UP_PAGES = 100
HERE = Path(__file__).parent


def ensure_docs() -> None:
    """Install python3.11-doc with apt-get when the HTML documentation is missing."""
    if DOC_ROOT.is_dir():
        return
    if shutil.which("apt-get") is None:
        sys.exit(f"{DOC_ROOT} is missing and apt-get is not available; install python3.11-doc")
    prefix = [] if os.geteuid() == 0 else ["sudo"]
    install = [*prefix, "apt-get", "install", "-y", "python3.11-doc"]
    if subprocess.run(install, check=False).returncode != 0:
        subprocess.run([*prefix, "apt-get", "update"], check=True)
        subprocess.run(install, check=True)


def page_paths(limit: int) -> list[str]:
    """Relative paths of the documentation's HTML pages (sorted, at most ``limit``)."""
    paths = sorted(str(path.relative_to(DOC_ROOT)) for path in DOC_ROOT.rglob("*.html") if path.is_file())
    return paths[:limit]


@dataclass(frozen=True)
class CpuTime:
    """CPU seconds used so far by this process, its child processes (site server, page parsers) and OpenSearch."""

    own: float
    children: float
    opensearch: float

    def __sub__(self, other: CpuTime) -> CpuTime:
        return CpuTime(self.own - other.own, self.children - other.children, self.opensearch - other.opensearch)

    def line(self, wall: float) -> str:
        """A report line for a phase that took ``wall`` seconds."""
        cores = os.cpu_count() or 1
        return (
            f"CPU s: this process {self.own:.1f}, child processes {self.children:.1f}, OpenSearch "
            f"{self.opensearch:.1f} (of {cores} cores x {wall:.1f} s = {cores * wall:.1f})"
        )


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found += [child, *_descendants(child)]
    return found


def _process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def cpu_time(opensearch: AsyncOpenSearch) -> CpuTime:
    """A snapshot of ``CpuTime`` (Linux /proc for the processes, node stats for OpenSearch)."""
    stats = await opensearch.nodes.stats(metric="process")
    millis = sum(node["process"]["cpu"]["total_in_millis"] for node in stats["nodes"].values())
    children = sum(_process_cpu(pid) for pid in _descendants(os.getpid()))
    return CpuTime(time.process_time(), children, millis / 1000)


async def fetch_only(urls: list[str], concurrency: int, opensearch: AsyncOpenSearch) -> tuple[int, int, float, CpuTime]:
    """Fetch every URL with the crawler's own HTTP client and nothing else: (pages, bytes, seconds, CPU)."""
    fetcher = SafeFetcher(
        AddressPolicy(parse_networks("127.0.0.0/8")), user_agent="bench", limits=FetchLimits(max_bytes=20_000_000)
    )
    queue: asyncio.Queue[str] = asyncio.Queue()
    for url in urls:
        queue.put_nowait(url)
    pages = size = 0

    async def worker() -> None:
        nonlocal pages, size
        while not queue.empty():
            url = queue.get_nowait()
            try:
                result = await fetcher.fetch(url)
            except FetchRefused:
                continue
            pages += result.status_code == 200
            size += len(result.body)

    cpu = await cpu_time(opensearch)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    cpu = await cpu_time(opensearch) - cpu
    await fetcher.aclose()
    return pages, size, elapsed, cpu


@dataclass(frozen=True)
class EmbeddingRun:
    """How fast the chunks got their vectors after the sync (measured for at most a window)."""

    embedded: int
    total: int
    seconds: float
    cpu_seconds: float

    def line(self) -> str:
        """One report line, with the time all chunks would take at the measured rate."""
        rate = self.embedded / self.seconds if self.seconds else 0.0
        projected = self.total / rate if rate else float("inf")
        per_chunk = 1000 * self.cpu_seconds / self.embedded if self.embedded else float("nan")
        return (
            f"{self.embedded} of {self.total} chunks in {self.seconds:.0f} s = {rate:.2f} chunks/s, "
            f"{per_chunk:.0f} ms CPU per chunk; all {self.total} in {projected / 60:.1f} min at this rate"
        )


async def measure_embedding(service: IngestionService, window_seconds: float) -> EmbeddingRun:
    """Wait until every chunk has its vector, or ``window_seconds`` pass; count what got done."""
    assert service.kernel.opensearch is not None
    store = EmbeddingStore(service.kernel.opensearch, write_alias=service.settings.content_write_alias)
    embedder = create_embedder(service.settings)
    assert embedder is not None
    model_id = embedder.model_id
    # The vectors are computed in this process (a thread of the service running in-process).
    total = int((await service.kernel.opensearch.count(index=service.settings.content_write_alias))["count"])
    pending_at_start = await store.pending(model_id)
    cpu = _process_cpu(os.getpid())
    started = time.perf_counter()
    pending = pending_at_start
    while pending and time.perf_counter() - started < window_seconds:
        await asyncio.sleep(5.0)
        pending = await store.pending(model_id)
    if not total:
        return EmbeddingRun(0, 0, 0.0, 0.0)
    elapsed = time.perf_counter() - started
    return EmbeddingRun(pending_at_start - pending, pending_at_start, elapsed, _process_cpu(os.getpid()) - cpu)


async def full_pipeline(
    start_url: str, page_count: int, concurrency: int, *, embeddings: str = "builtin", embed_window: float = 0.0
) -> tuple[int, int, int, float, CpuTime, EmbeddingRun | None]:
    """Crawl + parse + chunk + index through the real service, the vectors computing in the background as
    in production: (fetched, documents, chunks, seconds, CPU, then the vectors' run within a window)."""
    schema = unique_name("bench_ingestion").replace("-", "_")
    index = unique_name("bench-chunks")
    settings = IngestionSettings(
        service_name=unique_name("ingestion-bench"),
        database_schema=schema,
        consumer_group=unique_name("ingestion-bench"),
        consumer_offset_reset="latest",
        content_index=index,
        content_read_alias=f"{index}-read",
        content_write_alias=f"{index}-write",
        allowed_private_networks="127.0.0.0/8",
        host_delay_seconds=0.0,
        host_concurrency=concurrency,
        max_urls_per_source=page_count,
        max_page_bytes=20_000_000,
        log_level="WARNING",
        embeddings=embeddings,
    )
    service = build_service(settings)
    # The handlers are called directly (see bench/quality); the relay stays: publishing the statuses of the
    # benchmark's own account is part of the measured pipeline.
    service.kernel.lifecycle.remove("kafka consumers")
    account = unique_name("bench")
    command = SourceCommand(
        account_id=account, source_id="python-docs", kind=SourceKind.URL, url=start_url, import_related=True
    )
    try:
        async with service.kernel.lifecycle.running():
            assert service.kernel.opensearch is not None
            cpu = await cpu_time(service.kernel.opensearch)
            started = time.perf_counter()
            await service.commands.handle(make_event(SOURCE_SYNC, command, source="bench", account_id=account))
            # Wait on the runner's task: polling the database every 50 ms cost ~0.2 CPU s of this process.
            await service.runner.wait(account, "python-docs")
            elapsed = time.perf_counter() - started
            async with service.unit_of_work() as uow:
                record = await uow.sources.get(account, "python-docs")
            if record is None or record.state not in ("ready", "failed"):
                raise SystemExit(f"the sync ended without a final state: {record}")
            cpu = await cpu_time(service.kernel.opensearch) - cpu
            async with service.unit_of_work() as uow:
                documents = await uow.documents.for_source(account, "python-docs")
            vectors = await measure_embedding(service, embed_window) if service.backfill and embed_window else None
            await service.store.drop()
            if record.state != "ready":
                raise SystemExit(f"sync failed: {record.error}")
            return len(documents), record.documents, record.chunks, elapsed, cpu, vectors
    finally:
        engine = create_database_engine(settings.database_url, pool_size=1)
        async with engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


@dataclass(frozen=True)
class Measurement:
    """Both runs over the same pages."""

    pages: int
    size: int
    fetch_seconds: float
    fetch_cpu: CpuTime
    fetched: int
    documents: int
    chunks: int
    full_seconds: float
    full_cpu: CpuTime
    embedding: EmbeddingRun | None


async def measure(urls: list[str], start_url: str, concurrency: int, embed_window: float) -> Measurement:
    """Fetch-only baseline, then the full pipeline, over the same pages."""
    opensearch = create_opensearch_client(IngestionSettings().opensearch_url)
    try:
        await fetch_only(urls[:50], concurrency, opensearch)  # warm the server's file cache
        pages, size, fetch_seconds, fetch_cpu = await fetch_only(urls, concurrency, opensearch)
    finally:
        await opensearch.close()
    # Unmeasured: a JVM that has just started spends its first indexing runs compiling the analysis and
    # indexing code (OpenSearch used 20.6, 9.8, 8.1 and 6.7 CPU s in four runs in a row after a start).
    await full_pipeline(start_url, WARM_UP_PAGES, concurrency, embeddings="off")
    fetched, documents, chunks, full_seconds, full_cpu, vectors = await full_pipeline(
        start_url, len(urls), concurrency, embed_window=embed_window
    )
    return Measurement(
        pages, size, fetch_seconds, fetch_cpu, fetched, documents, chunks, full_seconds, full_cpu, vectors
    )


def main() -> int:
    """Run both measurements and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--pages", type=int, default=600, help="pages to crawl at most (the docs have ~530)")
    parser.add_argument("--concurrency", type=int, default=8, help="parallel requests, the same in both runs")
    parser.add_argument(
        "--embed-window",
        type=float,
        default=300.0,
        help="seconds to measure the vectors' progress after the sync (0: skip); the rest is projected",
    )
    args = parser.parse_args()
    ensure_docs()
    paths = page_paths(args.pages)
    if len(paths) < 500:
        sys.exit(f"only {len(paths)} pages under {DOC_ROOT}; the benchmark needs at least 500")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        listing.write("\n".join(paths))
    server = subprocess.Popen(
        [sys.executable, str(HERE / "site_server.py"), str(DOC_ROOT), listing.name], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        base = f"http://127.0.0.1:{int(server.stdout.readline())}"
        urls = [f"{base}/{path}" for path in paths]
        result = asyncio.run(measure(urls, f"{base}/index.html", args.concurrency, args.embed_window))
    finally:
        server.terminate()
        server.wait()
        os.unlink(listing.name)
    fetch_rate = result.pages / result.fetch_seconds
    full_rate = result.fetched / result.full_seconds
    print(f"pages served:        {len(paths)} ({result.size / 1e6:.1f} MB) from {DOC_ROOT}")
    print(f"fetch-only baseline: {result.pages} pages in {result.fetch_seconds:.2f} s = {fetch_rate:.1f} pages/s")
    print(f"                     {result.fetch_cpu.line(result.fetch_seconds)}")
    print(
        f"crawl+parse+index:   {result.fetched} pages in {result.full_seconds:.2f} s = {full_rate:.1f} pages/s "
        f"({result.documents} documents, {result.chunks} chunks)"
    )
    print(f"                     {result.full_cpu.line(result.full_seconds)}")
    ratio = full_rate / fetch_rate
    print(f"ratio:               {ratio:.2f} (target >= 0.50: {'met' if ratio >= 0.5 else 'NOT met'})")
    if result.embedding is not None:
        print(f"vectors after sync:  {result.embedding.line()} (target: all within 20 min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
