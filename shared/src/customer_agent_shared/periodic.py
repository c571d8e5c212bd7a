"""A background task that runs one step every interval, for a service's own periodic work (sweeps, retention)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


class Periodic:
    """Runs ``step`` every ``interval_seconds`` in a background task (never when the interval is 0); a failed
    step is logged and tried again at the next interval.

    ``first_at_start``: the first step runs at once, not after an interval. ``finish_on_stop``: ``stop`` lets
    a running step finish instead of cancelling it; a long step may check ``stopping`` to end early where it
    can.
    """

    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[None]],
        *,
        interval_seconds: float,
        first_at_start: bool = False,
        finish_on_stop: bool = False,
    ) -> None:
        self._name = name
        self._step = step
        self._interval = interval_seconds
        self._first_at_start = first_at_start
        self._finish_on_stop = finish_on_stop
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def stopping(self) -> bool:
        """Whether ``stop`` was called: the step running now is the last."""
        return self._stopping.is_set()

    async def _loop(self) -> None:
        if not self._first_at_start:
            await self._pause()
        while not self._stopping.is_set():
            try:
                await self._step()
            except Exception:
                logger.exception("%s failed; retrying at the next interval", self._name)
            await self._pause()

    async def _pause(self) -> None:
        """Wait an interval, or until ``stop``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=self._interval)

    async def start(self) -> None:
        """Start the periodic task (no-op when the interval is 0)."""
        if self._interval > 0 and self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._loop(), name=self._name)

    async def stop(self) -> None:
        """Stop the periodic task: at once, or once its running step has finished (``finish_on_stop``)."""
        self._stopping.set()
        if self._task is not None:
            if not self._finish_on_stop:
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
