"""Client factories for Redis and OpenSearch, with readiness checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from opensearchpy import AsyncOpenSearch, JSONSerializer
from opensearchpy.exceptions import SerializationError
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError


def create_redis_client(redis_url: str) -> Redis:
    """A Redis client with short timeouts so a dead Redis never stalls a handler for long.

    A connection error is retried twice on a fresh connection: after a Redis restart the pooled
    connections are dead, and the first command must not fail because of that.
    """
    return Redis.from_url(
        redis_url,
        socket_timeout=2.0,
        socket_connect_timeout=2.0,
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
        retry_on_error=[RedisConnectionError],
    )


class OrjsonSerializer(JSONSerializer):
    """The client's JSON, both ways, through orjson: the standard encoder and decoder cost a search
    batch more CPU than building its queries does. Text orjson refuses (lone surrogates, keys that are
    not strings) goes through the standard encoder, as before."""

    def loads(self, s: str) -> Any:
        """Parse a response body."""
        try:
            return orjson.loads(s)
        except orjson.JSONDecodeError as error:
            raise SerializationError(s, error) from error

    def dumps(self, data: Any) -> Any:
        """Serialise a request body (a string is sent as it is)."""
        if isinstance(data, str):
            return data
        try:
            return orjson.dumps(data, default=self.default).decode()
        except orjson.JSONEncodeError:
            return super().dumps(data)


def create_opensearch_client(opensearch_url: str) -> AsyncOpenSearch:
    """An async OpenSearch client for one cluster URL."""
    return AsyncOpenSearch(
        hosts=[opensearch_url], timeout=10, max_retries=2, retry_on_timeout=True, serializer=OrjsonSerializer()
    )


def redis_readiness(redis: Redis) -> Callable[[], Awaitable[bool]]:
    """Readiness check: Redis answers PING."""

    async def check() -> bool:
        return bool(await redis.ping())

    return check


def opensearch_readiness(client: AsyncOpenSearch) -> Callable[[], Awaitable[bool]]:
    """Readiness check: the cluster is at least yellow."""

    async def check() -> bool:
        health = await client.cluster.health()
        return health.get("status") in {"yellow", "green"}

    return check
