"""Request budgets kept in Redis with the limits library (moving windows), shared by every replica.

A Redis failure lets requests through unchecked (logged and counted) and leaves Redis alone for a while:
the API must not go down, or slow down, with its rate-limit store."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from prometheus_client import Counter
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError

from admin_api.domain.errors import TooManyRequests

logger = logging.getLogger(__name__)

REDIS_TIMEOUT_SECONDS = 0.5
STORE_ERRORS = (RedisError, StorageError, OSError)

RATE_LIMITED = Counter(
    "customer_agent_admin_api_rate_limited_total",
    "Requests refused with 429, by budget (key, preview, failed_authentication).",
    ["budget"],
)
UNCHECKED = Counter(
    "customer_agent_admin_api_rate_limit_unchecked_total",
    "Requests let through without a rate-limit check because Redis failed (or recently failed).",
)


@dataclass(frozen=True)
class Budgets:
    """How many requests each budget allows, in the limits library's notation (e.g. '1200/minute')."""

    per_key: str
    preview_per_key: str
    failed_authentication_per_client: str


class RequestBudgets:
    """Charges requests to budgets; raises TooManyRequests when one is used up."""

    def __init__(
        self,
        storage: Storage,
        budgets: Budgets,
        *,
        outage_pause_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self._items: dict[str, RateLimitItem] = {
            "key": parse(budgets.per_key),
            "preview": parse(budgets.preview_per_key),
            "failed_authentication": parse(budgets.failed_authentication_per_client),
        }
        self._outage_pause = outage_pause_seconds
        self._clock = clock
        self._unchecked_until: float | None = None

    async def charge_key(self, key_id: str, *, preview: bool = False) -> None:
        """One request of this API key (a preview also counts against the stricter preview budget)."""
        await self._charge("key", key_id, f"This API key is over its request budget ({self._items['key']})")
        if preview:
            await self._charge("preview", key_id, f"This API key is over its preview budget ({self._items['preview']})")

    async def charge_failed_authentication(self, client: str) -> None:
        """One request from this client address that carried no valid key."""
        budget = self._items["failed_authentication"]
        await self._charge(
            "failed_authentication", client, f"Too many requests without a valid key from this address ({budget})"
        )

    async def _charge(self, budget: str, identifier: str, refusal: str) -> None:
        if self._unchecked_until is not None and self._clock() < self._unchecked_until:
            UNCHECKED.inc()
            return
        item = self._items[budget]
        try:
            if await self._limiter.hit(item, budget, identifier):
                self._store_answered()
                return
            stats = await self._limiter.get_window_stats(item, budget, identifier)
        except STORE_ERRORS as error:
            self._store_failed(error)
            return
        RATE_LIMITED.labels(budget=budget).inc()
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise TooManyRequests(f"{refusal}; retry in {retry_after} s.", retry_after_seconds=retry_after)

    def _store_failed(self, error: BaseException) -> None:
        UNCHECKED.inc()
        self._unchecked_until = self._clock() + self._outage_pause
        logger.warning(
            "rate limits unchecked: Redis failed; requests pass without limits until it answers again",
            extra={"error": repr(error), "retry_in_seconds": self._outage_pause},
        )

    def _store_answered(self) -> None:
        if self._unchecked_until is not None:
            self._unchecked_until = None
            logger.info("rate limits checked again: Redis answers")


def redis_budgets(
    redis_url: str, budgets: Budgets, *, key_prefix: str, outage_pause_seconds: float
) -> tuple[RequestBudgets, ConnectionPool]:
    """Budgets in the Redis at ``redis_url``, on a pool of their own with short timeouts (close it on stop)."""
    pool = ConnectionPool.from_url(
        redis_url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
    )
    # limits types its options as scalars, but hands them to the redis client, which takes the pool.
    storage = RedisStorage(
        f"async+{redis_url}",
        implementation="redispy",
        key_prefix=key_prefix,
        connection_pool=pool,  # type: ignore[arg-type]
    )
    return RequestBudgets(storage, budgets, outage_pause_seconds=outage_pause_seconds), pool
