"""A closed chat ends its handler even when one of its tasks ignores its cancellation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from webchat_service.entrypoints import websocket


async def test_a_task_that_ignores_its_cancellation_does_not_hold_the_handler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    released = asyncio.Event()

    async def read(*_: Any) -> None:
        return None  # the visitor went away

    async def deliver(*_: Any) -> None:
        while not released.is_set():  # as a wait that swallowed the cancellation would leave it
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                continue

    monkeypatch.setattr(websocket, "_read", read)
    monkeypatch.setattr(websocket, "_deliver", deliver)
    monkeypatch.setattr(websocket, "CANCEL_WAIT_SECONDS", 0.1)
    try:
        async with asyncio.timeout(2.0):
            await websocket._converse(None, None, None)  # type: ignore[arg-type]
    finally:
        released.set()
