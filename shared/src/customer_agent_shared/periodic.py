"""A background task that runs one step every interval, for a service's own periodic work (sweeps, retention)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


class Periodic:
    """Runs ``step`` every ``interval_seconds`` in a background task (never when the interval is 0); a failed
    step is logged and tried again at the next interval."""

    def __init__(self, name: str, step: Callable[[], Awaitable[None]], *, interval_seconds: float) -> None:
        self._name = name
        self._step = step
        self._interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self._step()
            except Exception:
                logger.exception("%s failed; retrying at the next interval", self._name)

    async def start(self) -> None:
        """Start the periodic task (no-op when the interval is 0)."""
        if self._interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._loop(), name=self._name)

    async def stop(self) -> None:
        """Stop the periodic task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
