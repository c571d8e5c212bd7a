"""Wakes this replica's sockets when a frame is appended to their thread (Redis pub/sub).

One pattern subscription per replica hears every thread's notifications and sets the events of the
sockets that wait on that thread; the sockets then read the replay buffer. A notification lost while
the subscription was down is covered by waking every socket on resubscribe, and by each socket
re-reading its buffer every ``feed_poll_seconds`` anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

from redis.asyncio import Redis
from redis.exceptions import RedisError

from webchat_service.adapters.threads import NOTIFY_PREFIX, notify_channel
from webchat_service.domain.sessions import ThreadRef

logger = logging.getLogger(__name__)


class ThreadFeed:
    """Per-replica registry of sockets waiting for their thread's frames."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._waiting: dict[str, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None
        self.listening = False

    @contextlib.contextmanager
    def watch(self, thread: ThreadRef) -> Iterator[asyncio.Event]:
        """An event set whenever the thread gets a frame, for as long as the ``with`` block runs."""
        channel = notify_channel(thread.account_id, thread.thread_id)
        event = asyncio.Event()
        self._waiting.setdefault(channel, set()).add(event)
        try:
            yield event
        finally:
            waiting = self._waiting.get(channel)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._waiting[channel]

    @property
    def sockets(self) -> int:
        """How many sockets wait on this replica."""
        return sum(len(events) for events in self._waiting.values())

    async def start(self) -> None:
        """Subscribe in the background."""
        self._task = asyncio.create_task(self._listen(), name="webchat thread feed")

    async def stop(self) -> None:
        """Unsubscribe."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def not_ready_reason(self) -> str | None:
        """Why replies cannot reach this replica's sockets now, if they cannot."""
        return None if self.listening else "not subscribed to thread notifications in Redis"

    async def _listen(self) -> None:
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(f"{NOTIFY_PREFIX}*")
                self.listening = True
                self._wake_all()  # whatever was appended while nobody listened
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        self._wake(message["channel"])
            except (RedisError, OSError) as error:
                self.listening = False
                logger.warning("thread notifications interrupted; resubscribing", extra={"error": repr(error)})
                await asyncio.sleep(1.0)
            finally:
                self.listening = False
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _wake(self, channel: bytes | str) -> None:
        name = channel.decode() if isinstance(channel, bytes) else channel
        for event in self._waiting.get(name, ()):
            event.set()

    def _wake_all(self) -> None:
        for events in self._waiting.values():
            for event in events:
                event.set()
