"""Fixtures for end-to-end tests: the five running services, driven only through REST and Kafka."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.e2e.journey import AdminClient, ChannelProvider


@pytest.fixture
async def operator_http() -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for admin-api with the operator's bootstrap token."""
    base = f"http://127.0.0.1:{os.environ.get('ADMIN_HTTP_PORT', '8000')}"
    token = os.environ.get("ADMIN_BOOTSTRAP_TOKEN", "dev-bootstrap-token")
    async with httpx.AsyncClient(base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.fixture
async def admin(operator_http: httpx.AsyncClient) -> AsyncIterator[AdminClient]:
    """A fresh account with an edit key; its sources are removed afterwards."""
    client = await AdminClient.create_account(operator_http)
    yield client
    problems = await client.remove_sources()
    if problems:
        logging.getLogger(__name__).warning("e2e account %s kept content: %s", client.account_id, problems)
    await client.close()


@pytest.fixture
async def provider() -> AsyncIterator[ChannelProvider]:
    """A channel provider publishing with a plain Kafka producer and reading the outbound topics."""
    channel_provider = ChannelProvider(os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    await channel_provider.start()
    yield channel_provider
    await channel_provider.stop()
