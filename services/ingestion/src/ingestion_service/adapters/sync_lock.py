"""Leases in Redis: one replica crawls a source at a time, and one computes vectors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from redis.asyncio import Redis

logger = logging.getLogger(__name__)

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""


class SyncLeases:
    """``SET NX EX`` leases renewed while held; a crashed holder's lease expires after ``ttl_seconds``."""

    def __init__(self, redis: Redis, *, prefix: str, ttl_seconds: int = 120) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl_seconds

    def _key(self, account_id: str, source_id: str) -> str:
        return f"{self._prefix}:sync-lease:{account_id}:{source_id}"

    def hold_embedding(self) -> AbstractAsyncContextManager[bool]:
        """The lease of the one replica that computes chunk vectors."""
        return self._hold(f"{self._prefix}:embedding-lease")

    def hold(self, account_id: str, source_id: str) -> AbstractAsyncContextManager[bool]:
        """Yield True while this process holds the source's lease, False if another one does."""
        return self._hold(self._key(account_id, source_id))

    @asynccontextmanager
    async def _hold(self, key: str) -> AsyncIterator[bool]:
        token = uuid.uuid4().hex
        try:
            acquired = bool(await self._redis.set(key, token, nx=True, ex=self._ttl))
        except Exception as error:  # Redis down: crawl anyway (duplicates are idempotent, just wasteful)
            logger.warning("sync lease unavailable; syncing without it", extra={"error": str(error)})
            yield True
            return
        if not acquired:
            yield False
            return

        async def renew() -> None:
            while True:
                await asyncio.sleep(self._ttl / 3)
                with contextlib.suppress(Exception):
                    await self._redis.expire(key, self._ttl)

        renewer = asyncio.create_task(renew())
        try:
            yield True
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            with contextlib.suppress(Exception):
                await self._redis.eval(_RELEASE, 1, key, token)
