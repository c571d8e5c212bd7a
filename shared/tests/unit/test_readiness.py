"""Readiness: probes answer from fresh results, concurrent probes share one run, stale results are renewed."""

from __future__ import annotations

import asyncio

from customer_agent_shared.observability.health import Readiness


class CountingCheck:
    """A dependency check that counts its calls and can be made slow or down."""

    def __init__(self, *, delay_seconds: float = 0.0) -> None:
        self.calls = 0
        self.up = True
        self.delay_seconds = delay_seconds

    async def __call__(self) -> bool:
        self.calls += 1
        await asyncio.sleep(self.delay_seconds)
        return self.up


async def test_a_probe_within_the_max_age_reuses_the_latest_results() -> None:
    check = CountingCheck()
    readiness = Readiness("test", max_age_seconds=60.0)
    readiness.add("database", check)

    assert await readiness.current() == {"database": True}
    check.up = False
    assert await readiness.current() == {"database": True}
    assert check.calls == 1


async def test_results_older_than_the_max_age_are_checked_again() -> None:
    check = CountingCheck()
    readiness = Readiness("test", max_age_seconds=0.05)
    readiness.add("database", check)

    await readiness.current()
    check.up = False
    await asyncio.sleep(0.06)
    assert await readiness.current() == {"database": False}
    assert check.calls == 2


async def test_concurrent_probes_share_one_run_of_the_checks() -> None:
    check = CountingCheck(delay_seconds=0.05)
    readiness = Readiness("test", max_age_seconds=60.0)
    readiness.add("database", check)

    results = await asyncio.gather(*(readiness.current() for _ in range(10)))
    assert results == [{"database": True}] * 10
    assert check.calls == 1


async def test_keep_fresh_renews_the_results_without_any_probe() -> None:
    check = CountingCheck()
    readiness = Readiness("test", max_age_seconds=1.0)
    readiness.add("database", check)
    renewing = asyncio.create_task(readiness.keep_fresh())
    try:
        await asyncio.sleep(0.1)
        check.up = False
        await asyncio.sleep(1.6)  # renewed every 0.5 s, and no probe meanwhile
        calls_before_probe = check.calls
        assert calls_before_probe >= 3
        assert await readiness.current() == {"database": False}
        assert check.calls == calls_before_probe  # the probe used the renewed results
    finally:
        renewing.cancel()


async def test_conditions_are_read_at_every_probe() -> None:
    readiness = Readiness("test", max_age_seconds=60.0)
    readiness.add("database", CountingCheck())
    blocked: list[str] = []
    readiness.add_condition("consumers", lambda: blocked[0] if blocked else None)

    assert await readiness.current() == {"database": True, "consumers": True}
    blocked.append("waiting for the database")
    assert await readiness.current() == {"database": True, "consumers": False}
    assert readiness.reasons() == {"consumers": "waiting for the database"}


async def test_dependencies_answer_runs_the_checks_now_and_ignores_the_process_s_conditions() -> None:
    check, hung = CountingCheck(), CountingCheck(delay_seconds=5.0)
    readiness = Readiness("test", timeout_seconds=0.05, max_age_seconds=60.0)
    readiness.add("database", check)
    readiness.add_condition("consumers", lambda: "a consumer has waited 90 s")

    assert await readiness.dependencies_answer() is True
    check.up = False
    assert await readiness.dependencies_answer() is False  # never the cached result
    check.up = True
    readiness.add("opensearch", hung)
    assert await readiness.dependencies_answer() is False  # a check that hangs is bounded, and down
