"""Webchat in-process on real Kafka and Redis, served by uvicorn on a free port, and a visitor's socket."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import uvicorn
from customer_agent_shared.events.channels import (
    MESSAGE_SEND,
    THREAD_HANDED_OFF,
    Assignee,
    Author,
    ChannelRef,
    ChannelType,
    Citation,
    HandoffReason,
    MessageSend,
    ThreadHandedOff,
    TranscriptEntry,
)
from customer_agent_shared.events.envelope import CloudEvent, make_event, serialize_event
from customer_agent_shared.testing.kafka import produce_raw, unique_name, wait_for_assignment
from customer_agent_shared.testing.plumbing import eventually
from customer_agent_shared.topics import CHANNELS_OUTBOUND, INBOX_HANDOFFS
from webchat_service.adapters.threads import START
from webchat_service.bootstrap import WebchatService, build_service, create_app
from webchat_service.domain.sessions import ThreadRef
from webchat_service.settings import WebchatSettings
from websockets.asyncio.client import ClientConnection, connect


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningWebchat:
    """A started webchat and where its socket answers."""

    service: WebchatService
    port: int
    bootstrap_servers: str

    @property
    def origin(self) -> str:
        """The origin of the pages webchat serves itself."""
        return f"http://127.0.0.1:{self.port}"

    def socket_url(self, account_id: str, channel_id: str, thread_id: str | None = None) -> str:
        """The visitor's WebSocket address, each id escaped as the widget does (``encodeURIComponent``)."""
        query = f"?thread_id={quote(thread_id, safe='')}" if thread_id else ""
        path = f"/v1/webchat/{quote(account_id, safe='')}/{quote(channel_id, safe='')}"
        return f"ws://127.0.0.1:{self.port}{path}{query}"

    @asynccontextmanager
    async def visitor(
        self, account_id: str, channel_id: str, *, thread_id: str | None = None, origin: str | None = None
    ) -> AsyncIterator[ClientConnection]:
        """An open socket, as the widget opens it from a page of ``origin`` (webchat's own by default)."""
        url = self.socket_url(account_id, channel_id, thread_id)
        async with connect(url, origin=origin or self.origin, open_timeout=10) as connection:  # type: ignore[arg-type]
            yield connection

    async def kept(self, account_id: str, channel_id: str, thread_id: str) -> list[dict[str, Any]]:
        """The frames webchat keeps for a thread (what a reconnecting socket gets replayed), oldest first."""
        frames = await self.service.chat.store.frames_after(ThreadRef(account_id, channel_id, thread_id), START)
        return [json.loads(frame) for _, frame in frames]

    async def publish(self, topic: str, event: CloudEvent[Any], thread_id: str) -> None:
        """Publish an event as routing or conversation does (structured CloudEvent, per-thread key)."""
        key = f"{event.accountid}:{thread_id}".encode()
        await produce_raw(self.bootstrap_servers, topic, serialize_event(event), key=key)

    async def reply(self, event: CloudEvent[MessageSend]) -> None:
        """Publish a ``message.send``."""
        await self.publish(CHANNELS_OUTBOUND, event, event.data.thread_id)

    async def hand_off(self, event: CloudEvent[ThreadHandedOff]) -> None:
        """Publish a ``thread.handed_off``."""
        await self.publish(INBOX_HANDOFFS, event, event.data.thread_id)


@asynccontextmanager
async def running_webchat(bootstrap_servers: str, **overrides: Any) -> AsyncIterator[RunningWebchat]:
    """Webchat with its own consumer group reading from now on, served until the block ends."""
    port = free_port()
    # Every test's socket comes from 127.0.0.1: a budget of their own (the key holds the limit) keeps them
    # from spending the one the stack's webchat gives the browser tests, and from a 429 on a second run.
    overrides.setdefault("sessions_per_address", "1000/minute")
    settings = WebchatSettings(
        service_name="webchat",
        http_port=port,
        consumer_group=unique_name("webchat.test"),
        consumer_offset_reset="latest",
        **overrides,
    )
    service = build_service(settings)
    app = create_app(service=service)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        lifespan="on",
        ws="websockets-sansio",
        ws_max_size=settings.max_frame_bytes,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())

    async def started() -> bool:
        if serving.done():
            serving.result()  # a failed start-up fails the test with its own error
        return server.started

    try:
        await eventually(started, "webchat serving", within=60)
        await wait_for_assignment(service.broker)
        yield RunningWebchat(service, port, bootstrap_servers)
    finally:
        server.should_exit = True
        await serving


async def receive(connection: ClientConnection) -> dict[str, Any]:
    """The next frame the server sends, decoded (20 s at most)."""
    async with asyncio.timeout(20):
        frame: dict[str, Any] = json.loads(await connection.recv())
    return frame


def reply_event(account_id: str, thread_id: str, text: str, *, channel_id: str = "web") -> CloudEvent[MessageSend]:
    """A ``message.send`` as conversation publishes an answer, with a web page and a file cited."""
    data = MessageSend(
        account_id=account_id,
        channel=ChannelRef(type=ChannelType.LIVE_CHAT, id=channel_id),
        thread_id=thread_id,
        reply_to=unique_name("msg"),
        text=text,
        language="en",
        kind="answer",
        author=Author(kind="ai_agent", name="Ava"),
        citations=[
            Citation(title="Password help", url="https://acme.example/help/password"),
            Citation(title="handbook.pdf", url="handbook.pdf"),
        ],
        powered_by_ai=True,
    )
    return make_event(MESSAGE_SEND, data, source="conversation", account_id=account_id)


def handoff_event(
    account_id: str, thread_id: str, *, channel_id: str = "web", assignee_id: str = "ada"
) -> CloudEvent[ThreadHandedOff]:
    """A ``thread.handed_off`` to user ``assignee_id`` as routing publishes it when the agent is paused."""
    data = ThreadHandedOff(
        account_id=account_id,
        channel=ChannelRef(type=ChannelType.LIVE_CHAT, id=channel_id),
        thread_id=thread_id,
        reason=HandoffReason.AGENT_PAUSED,
        assignee=Assignee(kind="user", id=assignee_id),
        update_avatar=True,
        transcript=[TranscriptEntry(role="visitor", text="hello", at=datetime.now(UTC))],
    )
    return make_event(THREAD_HANDED_OFF, data, source="routing", account_id=account_id)
