"""Clients a customer's tools would use: the admin REST API and a channel provider on Kafka."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from customer_agent_shared.testing.plumbing import eventually

INBOUND = "channels.inbound.v1"
OUTBOUND = "channels.outbound.v1"
HANDOFFS = "inbox.handoffs.v1"


class AdminClient:
    """The admin REST API for one account, with an edit key (and the operator's client for purchases and plans)."""

    def __init__(self, http: httpx.AsyncClient, account_id: str, key: str) -> None:
        self.account_id = account_id
        self.operator = http
        self.http = httpx.AsyncClient(
            base_url=str(http.base_url), timeout=30, headers={"Authorization": f"Bearer {key}"}
        )
        self.base = f"/v1/accounts/{account_id}"

    @classmethod
    async def create_account(cls, operator: httpx.AsyncClient, account_id: str | None = None) -> AdminClient:
        """Create an account and an API key with both permissions, as an operator would."""
        account_id = account_id or f"e2e-{uuid.uuid4().hex[:10]}"
        created = await operator.post("/v1/accounts", json={"id": account_id, "name": "E2E Shop"})
        assert created.status_code == 201, created.text
        key = await operator.post(
            f"/v1/accounts/{account_id}/api-keys",
            json={"permissions": ["customer_agent:read", "customer_agent:edit"]},
        )
        assert key.status_code == 201, key.text
        return cls(operator, account_id, key.json()["key"])

    async def close(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()

    async def remove_sources(self) -> list[str]:
        """Delete every source of the account (best effort); the problems met, if any.

        All accounts share one content index whose term statistics weigh everyone's chunks, so a test's
        content left behind would still move other accounts' ranking on a stack that is used afterwards.
        """
        problems: list[str] = []
        try:
            listed = await self.http.get(self.base + "/sources")
            if listed.status_code != 200:
                return [f"GET /sources → {listed.status_code}"]
            for source in listed.json()["items"]:
                deleted = await self.http.delete(f"{self.base}/sources/{source['id']}")
                if deleted.status_code not in (204, 404):
                    problems.append(f"DELETE /sources/{source['id']} → {deleted.status_code}")
        except httpx.HTTPError as error:  # a fault test may leave admin-api restarting
            problems.append(repr(error))
        return problems

    async def call(
        self,
        method: str,
        path: str,
        expected: int | tuple[int, ...] = (200, 201, 202),
        *,
        as_operator: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Call ``base + path`` with the account's key (or the operator's token) and check the status."""
        client = self.operator if as_operator else self.http
        response = await client.request(method, self.base + path, **kwargs)
        allowed = (expected,) if isinstance(expected, int) else expected
        assert response.status_code in allowed, f"{method} {path} → {response.status_code}: {response.text}"
        return response.json() if response.content else None

    async def wait_source_ready(self, source_id: str, timeout_seconds: float = 120) -> dict[str, Any]:
        """Poll a source until it is ready (fail fast on failed)."""

        async def ready() -> dict[str, Any] | None:
            source = await self.call("GET", f"/sources/{source_id}")
            assert source["state"] != "failed", f"source failed: {source}"
            return dict(source) if source["state"] == "ready" else None

        return await eventually(ready, f"source {source_id} ready", timeout_seconds, every=0.5)

    async def wait_sources_settled(self, timeout_seconds: float = 240) -> list[dict[str, Any]]:
        """Poll until every source of the account is ready or failed; return them."""

        async def settled() -> list[dict[str, Any]] | None:
            sources: list[dict[str, Any]] = (await self.call("GET", "/sources"))["items"]
            return sources if all(source["state"] in ("ready", "failed") for source in sources) else None

        return await eventually(settled, "every source ready or failed", timeout_seconds, every=1.0)

    async def wait_for_routing(
        self, reason: str | None, timeout_seconds: float = 60, *, text: str = "Hello?"
    ) -> dict[str, Any]:
        """Poll the preview until routing would decide a new thread starting with ``text`` with ``reason`` (None:
        give it to the agent), i.e. until a configuration change reached routing; return routing's decision.

        Each change publishes a new snapshot of the whole configuration, so waiting for what the last change
        decides (a trigger word's ``"trigger"``) waits for every change before it too."""

        async def decided() -> dict[str, Any] | None:
            routing = (await self.call("POST", "/agent/preview", json={"text": text})).get("routing")
            return dict(routing) if routing is not None and routing.get("reason") == reason else None

        # every 1 s: previews have their own rate budget
        return await eventually(decided, f"routing deciding {reason} on {text!r}", timeout_seconds, every=1.0)

    async def keep_credit_resets_away(self) -> None:
        """Move the account's credit reset to two weeks from today and wait until billing has it: a test run
        across midnight of the reset day (the 1st, UTC, by default) would see this period's usage start again."""
        reset_day = (datetime.now(UTC).day + 13) % 28 + 1  # as billing_harness.reset_day_away_from (its own tree)
        await self.call("PUT", "/credits/plan", json={"reset_day": reset_day}, as_operator=True)

        async def moved() -> bool:
            plan = (await self.call("GET", "/credits"))["plan"]  # None until billing has opened the account
            return plan is not None and plan["reset_day"] == reset_day

        await eventually(moved, f"billing resetting on day {reset_day}", 60, every=0.5)


@dataclass
class Delivered:
    """What the channel provider received for one account."""

    outbound: list[dict[str, Any]] = field(default_factory=list)
    handoffs: list[dict[str, Any]] = field(default_factory=list)


class ChannelProvider:
    """Publishes visitors' messages and collects what the system sends back."""

    def __init__(self, bootstrap_servers: str) -> None:
        self._bootstrap = bootstrap_servers
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.received: dict[str, Delivered] = {}
        self._seen_event_ids: set[str] = set()

    async def start(self) -> None:
        """Connect and start reading outbound and handoff topics from their current end."""
        self._producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, acks="all")
        await self._producer.start()
        self._consumer = AIOKafkaConsumer(
            OUTBOUND,
            HANDOFFS,
            bootstrap_servers=self._bootstrap,
            group_id=f"e2e-provider-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="latest",
            enable_auto_commit=False,
        )
        await self._consumer.start()
        consumer = self._consumer

        async def assigned() -> bool:
            return bool(consumer.assignment())

        await eventually(assigned, "the provider's partitions assigned", 30)
        for partition in consumer.assignment():
            await consumer.position(partition)
        self._task = asyncio.create_task(self._collect())

    async def stop(self) -> None:
        """Disconnect."""
        if self._task:
            self._task.cancel()
        if self._consumer:
            await self._consumer.stop()
        if self._producer:
            await self._producer.stop()

    async def _collect(self) -> None:
        assert self._consumer is not None
        async for record in self._consumer:
            try:
                event = json.loads(record.value or b"")
            except ValueError:
                continue
            data = event.get("data") or {}
            delivered = self.received.setdefault(str(data.get("account_id")), Delivered())
            # Duplicate deliveries carry the same CloudEvent id; a provider drops them.
            if event.get("id") in self._seen_event_ids:
                continue
            self._seen_event_ids.add(str(event.get("id")))
            if record.topic == OUTBOUND:
                delivered.outbound.append(data)
            else:
                delivered.handoffs.append({"type": event.get("type"), **data})

    async def send(
        self,
        account_id: str,
        thread_id: str,
        text: str,
        *,
        channel: tuple[str, str] = ("live_chat", "web"),
        locale: str | None = "en-GB",
        message_id: str | None = None,
        event_id: str | None = None,
    ) -> str:
        """Publish one ``message.received`` exactly as a channel provider would; return its message id."""
        assert self._producer is not None
        message_id = message_id or f"msg-{uuid.uuid4().hex[:10]}"
        now = datetime.now(UTC).isoformat()
        sender: dict[str, Any] = {"id": f"visitor-{thread_id}", "name": "Visitor"}
        if locale:
            sender["locale"] = locale
        event = {
            "specversion": "1.0",
            "id": event_id or f"evt-{uuid.uuid4().hex}",
            "source": "e2e-channel-provider",
            "type": "message.received",
            "time": now,
            "datacontenttype": "application/json",
            "accountid": account_id,
            "data": {
                "account_id": account_id,
                "channel": {"type": channel[0], "id": channel[1]},
                "thread_id": thread_id,
                "message_id": message_id,
                "sender": sender,
                "text": text,
                "sent_at": now,
            },
        }
        await self._publish(json.dumps(event).encode(), f"{account_id}:{thread_id}".encode())
        return message_id

    async def _publish(self, value: bytes, key: bytes, patience_seconds: float = 90) -> None:
        """Send until the broker takes it, as a real provider would: a broker restarting answers with
        retriable errors (no leader yet) for a while. A retry after a lost acknowledgement may publish the
        event twice; the services drop the copy by its id."""
        assert self._producer is not None
        deadline = asyncio.get_running_loop().time() + patience_seconds
        while True:
            try:
                await self._producer.send_and_wait(INBOUND, value, key=key)
                return
            except KafkaError as error:
                if not error.retriable or asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.5)

    async def reply_to(self, account_id: str, message_id: str, timeout_seconds: float = 30) -> dict[str, Any]:
        """Wait for the outbound message answering ``message_id``."""
        return await self._wait(
            lambda: [m for m in self._outbound(account_id) if m.get("reply_to") == message_id],
            f"a reply to {message_id}",
            timeout_seconds,
        )

    async def handoff(self, account_id: str, thread_id: str, timeout_seconds: float = 30) -> dict[str, Any]:
        """Wait for the thread.handed_off event of a thread."""
        return await self._wait(
            lambda: [
                h
                for h in self._handoffs(account_id)
                if h.get("thread_id") == thread_id and h["type"] == "thread.handed_off"
            ],
            f"a handoff of {thread_id}",
            timeout_seconds,
        )

    def replies(self, account_id: str, message_id: str) -> list[dict[str, Any]]:
        """Every outbound message answering ``message_id`` received so far."""
        return [m for m in self._outbound(account_id) if m.get("reply_to") == message_id]

    def handoffs(self, account_id: str) -> list[dict[str, Any]]:
        """Every thread.handed_off event of the account received so far."""
        return [h for h in self._handoffs(account_id) if h["type"] == "thread.handed_off"]

    def _outbound(self, account_id: str) -> list[dict[str, Any]]:
        return self.received.get(account_id, Delivered()).outbound

    def _handoffs(self, account_id: str) -> list[dict[str, Any]]:
        return self.received.get(account_id, Delivered()).handoffs

    @staticmethod
    async def _wait(find: Callable[[], list[dict[str, Any]]], what: str, timeout_seconds: float) -> dict[str, Any]:
        """The first of what ``find`` returns, once it returns something (the reader fills it meanwhile)."""

        async def first() -> dict[str, Any] | None:
            found = find()
            return dict(found[0]) if found else None

        return await eventually(first, what, timeout_seconds, every=0.1)
