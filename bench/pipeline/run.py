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
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

REPO = Path(__file__).resolve().parents[2]
BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
ADMIN_URL = f"http://127.0.0.1:{os.environ.get('ADMIN_HTTP_PORT', '8000')}"
BOOTSTRAP_TOKEN = os.environ.get("ADMIN_BOOTSTRAP_TOKEN", "dev-bootstrap-token")


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


FREQUENT_QUESTIONS: tuple[tuple[str, str], ...] = (
    ("What are your opening hours?", "We are open every weekday from 9 to 17."),
    ("How do I reset my password?", "Choose 'Forgot password' on the sign-in page and follow the e-mail."),
    ("Do you ship to Norway?", "Yes, we ship to Norway within five working days."),
    ("How can I return a product?", "Returns are free within 30 days; print the label from your order page."),
    ("Do you offer gift cards?", "Gift cards from 10 to 500 euros are sold in the shop."),
    ("Which payment methods do you accept?", "We accept cards, bank transfer and invoice for companies."),
    ("How long does delivery take?", "Delivery takes two to four working days inside the EU."),
    ("Can I change my delivery address?", "Until the parcel is packed you can change the address in your account."),
    ("Where is my invoice?", "Invoices are in your account under Orders, as PDF files."),
    ("Do you have a student discount?", "Students get 15 percent off with a valid student card."),
    ("How do I cancel my subscription?", "Cancel it any time under Account, Subscription, Cancel."),
    ("Is there a warranty on laptops?", "Laptops carry a two-year warranty from the day of purchase."),
    ("Can I pick up my order in a store?", "Click and collect is free in all our stores in Copenhagen."),
    ("How do I contact customer support?", "Write to support or call us on weekdays between 9 and 17."),
    ("Do you sell refurbished phones?", "Refurbished phones are tested and sold with a one-year warranty."),
    ("What does shipping cost?", "Shipping is free above 50 euros, otherwise it costs 5 euros."),
    ("Can I order by phone?", "Orders by phone are taken on weekdays between 10 and 16."),
    ("Do you price match competitors?", "We match the price of Danish shops for the same product in stock."),
    ("How do I track my parcel?", "The tracking link is in the shipping e-mail and in your account."),
    ("Are your products eco certified?", "Many products carry the Nordic Swan label; see each product page."),
)
"""Question and short answer pairs: ``--questions N`` asks the first N, each thread always the same one."""


@dataclass(frozen=True)
class BenchAccount:
    """The benchmark's account, the key it acts with and the short answers it added."""

    account_id: str
    headers: dict[str, str]
    source_ids: list[str]


async def create_account() -> BenchAccount:
    """Create an account with a deployed live-chat channel and plenty of credits (no short answers yet)."""
    account = f"bench-{uuid.uuid4().hex[:8]}"
    operator = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}
    async with httpx.AsyncClient(base_url=ADMIN_URL, timeout=30) as client:
        (await client.post("/v1/accounts", json={"id": account, "name": "Bench"}, headers=operator)).raise_for_status()
        key_response = await client.post(
            f"/v1/accounts/{account}/api-keys",
            json={"permissions": ["customer_agent:read", "customer_agent:edit"]},
            headers=operator,
        )
        key_response.raise_for_status()
        headers = {"Authorization": f"Bearer {key_response.json()['key']}"}
        base = f"/v1/accounts/{account}"
        (
            await client.post(
                f"{base}/channels",
                json={"type": "live_chat", "id": "bench", "handoff": {"mode": "handoff", "assign_to": []}},
                headers=headers,
            )
        ).raise_for_status()
        (
            await client.post(f"{base}/credits/purchases", json={"credits": 10_000_000}, headers=operator)
        ).raise_for_status()
    return BenchAccount(account, headers, [])


async def add_short_answers(bench_account: BenchAccount, questions: int) -> None:
    """Add the first ``questions`` short answers, recording each in ``bench_account`` as soon as it exists
    (so ``remove_short_answers`` finds it even if this fails later), and wait until all are ready."""
    base = f"/v1/accounts/{bench_account.account_id}/sources"
    async with httpx.AsyncClient(base_url=ADMIN_URL, timeout=30) as client:
        for question, answer in FREQUENT_QUESTIONS[:questions]:
            source = await client.post(
                base,
                json={"kind": "short_answer", "question": question, "answer": answer},
                headers=bench_account.headers,
            )
            source.raise_for_status()
            bench_account.source_ids.append(source.json()["id"])
        for source_id in bench_account.source_ids:
            for _ in range(120):
                state = (await client.get(f"{base}/{source_id}", headers=bench_account.headers)).json()["state"]
                if state == "ready":
                    break
                await asyncio.sleep(0.5)
            else:
                raise RuntimeError(f"the short answer {source_id} never became ready")
    await asyncio.sleep(2)  # let routing and conversation fold the configuration snapshot


async def remove_short_answers(bench_account: BenchAccount) -> None:
    """Remove the benchmark's short answers, so their chunks leave the shared content index.

    OpenSearch scores with the statistics of the whole index, not of one account: every run's identical
    short answer left behind would make its words commoner and shift later runs' raw scores (once, with a
    raw-score gate since removed, the agent stopped answering after ~20 runs).
    """
    base = f"/v1/accounts/{bench_account.account_id}/sources"
    async with httpx.AsyncClient(base_url=ADMIN_URL, timeout=30) as client:
        for source_id in bench_account.source_ids:
            response = await client.delete(f"{base}/{source_id}", headers=bench_account.headers)
            if response.status_code not in (204, 404):  # 404: already gone
                print(f"could not remove the short answer {source_id}: {response.status_code} {response.text}")


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


def _cpu_seconds_by_pid() -> tuple[dict[int, float], dict[int, int]]:
    """User+system CPU seconds and parent pid of every process (from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    cpu: dict[int, float] = {}
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name: state ppid ... utime(12th) stime(13th).
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return cpu, parents


def host_stolen_seconds() -> float:
    """CPU seconds the hypervisor has taken from this machine's cores since boot ('steal' in /proc/stat)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return 0.0
    return int(fields[8]) / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else 0.0


def process_group_cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by each local-stack process with its children, and by this benchmark."""
    run_dir = Path(os.environ.get("CA_STATE_DIR", REPO / ".local-stack")) / "run"
    cpu, parents = _cpu_seconds_by_pid()
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)

    def with_descendants(root: int) -> float:
        total, pending = 0.0, [root]
        while pending:
            pid = pending.pop()
            total += cpu.get(pid, 0.0)
            pending.extend(children.get(pid, []))
        return total

    groups: dict[str, float] = {}
    for pidfile in sorted(run_dir.glob("*.pid")):
        try:
            root = int(pidfile.read_text().split()[0])
        except (OSError, ValueError):
            continue
        if root in cpu:
            groups[pidfile.stem.removeprefix("service-")] = with_descendants(root)
    groups["bench"] = cpu.get(os.getpid(), 0.0)
    return groups


def service_memory_mib() -> dict[str, float]:
    """Resident memory of each running service process (from the local stack's pid files)."""
    run_dir = Path(os.environ.get("CA_STATE_DIR", REPO / ".local-stack")) / "run"
    memory: dict[str, float] = {}
    for pidfile in sorted(run_dir.glob("service-*.pid")):
        try:
            pid = int(pidfile.read_text().split()[0])
            status = Path(f"/proc/{pid}/status").read_text()
        except (OSError, ValueError):
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                memory[pidfile.stem.removeprefix("service-")] = int(line.split()[1]) / 1024
    return memory


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
