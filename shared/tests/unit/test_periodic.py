"""The periodic task: runs its step every interval, goes on after a failed step, never runs at interval 0; on
request it runs the first step at start, and lets a running step finish when stopped instead of cancelling it."""

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


async def test_the_first_step_runs_at_start_when_asked_then_one_interval_after_another() -> None:
    calls: list[int] = []

    async def step() -> None:
        calls.append(1)

    periodic = Periodic("test", step, interval_seconds=3600, first_at_start=True)
    await periodic.start()
    try:
        await eventually(lambda: _at_least(calls, 1), "the first step without waiting an hour", within=5)
        await asyncio.sleep(0.05)  # the time a wrongly repeated step would need to run
    finally:
        await periodic.stop()
    assert calls == [1]


async def test_stopping_lets_a_running_step_finish_when_asked_and_runs_no_other() -> None:
    started, release = asyncio.Event(), asyncio.Event()
    seen: list[tuple[str, bool]] = []

    async def step() -> None:
        started.set()
        await release.wait()
        seen.append(("finished", periodic.stopping))

    periodic = Periodic("test", step, interval_seconds=0.01, first_at_start=True, finish_on_stop=True)
    await periodic.start()
    await asyncio.wait_for(started.wait(), timeout=5)
    stopping = asyncio.create_task(periodic.stop())
    await asyncio.sleep(0.05)  # the time a stop that does not wait for the step would need
    assert not stopping.done()
    release.set()
    await asyncio.wait_for(stopping, timeout=5)

    assert seen == [("finished", True)]


async def test_stopping_cancels_a_running_step_by_default() -> None:
    started = asyncio.Event()
    outcomes: list[str] = []

    async def step() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            outcomes.append("cancelled")
            raise

    periodic = Periodic("test", step, interval_seconds=0.01, first_at_start=True)
    await periodic.start()
    await asyncio.wait_for(started.wait(), timeout=5)
    await asyncio.wait_for(periodic.stop(), timeout=5)

    assert outcomes == ["cancelled"]
