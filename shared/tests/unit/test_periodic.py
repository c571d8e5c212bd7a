"""The periodic task: runs its step every interval, goes on after a failed step, never runs at interval 0."""

from __future__ import annotations

import asyncio

from customer_agent_shared.periodic import Periodic
from customer_agent_shared.testing.plumbing import eventually


async def test_a_failed_step_is_tried_again_at_the_next_interval() -> None:
    calls: list[int] = []

    async def step() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("a dependency is down")

    periodic = Periodic("test", step, interval_seconds=0.01)
    await periodic.start()
    try:
        await eventually(lambda: _at_least(calls, 3), "three steps despite the first failing", within=5)
    finally:
        await periodic.stop()


async def test_an_interval_of_zero_never_runs() -> None:
    calls: list[int] = []

    async def step() -> None:
        calls.append(1)

    periodic = Periodic("test", step, interval_seconds=0)
    await periodic.start()
    await asyncio.sleep(0.05)  # the time a wrongly started task would need to run
    await periodic.stop()

    assert calls == []


async def _at_least(calls: list[int], count: int) -> bool:
    return len(calls) >= count
