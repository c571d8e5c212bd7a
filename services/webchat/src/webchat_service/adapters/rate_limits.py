"""Visitor budgets in Redis with the limits library (moving windows), shared by every replica.

A Redis failure lets the visitor through unchecked (logged and counted): the chat must not stop
because its rate-limit store did.
"""

from __future__ import annotations

import logging

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

UNCHECKED = Counter(
    "customer_agent_webchat_rate_limit_unchecked_total",
    "Visitor frames or sockets let through without a rate-limit check because Redis failed.",
)


class VisitorBudgets:
    """Messages per visitor and new chats per client address."""

    def __init__(self, redis: Redis, *, redis_url: str, messages_per_visitor: str, sessions_per_address: str) -> None:
        # limits types its options as scalars, but hands them to the redis client, which takes the pool.
        storage = RedisStorage(
            f"async+{redis_url}",
            implementation="redispy",
            key_prefix="webchat-limits",
            connection_pool=redis.connection_pool,  # type: ignore[arg-type]
        )
        self._limiter = MovingWindowRateLimiter(storage)
        self.message_limit: RateLimitItem = parse(messages_per_visitor)
        self.session_limit: RateLimitItem = parse(sessions_per_address)

    async def allow_message(self, visitor_id: str) -> bool:
        """Charge one message to the visitor; False when over budget."""
        return await self._hit(self.message_limit, "message", visitor_id)

    async def allow_session(self, address: str) -> bool:
        """Charge one new chat to the client address; False when over budget."""
        return await self._hit(self.session_limit, "session", address)

    async def _hit(self, item: RateLimitItem, budget: str, identifier: str) -> bool:
        try:
            return await self._limiter.hit(item, budget, identifier)
        except (RedisError, StorageError, OSError) as error:
            UNCHECKED.inc()
            logger.warning("rate limit unchecked: Redis failed", extra={"error": repr(error), "budget": budget})
            return True
