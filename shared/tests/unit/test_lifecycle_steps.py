"""A lifecycle starts its steps in order, stops them in reverse, and can leave one out."""

from __future__ import annotations

import pytest
from customer_agent_shared.runtime import Lifecycle


def _recording(lifecycle: Lifecycle, events: list[str], *names: str) -> None:
    for name in names:

        async def start(name: str = name) -> None:
            events.append(f"start {name}")

        async def stop(name: str = name) -> None:
            events.append(f"stop {name}")

        lifecycle.add(name, start, stop)


async def test_a_removed_step_is_neither_started_nor_stopped() -> None:
    events: list[str] = []
    lifecycle = Lifecycle("test")
    _recording(lifecycle, events, "database", "kafka consumers", "http")
    lifecycle.remove("kafka consumers")
    async with lifecycle.running():
        events.append("running")
    assert events == ["start database", "start http", "running", "stop http", "stop database"]


def test_removing_an_unknown_step_is_refused() -> None:
    with pytest.raises(KeyError, match="kafka consumer"):
        Lifecycle("test").remove("kafka consumer")
