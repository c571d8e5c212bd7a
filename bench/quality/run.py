"""Answer-quality benchmark over three real documentation sets (see ``corpora.py``): the Python 3.11 docs,
the Debian installation guide in English, Danish, Dutch and German (one mixed-language account), and
aptitude's manual in English and Dutch. Each is served locally and ingested through the ingestion
service into its own account, then asked the labelled questions of ``questions.json`` (natural support
questions in en, da, nl, de; some unanswerable; see ``dataset.py``).

Two systems answer every question in the same run: the agent's answer pipeline (``AnswerEngine``, built
in ``build_engine``) and a plain BM25 baseline (one multi_match of the raw question over title and body,
always answering). ``scoring.py`` reports, per corpus, per language and overall: answered rate, hit@1,
hit@3, precision of the answers given, abstention on unanswerable questions, reply language and latency;
then the agent's coverage/precision curve over its confidence and the issue's targets.

Run with ``.venv/bin/python bench/quality/run.py`` against the running local stack. ``--keep`` leaves
the index in place and writes a state file (``--reuse STATE`` then skips ingestion). Not part of
``make test``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from admin_api.domain.handoff_defaults import DEFAULT_AVAILABILITY_MESSAGES
from conversation_service.adapters.bilingual_dictionary import read_lexicon
from conversation_service.bootstrap import build_answer_engine
from conversation_service.domain.composer import Persona
from conversation_service.domain.language import account_languages, choose_language
from conversation_service.handlers.answering import AnswerEngine
from conversation_service.settings import ConversationSettings
from customer_agent_shared.clients import create_opensearch_client
from customer_agent_shared.content_index import EMBEDDING_FIELD, AccountScopedSearch, account_filter
from customer_agent_shared.embeddings import create_embedder
from customer_agent_shared.events.envelope import make_event
from customer_agent_shared.events.sources import SOURCE_SYNC, SourceCommand, SourceKind
from customer_agent_shared.persistence.database import create_database_engine
from customer_agent_shared.testing.kafka import unique_name
from ingestion_service.bootstrap import IngestionService
from ingestion_service.bootstrap import build_service as build_ingestion
from ingestion_service.settings import IngestionSettings
from opensearchpy import AsyncOpenSearch
from sqlalchemy import text

if TYPE_CHECKING:  # see dataset.py
    from bench.quality.corpora import CORPORA, Corpus, ensure_installed, site_directory
    from bench.quality.dataset import Question, load_questions
    from bench.quality.scoring import (
        AGENT,
        BASELINE,
        Outcome,
        curve_lines,
        offer_lines,
        table,
        target_lines,
        verbose_line,
    )
else:
    from corpora import CORPORA, Corpus, ensure_installed, site_directory
    from dataset import Question, load_questions
    from scoring import AGENT, BASELINE, Outcome, curve_lines, offer_lines, table, target_lines, verbose_line

HERE = Path(__file__).parent
SITE_SERVER = HERE.parent / "ingestion" / "site_server.py"
DEFAULT_STATE = HERE.parent / "results" / "quality-state.json"
PROGRESS_SECONDS = 10.0
MISSING_EMBEDDING = {"bool": {"must_not": {"exists": {"field": EMBEDDING_FIELD}}}}


@dataclass(frozen=True)
class State:
    """Where the ingested corpora live: the index, its read alias and each corpus's account."""

    index: str
    alias: str
    accounts: dict[str, str]

    def save(self, path: Path) -> None:
        """Write the state file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> State:
        """Read a state file written by ``--keep``."""
        raw: dict[str, Any] = json.loads(path.read_text())
        return cls(index=raw["index"], alias=raw["alias"], accounts=dict(raw["accounts"]))


def build_engine(settings: ConversationSettings, client: AsyncOpenSearch) -> AnswerEngine:
    """The agent's answer pipeline over ``settings.content_index``, as the service builds it."""
    lexicon = read_lexicon(settings.dictionary_dir)
    return build_answer_engine(settings, client, embedder=create_embedder(settings), lexicon=lexicon)


def serve(corpus: Corpus, stack: ExitStack) -> str:
    """Serve the corpus's pages from a child process (stopped when ``stack`` closes); return its base URL."""
    directory = stack.enter_context(site_directory(corpus))
    root = Path(directory)
    server = subprocess.Popen(
        [sys.executable, str(SITE_SERVER), str(root), str(root / "pages.txt")], stdout=subprocess.PIPE, text=True
    )
    stack.callback(server.wait)
    stack.callback(server.terminate)
    assert server.stdout is not None
    return f"http://127.0.0.1:{int(server.stdout.readline())}"


def ingestion_settings(max_pages: int) -> IngestionSettings:
    """A throwaway schema and a fresh index for this run."""
    index = unique_name("bench-quality-chunks")
    return IngestionSettings(
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
        max_urls_per_source=max_pages,
        max_page_bytes=20_000_000,
        log_level="WARNING",
    )


async def sync_source(service: IngestionService, account: str, corpus: Corpus, base_url: str) -> None:
    """Crawl and index one corpus into its account; return when its source is ready."""
    command = SourceCommand(
        account_id=account, source_id=corpus.name, kind=SourceKind.URL, url=f"{base_url}/{corpus.start}",
        import_related=True,
    )  # fmt: skip
    started = time.perf_counter()
    await service.commands.handle(make_event(SOURCE_SYNC, command, source="bench", account_id=account))
    while True:
        async with service.unit_of_work() as uow:
            record = await uow.sources.get(account, corpus.name)
        if record and record.state in ("ready", "failed") and not service.runner.running(account, corpus.name):
            break
        await asyncio.sleep(0.5)
    if record.state != "ready":
        raise SystemExit(f"ingestion of {corpus.name} failed: {record.error}")
    elapsed = time.perf_counter() - started
    print(f"{corpus.name}: ingested {record.documents} pages, {record.chunks} chunks in {elapsed:.0f} s", flush=True)


async def count_chunks(client: AsyncOpenSearch, alias: str, accounts: Sequence[str], query: dict[str, Any]) -> int:
    """Chunks of ``accounts`` matching ``query``."""
    scoped = {"bool": {"must": [query], "filter": [{"bool": {"should": [account_filter(a) for a in accounts]}}]}}
    result = await client.count(index=alias, body={"query": scoped})
    return int(result["count"])


async def has_embeddings(client: AsyncOpenSearch, alias: str) -> bool:
    """Whether the index mapping has an ``embedding`` field."""
    mappings: dict[str, Any] = await client.indices.get_mapping(index=alias)
    return any(EMBEDDING_FIELD in (body.get("mappings", {}).get("properties") or {}) for body in mappings.values())


async def wait_for_embeddings(client: AsyncOpenSearch, alias: str, accounts: Sequence[str], stall: float) -> None:
    """Wait until every chunk of ``accounts`` has its vector, printing progress every ~10 s; give up when
    none was added for ``stall`` seconds. Skipped when the index has no ``embedding`` field."""
    if not await has_embeddings(client, alias):
        print("the index has no embedding field: no vectors to wait for")
        return
    await client.indices.refresh(index=alias)
    total = await count_chunks(client, alias, accounts, {"match_all": {}})
    started = last_change = time.monotonic()
    last_missing = -1
    while True:
        await client.indices.refresh(index=alias)
        missing = await count_chunks(client, alias, accounts, MISSING_EMBEDDING)
        now = time.monotonic()
        if missing != last_missing:
            last_change, last_missing = now, missing
        done = total - missing
        print(f"embeddings: {done}/{total} chunks, {done / max(now - started, 1e-9):.1f} chunks/s", flush=True)
        if missing == 0:
            return
        if now - last_change > stall:
            print(f"no chunk got its vector in {stall:.0f} s: going on with {missing} chunks without one")
            return
        await asyncio.sleep(PROGRESS_SECONDS)


async def drop_schema(settings: IngestionSettings) -> None:
    """Remove the run's ingestion schema."""
    engine = create_database_engine(settings.database_url, pool_size=1)
    async with engine.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA IF EXISTS "{settings.database_schema}" CASCADE'))
    await engine.dispose()


async def ingest(corpora: Sequence[Corpus], stall: float) -> State:
    """Serve and ingest every corpus into its own account of one fresh index; wait for the vectors."""
    ensure_installed(list(corpora))
    settings = ingestion_settings(max(len(corpus.pages()) for corpus in corpora) + 1)
    accounts = {corpus.name: unique_name(f"bench-quality-{corpus.name}") for corpus in corpora}
    service = build_ingestion(settings)
    # The benchmark calls the handlers itself: consumers of the real topics would also take the commands
    # of a live stack's accounts and crawl their sites again, and its relay would publish its own statuses.
    for step in ("kafka consumers", "outbox relay"):
        service.kernel.lifecycle.remove(step)
    client = create_opensearch_client(settings.opensearch_url)
    try:
        async with service.kernel.lifecycle.running():
            with ExitStack() as stack:
                urls = {corpus.name: serve(corpus, stack) for corpus in corpora}
                await asyncio.gather(
                    *(sync_source(service, accounts[c.name], c, urls[c.name]) for c in corpora)
                )  # fmt: skip
            await wait_for_embeddings(client, settings.content_read_alias, list(accounts.values()), stall)
    finally:
        await client.close()
        await drop_schema(settings)
    return State(index=settings.content_index, alias=settings.content_read_alias, accounts=accounts)


# A new account's languages (its default and those of the availability messages it starts with): among
# them conversation picks the reply's language when the visitor's browser sends no locale.
ACCOUNT_LANGUAGES = tuple(account_languages("en", DEFAULT_AVAILABILITY_MESSAGES))


def distinct_pages(corpus: Corpus, urls: Sequence[str]) -> tuple[str, ...]:
    """The page identifiers of ``urls`` in order, each once."""
    return tuple(dict.fromkeys(corpus.page_id(url) for url in urls))


async def ask_agent(engine: AnswerEngine, account: str, item: Question) -> Outcome:
    """The agent's outcome for one question (its confidence and would-be citations kept for the curve)."""
    corpus = CORPORA[item.corpus]
    language = choose_language(None, item.q, "en", ACCOUNT_LANGUAGES)
    started = time.perf_counter()
    attempt = await engine.answer(
        account, item.q, language=language, previous_questions=(), persona=Persona(), greet=False
    )  # fmt: skip
    latency = 1000 * (time.perf_counter() - started)
    cited = distinct_pages(corpus, [ref.url for ref in attempt.answer.citations]) if attempt.answer else ()
    answered = attempt.supported and attempt.answer is not None
    nearest = distinct_pages(corpus, [ref.url for ref in attempt.nearest])
    reply_language = attempt.answer.language if attempt.answer is not None else language
    return Outcome(
        question=item,
        system=AGENT,
        answered=answered,
        pages=cited if answered else (),
        would_be=cited if answered and cited else nearest,
        confidence=attempt.confidence,
        language_ok=reply_language == item.lang,
        latency_ms=latency,
        evidence=attempt.evidence,
        offered=distinct_pages(corpus, [ref.url for ref in attempt.suggestions]),
    )


async def ask_baseline(search: AccountScopedSearch, account: str, item: Question) -> Outcome:
    """The BM25 baseline's outcome: one multi_match of the raw question over title and body."""
    query = {"multi_match": {"query": item.q, "fields": ["title", "body"]}}
    result = await search.search(account, query, size=10, _source=["url"])
    pages = distinct_pages(CORPORA[item.corpus], [hit["_source"]["url"] for hit in result["hits"]["hits"]])
    return Outcome(question=item, system=BASELINE, answered=bool(pages), pages=pages, would_be=pages)


async def evaluate(state: State, questions: Sequence[Question], verbose: bool) -> list[Outcome]:
    """Ask every question of both systems (after one unmeasured question per corpus)."""
    settings = ConversationSettings(content_index=state.alias)
    client = create_opensearch_client(settings.opensearch_url)
    outcomes: list[Outcome] = []
    try:
        engine = build_engine(settings, client)
        plain = AccountScopedSearch(client, state.alias)
        for name in dict.fromkeys(item.corpus for item in questions):
            warm_up = next(item for item in questions if item.corpus == name)
            await ask_agent(engine, state.accounts[name], warm_up)
        for item in questions:
            account = state.accounts[item.corpus]
            agent, baseline = await ask_agent(engine, account, item), await ask_baseline(plain, account, item)
            outcomes += [agent, baseline]
            if verbose:
                print(verbose_line(agent, baseline), flush=True)
    finally:
        await client.close()
    return outcomes


async def delete_index(index: str) -> None:
    """Remove the run's index."""
    client = create_opensearch_client(IngestionSettings().opensearch_url)
    try:
        await client.indices.delete(index=index, ignore_unavailable=True)
    finally:
        await client.close()


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--split", choices=("dev", "test", "all"), default="dev", help="questions to ask")
    parser.add_argument("--corpus", choices=sorted(CORPORA), action="append", help="only these corpora")
    parser.add_argument("--reuse", type=Path, metavar="STATE", help="a state file of --keep (skips ingestion)")
    parser.add_argument("--keep", action="store_true", help="keep the index and write a state file for --reuse")
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE, help="where --keep writes the state")
    parser.add_argument("--target-precision", type=float, default=0.8, help="precision the threshold must reach")
    parser.add_argument("--embed-stall", type=float, default=600.0, help="stop waiting for vectors after this many s")
    parser.add_argument("--verbose", action="store_true", help="print each question's result")
    return parser.parse_args()


def report(outcomes: Sequence[Outcome], split: str, target: float) -> None:
    """Print the table, the curve and the targets."""
    questions = [item.question for item in outcomes if item.system == AGENT]
    answerable = sum(item.answerable for item in questions)
    print(f"\nsplit {split}: {len(questions)} questions, {answerable} answerable, {len(questions) - answerable} not")
    print("\n".join(table(outcomes)))
    print("\nagent over its confidence (its own gate ignored; declines cite their nearest passages):")
    print("\n".join(curve_lines(outcomes, target)))
    print("\n".join(offer_lines(outcomes)))
    print("\ntargets:")
    print("\n".join(target_lines(outcomes)))


async def main() -> int:
    """Serve, ingest, evaluate, report."""
    args = parse_args()
    names = args.corpus or list(CORPORA)
    questions = [
        item for item in load_questions() if item.corpus in names and (args.split == "all" or item.split == args.split)
    ]
    if args.reuse:
        state = State.load(args.reuse)
    else:
        state = await ingest([CORPORA[name] for name in names], args.embed_stall)
    try:
        outcomes = await evaluate(state, questions, args.verbose)
    finally:
        if args.keep and not args.reuse:
            state.save(args.state)
            print(f"kept the index; rerun with: --reuse {args.state}")
        elif not args.reuse:
            await delete_index(state.index)
    report(outcomes, args.split, args.target_precision)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
