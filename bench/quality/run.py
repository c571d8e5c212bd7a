"""Answer-quality benchmark over a real documentation corpus: the Python 3.11 docs (Debian python3.11-doc),
served locally and ingested through the ingestion service, then asked the labelled questions in
``questions.json`` (English, Danish, Dutch, German; some unanswerable).

Reports hit@1 and hit@3 of the first citation and the abstention rate on unanswerable questions for
conversation's retrieval (language-aware BM25 + lexicon + support ranking) beside a plain BM25
baseline (one multi_match of the raw question over title and body) on the same index, in the same run.
Targets: hit@1 at least 10 points above the baseline; abstention on unanswerable questions >= 90%.

Run with ``uv run python bench/quality/run.py`` against the running local stack. ``--keep`` leaves
the index in place and prints how to reuse it (``--reuse ALIAS --account ID``) for quicker reruns.
Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from conversation_service.adapters.content_search import ContentSearch
from conversation_service.domain.composer import citations_for
from conversation_service.domain.retrieval import analyze_question, is_supported, rank_passages
from conversation_service.settings import ConversationSettings
from customer_agent_shared.clients import create_opensearch_client
from customer_agent_shared.content_index import AccountScopedSearch
from customer_agent_shared.events.envelope import make_event
from customer_agent_shared.events.sources import SOURCE_SYNC, SourceCommand, SourceKind
from customer_agent_shared.persistence.database import create_database_engine
from customer_agent_shared.testing.kafka import unique_name
from ingestion_service.bootstrap import build_service as build_ingestion
from ingestion_service.settings import IngestionSettings
from sqlalchemy import text

HERE = Path(__file__).parent
DOC_ROOT = Path("/usr/share/doc/python3.11/html")
SITE_SERVER = HERE.parent / "ingestion" / "site_server.py"


def ensure_docs() -> None:
    """Install python3.11-doc with apt-get when the HTML documentation is missing."""
    if DOC_ROOT.is_dir():
        return
    prefix = [] if os.geteuid() == 0 else ["sudo"]
    install = [*prefix, "apt-get", "install", "-y", "python3.11-doc"]
    if subprocess.run(install, check=False).returncode != 0:
        subprocess.run([*prefix, "apt-get", "update"], check=True)
        subprocess.run(install, check=True)


def serve_docs(pages: int) -> tuple[subprocess.Popen[str], str]:
    """Start the static server over the docs (child process); return it and its page-list file."""
    paths = sorted(str(path.relative_to(DOC_ROOT)) for path in DOC_ROOT.rglob("*.html"))[:pages]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        listing.write("\n".join(paths))
    server = subprocess.Popen(
        [sys.executable, str(SITE_SERVER), str(DOC_ROOT), listing.name], stdout=subprocess.PIPE, text=True
    )
    return server, listing.name


async def ingest(base_url: str, account: str, pages: int) -> tuple[str, IngestionSettings]:
    """Crawl and index the served docs through the ingestion service; return the read alias."""
    index = unique_name("bench-quality-chunks")
    settings = IngestionSettings(
        service_name=unique_name("ingestion-quality"),
        database_schema=unique_name("bench_quality").replace("-", "_"),
        consumer_group=unique_name("ingestion-quality"),
        consumer_offset_reset="latest",
        content_index=index,
        content_read_alias=f"{index}-read",
        content_write_alias=f"{index}-write",
        allowed_private_networks="127.0.0.0/8",
        host_delay_seconds=0.0,
        host_concurrency=8,
        max_urls_per_source=pages,
        max_page_bytes=20_000_000,
        log_level="WARNING",
    )
    service = build_ingestion(settings)
    command = SourceCommand(
        account_id=account, source_id="python-docs", kind=SourceKind.URL, url=f"{base_url}/index.html",
        import_related=True,
    )  # fmt: skip
    async with service.kernel.lifecycle.running():
        started = time.perf_counter()
        await service.commands.handle(make_event(SOURCE_SYNC, command, source="bench", account_id=account))
        while True:
            async with service.unit_of_work() as uow:
                record = await uow.sources.get(account, "python-docs")
            if record and record.state in ("ready", "failed") and not service.runner.running(account, "python-docs"):
                break
            await asyncio.sleep(0.2)
        if record.state != "ready":
            raise SystemExit(f"ingestion failed: {record.error}")
        print(f"ingested {record.documents} pages, {record.chunks} chunks in {time.perf_counter() - started:.0f} s")
    engine = create_database_engine(settings.database_url, pool_size=1)
    async with engine.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA IF EXISTS "{settings.database_schema}" CASCADE'))
    await engine.dispose()
    return settings.content_read_alias, settings


def page_of(url: str) -> str:
    """The documentation path of a cited URL ('library/json.html')."""
    return urlparse(url).path.lstrip("/")


def matches(page: str, expected: list[str]) -> bool:
    """True when ``page`` is one of the expected pages (a trailing '*' is a prefix)."""
    return any(page.startswith(item[:-1]) if item.endswith("*") else page == item for item in expected)


@dataclass
class Score:
    """Counts for one system."""

    hit1: int = 0
    hit3: int = 0
    answerable: int = 0
    abstained_unanswerable: int = 0
    unanswerable: int = 0
    abstained_answerable: int = 0

    def line(self, name: str) -> str:
        """One report line."""
        return (
            f"{name:<30} hit@1 {100 * self.hit1 / self.answerable:5.1f}%"
            f"   hit@3 {100 * self.hit3 / self.answerable:5.1f}%"
            f"   abstention on unanswerable {100 * self.abstained_unanswerable / max(1, self.unanswerable):5.1f}%"
            f"   abstention on answerable {100 * self.abstained_answerable / self.answerable:5.1f}%"
        )


def record(score: Score, pages: list[str], expected: list[str]) -> None:
    """Count one question: ``pages`` are the cited pages in order, empty when the system abstained."""
    if expected:
        score.answerable += 1
        score.hit1 += bool(pages) and matches(pages[0], expected)
        score.hit3 += any(matches(page, expected) for page in pages[:3])
        score.abstained_answerable += not pages
    else:
        score.unanswerable += 1
        score.abstained_unanswerable += not pages


def distinct(urls: list[str]) -> list[str]:
    """Pages in order, each once."""
    seen: dict[str, None] = {}
    for url in urls:
        seen.setdefault(page_of(url), None)
    return list(seen)


def load_questions() -> list[dict[str, Any]]:
    """The labelled questions."""
    questions: list[dict[str, Any]] = json.loads((HERE / "questions.json").read_text())["questions"]
    return questions


async def evaluate(alias: str, account: str, verbose: bool) -> tuple[Score, Score]:
    """Ask every question of both systems."""
    questions = load_questions()
    settings = ConversationSettings()
    client = create_opensearch_client(settings.opensearch_url)
    ours, baseline = Score(), Score()
    try:
        search = ContentSearch(client, alias)
        plain = AccountScopedSearch(client, alias)
        for item in questions:
            terms = analyze_question(item["q"], item["lang"])
            retrieval = await search.retrieve(account, terms, settings.retrieval_size)
            ranked = rank_passages(terms, retrieval.passages, weights=retrieval.weights)
            supported = is_supported(
                ranked[0] if ranked else None,
                threshold=settings.support_threshold,
            )
            cited = [ref.url for ref in citations_for(ranked, threshold=0.0, limit=10)] if supported else []
            our_pages = distinct(cited)
            record(ours, our_pages, item["expected"])
            result = await plain.search(
                account, {"multi_match": {"query": item["q"], "fields": ["title", "body"]}}, size=10, _source=["url"]
            )
            base_pages = distinct([hit["_source"]["url"] for hit in result["hits"]["hits"]])
            record(baseline, base_pages, item["expected"])
            if verbose:
                mark = "ok " if (our_pages[:1] and matches(our_pages[0], item["expected"])) else "-- "
                best = f"{ranked[0].support:.2f}" if ranked else "-"
                print(f"{mark}{item['q'][:50]:<50} ours={our_pages[:2]} support={best} base={base_pages[:1]}")
    finally:
        await client.close()
    return ours, baseline


async def main() -> int:
    """Serve, ingest, evaluate, report."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=600, help="pages to crawl at most (the docs have ~530)")
    parser.add_argument("--reuse", help="an existing read alias to evaluate (skips ingestion)")
    parser.add_argument("--account", help="the account of --reuse")
    parser.add_argument("--keep", action="store_true", help="keep the index for --reuse")
    parser.add_argument("--verbose", action="store_true", help="print each question's result")
    args = parser.parse_args()
    ingestion: IngestionSettings | None = None
    if args.reuse:
        alias, account = args.reuse, args.account
    else:
        ensure_docs()
        account = unique_name("bench-quality")
        server, listing = serve_docs(args.pages)
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline())
            alias, ingestion = await ingest(f"http://127.0.0.1:{port}", account, args.pages)
        finally:
            server.terminate()
            server.wait()
            os.unlink(listing)
    try:
        ours, baseline = await evaluate(alias, account, args.verbose)
    finally:
        if ingestion is not None and not args.keep:
            client = create_opensearch_client(ingestion.opensearch_url)
            await client.indices.delete(index=ingestion.content_index, ignore_unavailable=True)
            await client.close()
        elif ingestion is not None:
            print(f"kept: --reuse {alias} --account {account}")
    print(f"questions: {ours.answerable} answerable, {ours.unanswerable} unanswerable")
    print(ours.line("conversation retrieval"))
    print(baseline.line("plain BM25 baseline"))
    gain = 100 * (ours.hit1 - baseline.hit1) / ours.answerable
    abstention = 100 * ours.abstained_unanswerable / max(1, ours.unanswerable)
    print(f"hit@1 gain over baseline: {gain:+.1f} points (target >= +10: {'met' if gain >= 10 else 'NOT met'})")
    print(f"abstention on unanswerable: {abstention:.1f}% (target >= 90%: {'met' if abstention >= 90 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
