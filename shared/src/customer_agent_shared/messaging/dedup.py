"""Fast duplicate detection on event ids in Redis.

This is the first line of defence (cheap, shared by replicas). Services whose
handlers change PostgreSQL state also claim the id in their transaction
(``persistence.inbox``), which stays exact if Redis is unavailable or evicted.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis

logger = logging.getLogger(__name__)


class ProcessedEventRegistry:
    """Remembers handled event ids per consumer for a bounded time."""

    def __init__(self, redis: Redis, *, ttl_seconds: int = 7 * 24 * 3600) -> None:
        self._redis = redis
        self._ttl = ttl_seconds

    @staticmethod
    def _key(consumer: str, event_id: str) -> str:
        return f"processed:{consumer}:{event_id}"

    async def was_processed(self, consumer: str, event_id: str) -> bool:
        """True if the event was handled; False also when Redis cannot be reached."""
        try:
            return bool(await self._redis.exists(self._key(consumer, event_id)))
        except Exception as error:  # Redis down: fall through to the handler's own guard
            logger.warning("dedup lookup failed; handling anyway", extra={"error": str(error)})
            return False

    async def mark_processed(self, consumer: str, event_id: str) -> None:
        """Remember the event as handled (best effort)."""
        try:
            await self._redis.set(self._key(consumer, event_id), b"1", ex=self._ttl)
        except Exception as error:
            logger.warning("dedup mark failed", extra={"error": str(error)})
