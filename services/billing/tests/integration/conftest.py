"""Fixtures of billing's integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from billing_service.bootstrap import BillingService
from customer_agent_shared.settings import InfrastructureSettings
from sqlalchemy.ext.asyncio import AsyncEngine

from .billing_harness import built_billing


@pytest.fixture
async def billing(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> AsyncIterator[BillingService]:
    """A billing process, built but not started, over a freshly migrated scratch schema."""
    async with built_billing(infrastructure.database_url, scratch_schema[1]) as service:
        yield service
