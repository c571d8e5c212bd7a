"""Threads webchat holds, and each thread's replay buffer, in Redis (shared by every replica).

Per thread (keys share a hash tag, so a Redis Cluster keeps them on one node):
``meta`` (channel, visitor, the last frame id a socket delivered), ``feed`` (a capped stream of the
frames to deliver) and ``seen`` (CloudEvent ids already appended). Appending is one Lua script, so a
redelivered event is dropped exactly, and every replica is told through Redis pub/sub.
"""

from __future__ import annotations

import json
from typing import Any, cast

from redis.asyncio import Redis

from webchat_service.domain.sessions import ThreadRef

NOTIFY_PREFIX = "webchat:notify:"
START = "0-0"
READ_BATCH = 50
"""Most frames one read of a replay buffer returns."""

# KEYS: meta, feed, seen. ARGV: channel id, event id, frame, max entries, ttl, notify channel.
_APPEND = """
if redis.call('HGET', KEYS[1], 'channel') ~= ARGV[1] then return 0 end
if redis.call('SADD', KEYS[3], ARGV[2]) == 0 then return -1 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'frame', ARGV[3])
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[5]) end
redis.call('PUBLISH', ARGV[6], '1')
return 1
"""


def notify_channel(account_id: str, thread_id: str) -> str:
    """The pub/sub channel announcing new frames of a thread."""
    return f"{NOTIFY_PREFIX}{account_id}:{thread_id}"


def _keys(account_id: str, thread_id: str) -> tuple[str, str, str]:
    tag = f"webchat:{{{account_id}:{thread_id}}}"
    return f"{tag}:meta", f"{tag}:feed", f"{tag}:seen"


class ThreadStore:
    """Registers threads, appends frames once per event id, and reads them back in order."""

    def __init__(self, redis: Redis, *, ttl_seconds: int, max_entries: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._append = redis.register_script(_APPEND)

    async def register(self, thread: ThreadRef, visitor_id: str) -> None:
        """Hold a new thread: replies to it are kept from now on."""
        meta, _, _ = _keys(thread.account_id, thread.thread_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(meta, mapping={"channel": thread.channel_id, "visitor": visitor_id, "cursor": START})
            pipe.expire(meta, self._ttl)
            await pipe.execute()

    async def visitor_of(self, thread: ThreadRef) -> str | None:
        """The visitor of a held thread on this channel (its TTL refreshed), or None."""
        meta, _, _ = _keys(thread.account_id, thread.thread_id)
        channel, visitor = await self._redis.hmget(meta, ["channel", "visitor"])
        if channel is None or visitor is None or _text(channel) != thread.channel_id:
            return None
        await self.touch(thread)
        return _text(visitor)

    async def touch(self, thread: ThreadRef) -> None:
        """Keep a thread the visitor is using."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in _keys(thread.account_id, thread.thread_id):
                pipe.expire(key, self._ttl)
            await pipe.execute()

    async def append(self, thread: ThreadRef, *, event_id: str, frame: dict[str, Any]) -> str:
        """Append a frame for the thread: 'appended', 'duplicate', or 'not_held' (another provider's thread)."""
        keys = _keys(thread.account_id, thread.thread_id)
        channel = notify_channel(thread.account_id, thread.thread_id)
        body = json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
        result = await self._append(
            keys=list(keys), args=[thread.channel_id, event_id, body, self._max_entries, self._ttl, channel]
        )
        return {1: "appended", -1: "duplicate"}.get(int(result), "not_held")

    async def frames_after(self, thread: ThreadRef, entry_id: str, *, count: int = READ_BATCH) -> list[tuple[str, str]]:
        """Frames appended after ``entry_id``, oldest first, as (entry id, JSON text)."""
        _, feed, _ = _keys(thread.account_id, thread.thread_id)
        entries = cast(
            "list[tuple[bytes, dict[bytes, bytes]]]",
            await self._redis.xrange(feed, min=f"({entry_id}", max="+", count=count),
        )
        return [(_text(entry), _text(fields[b"frame"])) for entry, fields in entries]

    async def cursor(self, thread: ThreadRef) -> str:
        """The last frame a socket of this thread delivered."""
        meta, _, _ = _keys(thread.account_id, thread.thread_id)
        value = await self._redis.hget(meta, "cursor")
        return START if value is None else _text(value)

    async def delivered(self, thread: ThreadRef, entry_id: str) -> None:
        """Remember that the visitor received the frame ``entry_id`` (a reconnect starts after it)."""
        meta, _, _ = _keys(thread.account_id, thread.thread_id)
        await self._redis.hset(meta, "cursor", entry_id)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
