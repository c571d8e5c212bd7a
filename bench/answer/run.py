"""Answer benchmark: p50/p99 latency and throughput of the conversation service alone, beside a bare
OpenSearch query baseline over the same corpus, measured in the same run.

Run with ``uv run python bench/answer/run.py`` against the running local stack (Kafka, PostgreSQL,
Redis, OpenSearch). It builds a throwaway index with a synthetic help-centre corpus, runs the
conversation service in-process (scratch schema, own consumer group), publishes
``conversation.assigned`` events straight to Kafka and times each until its ``message.send`` reply
is on ``channels.outbound.v1``. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from conversation_service.bootstrap import build_service
from conversation_service.settings import ConversationSettings
from customer_agent_shared.clients import create_opensearch_client
from customer_agent_shared.content_index import (
    EMBEDDING_FIELD,
    EMBEDDING_MODEL_FIELD,
    AccountScopedSearch,
    index_body,
    with_localized_fields,
)
from customer_agent_shared.embeddings import BuiltinEmbedder
from customer_agent_shared.events.channels import ChannelRef, ChannelType, MessageReceived, Sender
from customer_agent_shared.events.conversations import ConversationAssigned
from customer_agent_shared.events.envelope import CloudEvent, make_event, serialize_event
from customer_agent_shared.persistence.database import create_database_engine
from customer_agent_shared.testing.kafka import unique_name, wait_for_assignment
from customer_agent_shared.topics import CHANNELS_OUTBOUND, CONVERSATIONS_ASSIGNED
from opensearchpy import AsyncOpenSearch
from sqlalchemy import text

TOPICS = [
    ("password", "reset your password", "Open Settings, choose Security and click Reset password."),
    ("shipping", "shipping and delivery", "Orders ship within 2 business days; delivery takes 3 to 5 days."),
    ("refund", "returns and refunds", "Return any product within 30 days for a full refund to your card."),
    ("invoice", "invoices and receipts", "Download every invoice as PDF from the Orders page of your account."),
    ("subscription", "cancel a subscription", "Cancel your subscription any time under Billing, effective next month."),
    ("address", "change delivery address", "Change the delivery address under Account before the order ships."),
    ("gift", "gift cards", "Gift cards from 100 to 1,000 DKK never expire and work in every shop."),
    ("warranty", "warranty claims", "Every product has a two-year warranty; send the receipt with your claim."),
]
QUESTIONS = [
    ("How do I reset my password?", "en"),
    ("Hvordan nulstiller jeg min adgangskode?", "da"),
    ("How long does delivery take?", "en"),
    ("Hoe lang duurt de levering?", "nl"),
    ("Can I get a refund?", "en"),
    ("Where can I download my invoice?", "en"),
    ("Wie kann ich mein Abonnement kündigen?", "de"),
    ("Do gift cards expire?", "en"),
    ("Can I pay with bitcoin?", "en"),  # unanswerable: measures the rephrase path too
]


def corpus(account: str, pages: int) -> list[dict[str, Any]]:
    """``pages`` synthetic help pages: the topics above, padded with filler paragraphs."""
    rng = random.Random(7)
    filler = [
        "account",
        "order",
        "product",
        "team",
        "support",
        "page",
        "help",
        "shop",
        "customer",
        "time",
        "item",
        "price",
        "service",
    ]
    documents = []
    for number in range(pages):
        key, title, fact = TOPICS[number % len(TOPICS)]
        noise = " ".join(rng.choice(filler) for _ in range(120))
        documents.append(
            {
                "chunk_id": f"c{number}",
                "account_id": account,
                "source_id": "bench",
                "source_kind": "url",
                "document_id": f"d{number}",
                "url": f"https://bench.example/{key}/{number}",
                "title": f"{title.capitalize()} ({number})",
                "section": title,
                "body": f"{fact} {noise}.",
                "language": "en",
                "private": False,
                "citations_allowed": True,
                "position": 0,
                "content_hash": f"h{number}",
                "updated_at": datetime.now(UTC).isoformat(),
            }
        )
    return documents


async def load_index(client: AsyncOpenSearch, index: str, documents: list[dict[str, Any]]) -> None:
    """Create the index with the contract mapping and bulk-load the documents, each with its vector
    from the built-in model (as ingestion would add it)."""
    await client.indices.create(index=index, body=index_body())
    embedder = BuiltinEmbedder(threads=2)
    started = time.perf_counter()
    vectors = await embedder.embed_passages([f"{document['title']}\n{document['body']}" for document in documents])
    print(f"corpus embedded in {time.perf_counter() - started:.1f} s")
    for document, vector in zip(documents, vectors, strict=True):
        document.update({EMBEDDING_FIELD: vector, EMBEDDING_MODEL_FIELD: embedder.model_id})
    await embedder.aclose()
    lines: list[dict[str, Any]] = []
    for document in documents:
        lines.extend(({"index": {"_index": index, "_id": document["chunk_id"]}}, with_localized_fields(document)))
    result = await client.bulk(body=lines, refresh=True)
    if result["errors"]:
        raise SystemExit("bulk load failed")


def percentile(values: list[float], share: float) -> float:
    """The ``share`` percentile (0..1) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(name: str, latencies: list[float], seconds: float) -> None:
    """Print p50/p99 in ms and throughput."""
    print(
        f"{name:<34} n={len(latencies):<5} p50={percentile(latencies, 0.5) * 1000:7.1f} ms  "
        f"p99={percentile(latencies, 0.99) * 1000:7.1f} ms  mean={statistics.mean(latencies) * 1000:7.1f} ms  "
        f"throughput={len(latencies) / seconds:7.1f}/s"
    )


async def opensearch_baseline(client: AsyncOpenSearch, index: str, account: str, count: int, concurrency: int) -> None:
    """A bare BM25 query per question, sequentially (latency) and concurrently (throughput)."""
    search = AccountScopedSearch(client, index)

    async def one(question: str) -> float:
        started = time.perf_counter()
        await search.search(account, {"multi_match": {"query": question, "fields": ["title", "body"]}}, size=6)
        return time.perf_counter() - started

    for question, _ in QUESTIONS:  # warm-up
        await one(question)
    started = time.perf_counter()
    latencies = [await one(QUESTIONS[i % len(QUESTIONS)][0]) for i in range(count)]
    report("opensearch query, sequential", latencies, time.perf_counter() - started)
    queue = list(range(count))
    results: list[float] = []

    async def worker() -> None:
        while queue:
            number = queue.pop()
            results.append(await one(QUESTIONS[number % len(QUESTIONS)][0]))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    report(f"opensearch query, {concurrency} concurrent", results, time.perf_counter() - started)


def assigned_message(
    account: str, *, thread: str, message_id: str, text_number: int, run: str
) -> CloudEvent[ConversationAssigned]:
    """The ``conversation.assigned`` routing would publish for the benchmark's ``text_number``-th question."""
    question, locale = QUESTIONS[text_number % len(QUESTIONS)]
    # Every text distinct: conversation remembers the vectors of recent questions, and the benchmark measures
    # the cost of a question it has not seen.
    message = MessageReceived(
        account_id=account,
        channel=ChannelRef(type=ChannelType.LIVE_CHAT, id="web"),
        thread_id=thread,
        message_id=message_id,
        sender=Sender(id="visitor", locale=locale),
        text=f"{question} (ref {run[-6:]}-{text_number})",
        sent_at=datetime.now(UTC),
    )
    data = ConversationAssigned(account_id=account, thread_id=thread, channel=message.channel, message=message,
                                new_thread=True)  # fmt: skip
    return make_event("conversation.assigned", data, source="bench", account_id=account)


async def service_run(
    bootstrap: str, account: str, count: int, rate: float | None, label: str, partitions: int
) -> None:
    """Publish ``count`` assigned messages (paced at ``rate``/s, or all at once) and time each reply."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    assignment = [TopicPartition(CHANNELS_OUTBOUND, p) for p in range(partitions)]
    consumer.assign(assignment)
    for tp, offset in (await consumer.end_offsets(assignment)).items():
        consumer.seek(tp, offset)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    await producer.start()
    sent: dict[str, float] = {}
    latencies: list[float] = []
    run = unique_name("run")

    async def receive() -> None:
        while len(latencies) < count:
            batch = await consumer.getmany(timeout_ms=200)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    data = json.loads(record.value)["data"]
                    started = sent.pop(data.get("reply_to"), None) if data.get("account_id") == account else None
                    if started is not None:
                        latencies.append(now - started)

    receiver = asyncio.create_task(receive())
    began = time.perf_counter()
    for number in range(count):
        thread = f"{run}-t{number}"
        event = assigned_message(account, thread=thread, message_id=f"{run}-m{number}", text_number=number, run=run)
        message = event.data.message
        sent[message.message_id] = time.perf_counter()
        await producer.send(CONVERSATIONS_ASSIGNED, serialize_event(event), key=f"{account}:{thread}".encode())
        if rate:
            await asyncio.sleep(max(0.0, began + (number + 1) / rate - time.perf_counter()))
    await producer.flush()
    try:
        await asyncio.wait_for(receiver, timeout=120)
    except TimeoutError:
        print(f"  {label}: only {len(latencies)} of {count} replies within 120 s")
    elapsed = time.perf_counter() - began
    await producer.stop()
    await consumer.stop()
    if latencies:
        report(label, latencies, elapsed)


def bench_settings(index: str, embeddings: str) -> ConversationSettings:
    """A throwaway conversation instance reading ``index`` with the given embeddings mode."""
    return ConversationSettings(
        service_name=unique_name("conversation-bench"),
        database_schema=unique_name("bench_conversation").replace("-", "_"),
        consumer_group=unique_name("conversation-bench"),
        consumer_offset_reset="latest",
        content_index=index,
        resolution_sweep_seconds=0,
        log_level="WARNING",
        embeddings=embeddings,
    )


async def run_service(settings: ConversationSettings, account: str, count: int, rate: float) -> None:
    """Warm up, then a paced run and a burst through one in-process conversation service."""
    service = build_service(settings)
    partitions = settings.topic_partitions
    bootstrap = settings.kafka_bootstrap_servers
    mode = f"embeddings={settings.embeddings}"
    async with service.kernel.lifecycle.running():
        await wait_for_assignment(service.kernel.broker)
        subscribers: list[Any] = list(service.kernel.broker.subscribers)
        for subscriber in subscribers:
            for partition in subscriber.consumer.assignment():
                await subscriber.consumer.position(partition)
        await service_run(bootstrap, account, 30, 20.0, f"warm-up ({mode})", partitions)
        await service_run(bootstrap, account, count, rate, f"service, paced {rate:g}/s, {mode}", partitions)
        await service_run(bootstrap, account, count, None, f"service, burst, {mode}", partitions)


async def main() -> int:
    """Build the corpus, run the baseline and the service, print the comparison."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=400, help="synthetic pages in the corpus")
    parser.add_argument("--count", type=int, default=600, help="messages per service run")
    parser.add_argument("--rate", type=float, default=50.0, help="paced run: messages per second")
    parser.add_argument(
        "--embeddings",
        default="off,builtin",
        help="comma-separated CONVERSATION_EMBEDDINGS modes to run one after the other on the same corpus",
    )
    args = parser.parse_args()
    index = unique_name("bench-answer-chunks")
    account = unique_name("bench-acc")
    client = create_opensearch_client(ConversationSettings().opensearch_url)
    await load_index(client, index, corpus(account, args.pages))
    schemas: list[str] = []
    try:
        print(f"corpus: {args.pages} pages, {len(QUESTIONS)} questions in 4 languages (1 unanswerable)")
        await opensearch_baseline(client, index, account, args.count, concurrency=8)
        for mode in args.embeddings.split(","):
            settings = bench_settings(index, mode.strip())
            schemas.append(settings.database_schema)
            await run_service(settings, account, args.count, args.rate)
    finally:
        await client.indices.delete(index=index, ignore_unavailable=True)
        await client.close()
        engine = create_database_engine(ConversationSettings().database_url, pool_size=1)
        async with engine.begin() as connection:
            for schema in schemas:
                await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()
    print("service latency = publish of conversation.assigned → message.send on channels.outbound.v1")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
