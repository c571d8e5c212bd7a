"""Per-source sync leases on the real Redis: one holder at a time, released on exit."""

from __future__ import annotations

import pytest
from customer_agent_shared.testing.kafka import unique_name
from ingestion_service.adapters.sync_lock import SyncLeases
from redis.asyncio import Redis

pytestmark = pytest.mark.integration


async def test_only_one_holder_per_source(redis_client: Redis) -> None:
    leases = SyncLeases(redis_client, prefix=unique_name("lease-test"), ttl_seconds=30)
    async with leases.hold("acc", "src") as first:
        assert first is True
        async with leases.hold("acc", "src") as second:
            assert second is False
        async with leases.hold("acc", "other") as different_source:
            assert different_source is True
    async with leases.hold("acc", "src") as again:
        assert again is True
