"""Pipeline benchmark: inbound → routing → conversation → outbound on the local stack.

Beside it, in the same run, a baseline: a bare aiokafka consume→produce echo
through the same broker. Both are driven the same way:

0. warm-up — publish some messages and wait for their replies, unmeasured;
1. saturation — publish N messages as fast as possible, measure how fast the
   replies drain (sustained messages/s);
2. paced — publish at a fixed rate for a while, measure p50/p99 latency from
   publish to reply.

Prints one final line with the figures and the word ``ratio``.
Run: ``make bench-pipeline`` (the stack must be up: ``make up``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

if TYPE_CHECKING:  # run as a script: its directory is on the path (as bench/quality does)
    from bench.pipeline.bench_account import FREQUENT_QUESTIONS, add_short_answers, create_account, remove_short_answers
    from bench.pipeline.host_metrics import host_stolen_seconds, process_group_cpu_seconds, service_memory_mib
else:
    from bench_account import FREQUENT_QUESTIONS, add_short_answers, create_account, remove_short_answers
    from host_metrics import host_stolen_seconds, process_group_cpu_seconds, service_memory_mib

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


@dataclass
class Result:
    """Figures of one system under test."""

    name: str
    saturation_rate: float
    p50_ms: float
    p99_ms: float
    paced_rate: float
    lost: int
    cpu_ms_per_message: dict[str, float]
    """CPU milliseconds each process group used per message during the saturation phase."""
    paced_cpu_ms_per_message: dict[str, float]
    """The same during the paced phase (small batches: every batch's fixed cost weighs more)."""
    stolen_ms_per_message: tuple[float, float]
    """CPU milliseconds per message the host (hypervisor) took from this machine's cores: saturation, paced."""
    timeline: list[SecondOfPacing]
    """The paced phase second by second, by send time."""


@dataclass(frozen=True)
class SecondOfPacing:
    """Latencies of the messages sent in one second of the paced phase."""

    second: int
    sent: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def pacing_timeline(sent_at: dict[str, float], arrivals: dict[str, float], begin: float) -> list[SecondOfPacing]:
    """Group the paced phase's latencies by the second each message was sent in."""
    by_second: dict[int, list[float]] = {}
    for message_id, sent in sent_at.items():
        if message_id in arrivals:
            by_second.setdefault(int(sent - begin), []).append((arrivals[message_id] - sent) * 1000)
    return [
        SecondOfPacing(second, len(values), statistics.median(values), percentile(values, 0.99), max(values))
        for second, values in sorted(by_second.items())
    ]


def cpu_ms_per_message(before: dict[str, float], after: dict[str, float], messages: int) -> dict[str, float]:
    """CPU milliseconds each process group used per message between two snapshots."""
    return {group: (after[group] - before.get(group, 0.0)) * 1000 / max(1, messages) for group in after}


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


class ReplyWatcher:
    """Consumes the reply topic and records when each awaited id arrived."""

    def __init__(self, topic: str, extract_id: Callable[[bytes], str | None]) -> None:
        self.topic = topic
        self.extract_id = extract_id
        self.arrivals: dict[str, float] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=BOOTSTRAP,
            group_id=f"bench-watch-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="latest",
            enable_auto_commit=False,
        )
        await self._consumer.start()
        while not self._consumer.assignment():  # noqa: ASYNC110 - polling the client's own state
            await asyncio.sleep(0.05)
        # make sure the position is materialised before anything is published
        for partition in self._consumer.assignment():
            await self._consumer.position(partition)
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        assert self._consumer is not None
        async for record in self._consumer:
            message_id = self.extract_id(record.value or b"")
            if message_id is not None and message_id not in self.arrivals:
                self.arrivals[message_id] = time.perf_counter()

    async def wait_for(self, ids: set[str], stall_seconds: float) -> None:
        """Wait until every id arrived, or until none arrived for ``stall_seconds`` (the rest are lost)."""
        last_progress, last_count = time.perf_counter(), -1
        while not ids.issubset(self.arrivals):
            count = len(self.arrivals)
            if count != last_count:
                last_progress, last_count = time.perf_counter(), count
            elif time.perf_counter() - last_progress > stall_seconds:
                return
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        if self._consumer:
            await self._consumer.stop()


async def drive(
    name: str,
    publish: Callable[[str, int], Awaitable[None]],
    watcher: ReplyWatcher,
    *,
    warmup_messages: int,
    saturation_messages: int,
    paced_rate: int,
    paced_seconds: float,
) -> Result:
    """Run the warm-up, saturation and paced phases against one system."""
    # Unmeasured: lets the JIT of Kafka and OpenSearch compile their hot paths and fills every cache.
    # Ids unique across runs: the services' inboxes remember event ids for days, and an id seen in an
    # earlier run would be dropped as a duplicate (6 random hex digits collided after ~100 runs).
    run = uuid.uuid4().hex[:12]
    warm_ids = [f"{name}-warm-{i}-{run}" for i in range(warmup_messages)]
    await asyncio.gather(*(publish(message_id, i) for i, message_id in enumerate(warm_ids)))
    await watcher.wait_for(set(warm_ids), stall_seconds=30)

    ids = [f"{name}-sat-{i}-{run}" for i in range(saturation_messages)]
    cpu_before, stolen_before = process_group_cpu_seconds(), host_stolen_seconds()
    started = time.perf_counter()
    await asyncio.gather(*(publish(message_id, i) for i, message_id in enumerate(ids)))
    await watcher.wait_for(set(ids), stall_seconds=30)
    cpu_after = process_group_cpu_seconds()
    arrived = [watcher.arrivals[i] for i in ids if i in watcher.arrivals]
    saturation_cpu = cpu_ms_per_message(cpu_before, cpu_after, len(arrived))
    saturation_stolen = (host_stolen_seconds() - stolen_before) * 1000 / max(1, len(arrived))
    saturation_rate = len(arrived) / (max(arrived) - started) if arrived else 0.0

    sent_at: dict[str, float] = {}
    total = int(paced_rate * paced_seconds)
    cpu_before, stolen_before = process_group_cpu_seconds(), host_stolen_seconds()
    begin = time.perf_counter()
    for i in range(total):
        target = begin + i / paced_rate
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        message_id = f"{name}-paced-{i}-{run}"
        sent_at[message_id] = time.perf_counter()
        await publish(message_id, i)
    await watcher.wait_for(set(sent_at), stall_seconds=30)
    cpu_after, stolen_after = process_group_cpu_seconds(), host_stolen_seconds()
    latencies = [(watcher.arrivals[m] - t) * 1000 for m, t in sent_at.items() if m in watcher.arrivals]
    elapsed = max((watcher.arrivals[m] for m in sent_at if m in watcher.arrivals), default=begin) - begin
    return Result(
        name=name,
        saturation_rate=saturation_rate,
        p50_ms=statistics.median(latencies) if latencies else float("nan"),
        p99_ms=percentile(latencies, 0.99),
        paced_rate=len(latencies) / elapsed if elapsed > 0 else 0.0,
        lost=(len(ids) - len(arrived)) + (total - len(latencies)),
        cpu_ms_per_message=saturation_cpu,
        paced_cpu_ms_per_message=cpu_ms_per_message(cpu_before, cpu_after, len(latencies)),
        stolen_ms_per_message=(saturation_stolen, (stolen_after - stolen_before) * 1000 / max(1, len(latencies))),
        timeline=pacing_timeline(sent_at, watcher.arrivals, begin),
    )


async def echo_baseline(args: argparse.Namespace) -> Result:
    """A bare aiokafka consume→produce echo through the same broker."""
    suffix = uuid.uuid4().hex[:8]
    topic_in, topic_out = f"bench.echo-in.{suffix}", f"bench.echo-out.{suffix}"
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    await admin.create_topics([NewTopic(t, num_partitions=6, replication_factor=1) for t in (topic_in, topic_out)])
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", enable_idempotence=True, linger_ms=2)
    await producer.start()
    echo_consumer = AIOKafkaConsumer(
        topic_in,
        bootstrap_servers=BOOTSTRAP,
        group_id=f"bench-echo-{suffix}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await echo_consumer.start()

    async def echo() -> None:
        # Batched like a well-written consumer: send a fetched batch, await its acks, commit once.
        while True:
            batches = await echo_consumer.getmany(timeout_ms=100, max_records=500)
            futures = [
                await producer.send(topic_out, value=record.value, key=record.key)
                for records in batches.values()
                for record in records
            ]
            if futures:
                await asyncio.gather(*futures)
                await echo_consumer.commit()

    echo_task = asyncio.create_task(echo())
    watcher = ReplyWatcher(topic_out, lambda body: body.decode())
    await watcher.start()

    async def publish(message_id: str, index: int) -> None:
        await producer.send(topic_in, value=message_id.encode(), key=f"t{index % 64}".encode())

    try:
        return await drive(
            "echo",
            publish,
            watcher,
            warmup_messages=args.warmup,
            saturation_messages=args.messages,
            paced_rate=args.rate,
            paced_seconds=args.seconds,
        )
    finally:
        echo_task.cancel()
        await watcher.stop()
        await echo_consumer.stop()
        await producer.stop()
        await admin.delete_topics([topic_in, topic_out])
        await admin.close()


async def pipeline(args: argparse.Namespace) -> Result:
    """The real services: channels.inbound.v1 → ... → channels.outbound.v1."""
    bench_account = await create_account()
    try:
        await add_short_answers(bench_account, args.questions)
        return await _drive_pipeline(args, bench_account.account_id)
    finally:
        await remove_short_answers(bench_account)


async def _drive_pipeline(args: argparse.Namespace, account: str) -> Result:
    """Publish the benchmark's messages for ``account`` and time its replies (see ``drive``)."""
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", linger_ms=2)
    await producer.start()

    def reply_to(body: bytes) -> str | None:
        try:
            event = json.loads(body)
        except ValueError:
            return None
        data = event.get("data") or {}
        return data.get("reply_to") if data.get("account_id") == account else None

    watcher = ReplyWatcher("channels.outbound.v1", reply_to)
    try:
        await watcher.start()
    except BaseException:
        await producer.stop()
        raise

    async def publish(message_id: str, index: int) -> None:
        thread = f"thread-{index % 200}"
        event = {
            "specversion": "1.0",
            "id": f"evt-{message_id}",
            "source": "bench",
            "type": "message.received",
            "time": datetime.now(UTC).isoformat(),
            "datacontenttype": "application/json",
            "accountid": account,
            "data": {
                "account_id": account,
                "channel": {"type": "live_chat", "id": "bench"},
                "thread_id": thread,
                "message_id": message_id,
                "sender": {"id": f"visitor-{index % 200}", "locale": "en-GB"},
                "text": FREQUENT_QUESTIONS[index % 200 % args.questions][0],
                "sent_at": datetime.now(UTC).isoformat(),
            },
        }
        await producer.send("channels.inbound.v1", value=json.dumps(event).encode(), key=f"{account}:{thread}".encode())

    try:
        return await drive(
            "pipeline",
            publish,
            watcher,
            warmup_messages=args.warmup,
            saturation_messages=args.messages,
            paced_rate=args.rate,
            paced_seconds=args.seconds,
        )
    finally:
        await watcher.stop()
        await producer.stop()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warmup", type=int, default=3000, help="unmeasured messages sent first")
    parser.add_argument("--messages", type=int, default=3000, help="messages in the saturation phase")
    parser.add_argument("--rate", type=int, default=300, help="messages/s in the paced phase")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the paced phase")
    parser.add_argument(
        "--questions",
        type=int,
        default=1,
        choices=range(1, len(FREQUENT_QUESTIONS) + 1),
        metavar=f"1..{len(FREQUENT_QUESTIONS)}",
        help="distinct questions the visitors ask, each answered by a short answer (identical questions of one "
        "batch share a search)",
    )
    parser.add_argument(
        "--timeline", action="store_true", help="print the pipeline's paced phase second by second (p50, p99, max)"
    )
    args = parser.parse_args()
    baseline = await echo_baseline(args)
    measured = await pipeline(args)
    for result in (baseline, measured):
        print(
            f"{result.name:9s} saturation {result.saturation_rate:8.1f} msg/s | paced {result.paced_rate:6.1f} msg/s "
            f"p50 {result.p50_ms:7.1f} ms p99 {result.p99_ms:7.1f} ms | lost {result.lost}"
        )
    if args.timeline:
        print("paced phase by second sent: second, messages, p50 / p99 / max ms")
        for second in measured.timeline:
            print(
                f"  {second.second:3d} {second.sent:4d}  {second.p50_ms:7.1f} / {second.p99_ms:7.1f} / "
                f"{second.max_ms:7.1f}"
            )
    for phase, cpu, rate, stolen in (
        ("saturation", measured.cpu_ms_per_message, measured.saturation_rate, measured.stolen_ms_per_message[0]),
        ("paced", measured.paced_cpu_ms_per_message, measured.paced_rate, measured.stolen_ms_per_message[1]),
    ):
        print(
            f"CPU ms per message ({phase}): "
            + ", ".join(f"{group} {ms:.1f}" for group, ms in sorted(cpu.items(), key=lambda item: -item[1]))
            + f"; total {sum(cpu.values()):.1f} (the {os.cpu_count()} cores give "
            f"{(os.cpu_count() or 1) * 1000 / max(1.0, rate):.1f} per message at this rate, "
            f"of which the host took {stolen:.1f})"
        )
    memory = service_memory_mib()
    print("memory (RSS MiB): " + ", ".join(f"{name} {mib:.0f}" for name, mib in memory.items()))
    ratio = measured.saturation_rate / baseline.saturation_rate if baseline.saturation_rate else 0.0
    print(
        f"pipeline {measured.saturation_rate:.0f} msg/s sustained, p50 {measured.p50_ms:.0f} ms, "
        f"p99 {measured.p99_ms:.0f} ms at {args.rate} msg/s ({args.questions} distinct questions); "
        f"echo baseline {baseline.saturation_rate:.0f} msg/s; "
        f"ratio {ratio:.3f}; lost {measured.lost}"
    )
    return 0 if measured.lost == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
