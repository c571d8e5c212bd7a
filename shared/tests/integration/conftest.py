"""Fixtures of the shared library's integration tests."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from .greeting_store import Store, make_store


@pytest.fixture
async def store(scratch_schema: tuple[AsyncEngine, str]) -> Store:
    """A scratch schema with an outbox, an inbox and a greetings table."""
    return await make_store(scratch_schema)
