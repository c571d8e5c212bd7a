"""Once a service has started, what start-up built is exempt from garbage collection."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from customer_agent_shared.runtime import Lifecycle


@pytest.fixture
def restored_garbage_collector() -> Iterator[None]:
    """Leave the interpreter's collector as the test found it."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


class _Pool:
    """Something a start step builds; instances of classes stay tracked whatever they hold."""


def _tracked(marker: object) -> bool:
    # gc.get_objects() lists the three generations, not the frozen (permanent) one.
    return any(candidate is marker for candidate in gc.get_objects())


async def test_start_up_objects_are_frozen_and_young_collections_are_rarer(restored_garbage_collector: None) -> None:
    built_at_start: list[_Pool] = []

    async def start() -> None:
        built_at_start.append(_Pool())

    lifecycle = Lifecycle("example", gc_generation0_threshold=5_000)
    lifecycle.add("store", start)
    async with lifecycle.running():
        made_while_serving = _Pool()
        assert gc.get_threshold()[0] == 5_000
        assert gc.get_freeze_count() > 0
        assert not _tracked(built_at_start[0])
        assert _tracked(made_while_serving)
    gc.unfreeze()
    assert _tracked(built_at_start[0])


async def test_without_a_threshold_the_collector_is_left_alone(restored_garbage_collector: None) -> None:
    threshold = gc.get_threshold()
    lifecycle = Lifecycle("example")
    async with lifecycle.running():
        assert gc.get_threshold() == threshold
        assert gc.get_freeze_count() == 0
