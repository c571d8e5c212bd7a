"""Applies the plan's faults to the running stack through ``stack_control`` and logs when each held.

A fault on a store deploy/local did not start (one found running on its port) cannot be applied: it is
skipped, loudly, and a run with a skipped fault fails, so a green run means every fault happened."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from tests.e2e import stack_control
from tests.faults.schedule import Fault, FaultKind, FaultPlan, PlannedFault

logger = logging.getLogger(__name__)

RECOVERY_PATIENCE_SECONDS = 300.0
PROCESS_FAULTS = (FaultKind.KILL_SERVICE, FaultKind.FREEZE_CONSUMER)
"""Faults on the services' own processes; every other kind hits a store."""


@dataclass
class AppliedFault:
    """A fault as it happened: when it began, when the stack had recovered from it, or why it was skipped."""

    fault: Fault
    started_at: float
    recovered_at: float | None = None
    skipped: str | None = None

    def describe(self) -> str:
        """One line for the report."""
        if self.skipped:
            return f"{self.fault.describe()}: skipped ({self.skipped})"
        took = f"{self.recovered_at - self.started_at:.0f} s" if self.recovered_at else "not recovered"
        return f"{self.fault.describe()}: at {time.strftime('%H:%M:%S', time.localtime(self.started_at))}, {took}"


async def _until_it_works(start: Callable[[], Awaitable[None]], what: str) -> None:
    """Start something again until its script succeeds: it may need a store another lane has stopped."""
    deadline = time.monotonic() + RECOVERY_PATIENCE_SECONDS
    while True:
        try:
            await start()
            return
        except (AssertionError, TimeoutError) as error:
            if time.monotonic() > deadline:
                raise
            logger.warning("starting %s failed, retrying: %s", what, str(error)[-300:])
            await asyncio.sleep(3)


async def _gone(component: str) -> None:
    """Wait until nothing is left of a killed store's process group."""
    for _ in range(100):
        if not stack_control.started_here(component):
            return
        await asyncio.sleep(0.1)


async def _kill_service(fault: Fault) -> None:
    stack_control.kill_service(fault.target)
    await asyncio.sleep(1.0)
    await _until_it_works(lambda: stack_control.start_service(fault.target), fault.target)


async def _freeze(fault: Fault) -> None:
    """SIGSTOP, hold, SIGCONT (whatever happens meanwhile): a hung process, not a dead one."""
    send = stack_control.signal_service if fault.kind is FaultKind.FREEZE_CONSUMER else stack_control.signal_component
    send(fault.target, signal.SIGSTOP)
    try:
        await asyncio.sleep(fault.hold_seconds)
    finally:
        send(fault.target, signal.SIGCONT)


async def _stop_store(fault: Fault) -> None:
    await stack_control.stop_component(fault.target)
    await asyncio.sleep(fault.hold_seconds)
    await _until_it_works(lambda: stack_control.start_component(fault.target), fault.target)


async def _kill_store(fault: Fault) -> None:
    stack_control.signal_component(fault.target, signal.SIGKILL)
    await _gone(fault.target)
    await _until_it_works(lambda: stack_control.start_component(fault.target), fault.target)


def stores_out_of_reach(plan: FaultPlan) -> list[str]:
    """The stores the plan has faults for that deploy/local did not start (their faults would be skipped)."""
    stores = {
        planned.fault.target for planned in (*plan.stores, *plan.processes) if planned.fault.kind not in PROCESS_FAULTS
    }
    return sorted(store for store in stores if not stack_control.started_here(store))


APPLY: dict[FaultKind, Callable[[Fault], Awaitable[None]]] = {
    FaultKind.KILL_SERVICE: _kill_service,
    FaultKind.FREEZE_CONSUMER: _freeze,
    FaultKind.STOP_POSTGRES: _stop_store,
    FaultKind.KILL_KAFKA: _kill_store,
    FaultKind.STOP_OPENSEARCH: _stop_store,
    FaultKind.FREEZE_OPENSEARCH: _freeze,
    FaultKind.RESTART_REDIS: _stop_store,
}


class FaultInjector:
    """Runs lanes of planned faults until a deadline; the stack is whole again when a lane returns."""

    def __init__(self) -> None:
        self.applied: list[AppliedFault] = []

    @property
    def skipped(self) -> list[AppliedFault]:
        """The faults that did not happen: each one fails the run."""
        return [applied for applied in self.applied if applied.skipped]

    async def run_lane(self, lane: Sequence[PlannedFault], *, until: float) -> None:
        """Apply the lane's faults one after another, starting none after ``until`` (monotonic seconds)."""
        for planned in lane:
            await asyncio.sleep(planned.pause_seconds)
            if time.monotonic() >= until:
                return
            await self.apply(planned.fault)

    async def apply(self, fault: Fault) -> None:
        """Apply one fault and wait until the stack recovered from it."""
        applied = AppliedFault(fault, time.time())
        self.applied.append(applied)
        if fault.kind not in PROCESS_FAULTS and not stack_control.started_here(fault.target):
            applied.skipped = f"{fault.target} was not started by deploy/local: it is left alone"
            logger.warning("FAULT SKIPPED, the run will fail: %s: %s", fault.describe(), applied.skipped)
            return
        logger.info("fault: %s", fault.describe())
        await APPLY[fault.kind](fault)
        applied.recovered_at = time.time()
        logger.info("recovered from %s in %.0f s", fault.describe(), applied.recovered_at - applied.started_at)
