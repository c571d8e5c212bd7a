"""The randomized fault harness: traffic from several accounts while seeded faults hit the stack, then the
checker over the full recorded history. ``FAULTS_SEED`` and ``FAULTS_DURATION`` (seconds of traffic) choose
the run; ``make test-faults SEED=… DURATION=…`` sets them."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import random
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from customer_agent_shared.testing.plumbing import eventually

from tests.e2e import stack_control
from tests.e2e.journey import AdminClient, ChannelProvider
from tests.faults import recorder
from tests.faults.checker import check, report, unanswered
from tests.faults.history import FinalState, RunHistory
from tests.faults.injector import FaultInjector, stores_out_of_reach
from tests.faults.schedule import plan_faults
from tests.faults.traffic import (
    EXHAUSTION_ALLOTMENT,
    TrafficLog,
    drive_account,
    drive_exhaustion,
    set_up_account,
    warm_up,
)

pytestmark = pytest.mark.e2e
logger = logging.getLogger(__name__)

SEED = int(os.environ.get("FAULTS_SEED") or random.SystemRandom().randrange(1, 1_000_000))
DURATION_SECONDS = float(os.environ.get("FAULTS_DURATION") or 90)
REGULAR_ACCOUNTS = int(os.environ.get("FAULTS_ACCOUNTS") or 3)
UNAVAILABLE_WAIT_SECONDS = float(os.environ.get("CONVERSATION_UNAVAILABLE_WAIT_SECONDS") or 60)
SETTLE_PATIENCE_SECONDS = 240.0
"""After the last fault: how long every accepted message may still take to get its reply."""


@pytest.fixture
async def admins() -> AsyncIterator[list[AdminClient]]:
    """The run's accounts (regular ones, then the exhaustion account), sharing one id prefix."""
    base = f"http://127.0.0.1:{os.environ.get('ADMIN_HTTP_PORT', '8000')}"
    token = os.environ.get("ADMIN_BOOTSTRAP_TOKEN", "dev-bootstrap-token")
    prefix = f"faults-{uuid.uuid4().hex[:8]}-"
    async with httpx.AsyncClient(base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"}) as operator:
        created = [await AdminClient.create_account(operator, f"{prefix}{n}") for n in range(REGULAR_ACCOUNTS + 1)]
        yield created
    await stack_control.ensure_everything_up()
    for admin in created:
        await admin.remove_sources()
        await admin.close()


@pytest.mark.timeout(DURATION_SECONDS + SETTLE_PATIENCE_SECONDS + 900)
async def test_an_outage_delays_work_and_never_drops_it(admins: list[AdminClient]) -> None:
    print(f"\nfault harness: seed {SEED}, {DURATION_SECONDS:.0f} s of traffic (FAULTS_SEED={SEED})", flush=True)
    prefix = admins[0].account_id.rsplit("-", 1)[0] + "-"
    start = await recorder.end_offsets()
    provider = ChannelProvider(recorder.bootstrap_servers())
    await provider.start()
    log = TrafficLog()
    injector = FaultInjector()
    try:
        await asyncio.gather(*(set_up_account(admin) for admin in admins[:-1]))
        await set_up_account(admins[-1], allotment=EXHAUSTION_ALLOTMENT)
        await asyncio.gather(*(warm_up(provider, log, admin) for admin in admins))
        await run_traffic_under_faults(provider, log, injector, admins)
        await stack_control.ensure_everything_up()
        history = await settled_history(start, prefix, log, admins)
    finally:
        await provider.stop()
    results = check(history)
    faults = [applied.describe() for applied in injector.applied]
    text = report(history, results, faults=faults, skipped=len(injector.skipped))
    print(text, flush=True)
    saved = stack_control.STATE_DIR / f"faults-{SEED}.json"
    saved.write_text(json.dumps(_jsonable(dataclasses.asdict(history)), default=str))
    print(f"the whole history: {saved}", flush=True)
    assert not any(results.values()), text
    assert not injector.skipped, text


async def run_traffic_under_faults(
    provider: ChannelProvider, log: TrafficLog, injector: FaultInjector, admins: list[AdminClient]
) -> None:
    """Drive every account until the deadline while two lanes of faults run beside them."""
    rng = random.Random(SEED)
    until = time.monotonic() + DURATION_SECONDS
    plan = plan_faults(SEED, decks=max(1, int(DURATION_SECONDS // 120) + 1))
    missing = stores_out_of_reach(plan)
    assert not missing, f"deploy/local did not start {missing}: their faults cannot happen (run make infra-up)"
    await asyncio.gather(
        injector.run_lane(plan.stores, until=until),
        injector.run_lane(plan.processes, until=until),
        *(drive_account(provider, log, admin, random.Random(rng.random()), until=until) for admin in admins[:-1]),
        drive_exhaustion(provider, log, admins[-1], random.Random(rng.random()), until=until),
    )


async def settled_history(
    start: recorder.Offsets, prefix: str, log: TrafficLog, admins: list[AdminClient]
) -> RunHistory:
    """The history once every accepted message has its reply (or the patience ran out) and the outboxes
    drained, read again a few seconds later so that late copies are in it too."""

    async def settled() -> bool:
        history = await read_history(start, prefix, log, admins, final=False)
        return not unanswered(history) and not await recorder.pending_outbox_rows(prefix)

    with contextlib.suppress(AssertionError):  # the checker reports what is missing, with the records
        await eventually(settled, "every accepted message has its reply", within=SETTLE_PATIENCE_SECONDS)
    await asyncio.sleep(5)  # a duplicate would arrive here
    return await read_history(start, prefix, log, admins, final=True)


async def read_history(
    start: recorder.Offsets, prefix: str, log: TrafficLog, admins: list[AdminClient], *, final: bool
) -> RunHistory:
    """Everything recorded since ``start``; with ``final``, also the end state of the stores and REST."""
    records = await recorder.read_since(start, prefix)
    state = await recorder.final_state(admins, prefix) if final else FinalState()
    return RunHistory(
        seed=SEED,
        accounts=[admin.account_id for admin in admins],
        sent=list(log.sent),
        purchases=list(log.purchases),
        records=records,
        final=state,
        unavailable_wait_seconds=UNAVAILABLE_WAIT_SECONDS,
    )


def _jsonable(value: object) -> object:
    """``value`` with every mapping key a string (thread keys are tuples)."""
    if isinstance(value, dict):
        return {"/".join(k) if isinstance(k, tuple) else str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value
