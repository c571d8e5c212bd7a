"""Per-host politeness shared by every crawl of the process: bounded concurrency and a minimum gap."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class _HostGate:
    def __init__(self, concurrency: int) -> None:
        self.semaphore = asyncio.Semaphore(concurrency)
        self.lock = asyncio.Lock()
        self.next_start = 0.0


class HostPoliteness:
    """At most ``concurrency`` requests per host at once, request starts at least ``delay`` apart."""

    def __init__(self, concurrency: int, delay_seconds: float) -> None:
        self._concurrency = concurrency
        self._delay = delay_seconds
        self._gates: dict[str, _HostGate] = {}

    @asynccontextmanager
    async def slot(self, host: str, delay_seconds: float | None = None) -> AsyncIterator[None]:
        """Hold one of the host's request slots, waiting for the politeness gap first."""
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = _HostGate(self._concurrency)
        delay = self._delay if delay_seconds is None else max(self._delay, delay_seconds)
        async with gate.semaphore:
            if delay > 0:
                async with gate.lock:
                    loop = asyncio.get_running_loop()
                    wait = gate.next_start - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    gate.next_start = loop.time() + delay
            yield
