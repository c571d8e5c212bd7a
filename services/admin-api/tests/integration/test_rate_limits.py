"""Request budgets in the real Redis: per key, stricter for previews, per address without a valid key; 429 with
Retry-After; a Redis outage lets requests through (logged and counted) instead of taking the API down."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import pytest
from admin_api.adapters.rate_limits import UNCHECKED, Budgets, RequestBudgets, redis_budgets
from admin_api.domain.errors import TooManyRequests
from customer_agent_shared.testing.kafka import unique_name

from .harness import OPERATOR, Harness

pytestmark = pytest.mark.integration

SMALL = Budgets(per_key="4/minute", preview_per_key="2/minute", failed_authentication_per_client="3/minute")
DEAD_REDIS = "redis://127.0.0.1:1/0"


@asynccontextmanager
async def budgets_of(harness: Harness, budgets: Budgets, redis_url: str) -> AsyncIterator[RequestBudgets]:
    """The running app charges these budgets (fresh keys in Redis) for the duration."""
    api = harness.service.api
    assert api is not None
    small, pool = redis_budgets(redis_url, budgets, key_prefix=unique_name("rate-test"), outage_pause_seconds=30.0)
    real, api.budgets = api.budgets, small
    try:
        yield small
    finally:
        api.budgets = real
        await pool.disconnect()


async def test_a_key_past_its_budget_gets_429_with_retry_after(harness: Harness) -> None:
    client, account, other = harness.client, await harness.new_account(), await harness.new_account()
    async with budgets_of(harness, SMALL, harness.settings.redis_url):
        for _ in range(4):
            assert (await client.get(account.path("/agent"), headers=account.read)).status_code == 200
        refused = await client.get(account.path("/sources"), headers=account.read)
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        # another key of the same account has a budget of its own; so has another account
        assert (await client.get(account.path("/agent"), headers=account.edit)).status_code == 200
        assert (await client.get(other.path("/agent"), headers=other.read)).status_code == 200


async def test_previews_have_a_stricter_budget(harness: Harness) -> None:
    client, account = harness.client, await harness.new_account()
    keys = (await client.get(f"/v1/accounts/{account.id}/api-keys", headers=OPERATOR)).json()
    read_key_id = next(key["id"] for key in keys if key["permissions"] == ["customer_agent:read"])
    async with budgets_of(harness, replace(SMALL, per_key="10/minute"), harness.settings.redis_url) as budgets:
        await budgets.charge_key(read_key_id, preview=True)
        await budgets.charge_key(read_key_id, preview=True)
        with pytest.raises(TooManyRequests) as refused:
            await budgets.charge_key(read_key_id, preview=True)
        assert "preview budget" in refused.value.message
        # other requests of the key still pass, a preview does not
        assert (await client.get(account.path("/agent"), headers=account.read)).status_code == 200
        third = await client.post(account.path("/agent/preview"), json={"text": "hi"}, headers=account.read)
    assert third.status_code == 429, third.text
    assert "preview budget" in third.json()["error"]["message"]


async def test_requests_without_a_valid_key_are_limited_per_address(harness: Harness) -> None:
    client, account = harness.client, await harness.new_account()
    forged = {"Authorization": "Bearer cak_forged"}
    async with budgets_of(harness, SMALL, harness.settings.redis_url):
        statuses = [(await client.get(account.path("/agent"), headers=forged)).status_code for _ in range(3)]
        assert statuses == [401, 401, 401]
        assert (await client.post("/v1/accounts", json={"id": "x", "name": "x"}, headers=forged)).status_code == 429
        # a valid key from the same address is not held back by others' failures
        assert (await client.get(account.path("/agent"), headers=account.read)).status_code == 200
        assert (await client.get(f"/v1/accounts/{account.id}/api-keys", headers=OPERATOR)).status_code == 200


async def test_a_redis_outage_lets_requests_through_logged_and_counted(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    client, account = harness.client, await harness.new_account()
    unchecked_before = UNCHECKED._value.get()
    async with budgets_of(harness, SMALL, DEAD_REDIS):
        with caplog.at_level(logging.WARNING, logger="admin_api.adapters.rate_limits"):
            started = time.monotonic()
            statuses = [(await client.get(account.path("/agent"), headers=account.read)).status_code for _ in range(8)]
            elapsed = time.monotonic() - started
    assert statuses == [200] * 8  # twice the key's budget, unchecked
    assert UNCHECKED._value.get() - unchecked_before == 8
    assert [r.message for r in caplog.records].count(
        "rate limits unchecked: Redis failed; requests pass without limits until it answers again"
    ) == 1  # then Redis is left alone for a while: one failed attempt, not one per request
    assert elapsed < 5.0
