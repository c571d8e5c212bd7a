import asyncio

from ingestion_service.handlers.sync_runner import SyncRunner


class GatedSync:
    """Stands in for WebsiteSync: each run waits until the test opens the gate."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.runs: list[tuple[str, str]] = []
        self.started: list[tuple[str, str]] = []

    async def run(self, account_id: str, source_id: str) -> None:
        self.started.append((account_id, source_id))
        await self.gate.wait()
        self.runs.append((account_id, source_id))


async def test_wait_returns_once_the_sync_and_its_rerun_have_ended() -> None:
    sync = GatedSync()
    runner = SyncRunner(sync, max_concurrent=1)
    runner.request("acct", "docs")
    await asyncio.sleep(0.01)
    runner.request("acct", "docs")  # asked again while running: one more run afterwards
    waiter = asyncio.create_task(runner.wait("acct", "docs"))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    sync.gate.set()
    await asyncio.wait_for(waiter, 1)
    assert sync.runs == [("acct", "docs"), ("acct", "docs")]
    assert not runner.running("acct", "docs")


async def test_a_cancelled_wait_leaves_the_sync_running() -> None:
    sync = GatedSync()
    runner = SyncRunner(sync, max_concurrent=1)
    runner.request("acct", "docs")
    waiter = asyncio.create_task(runner.wait("acct", "docs"))
    await asyncio.sleep(0.01)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    assert runner.running("acct", "docs")
    sync.gate.set()
    await runner.wait("acct", "docs")
    assert sync.runs == [("acct", "docs")]
    await runner.wait("acct", "nothing")  # no sync: returns at once


async def test_one_account_s_syncs_take_at_most_its_share_and_another_account_still_starts() -> None:
    sync = GatedSync()
    runner = SyncRunner(sync, max_concurrent=4, max_per_account=2)
    for site in ("a1", "a2", "a3", "a4"):  # one account's four slow sites, asked for first
        runner.request("busy", site)
    runner.request("other", "b1")
    await asyncio.sleep(0.01)
    assert sorted(sync.started) == [("busy", "a1"), ("busy", "a2"), ("other", "b1")]
    sync.gate.set()
    for site in ("a1", "a2", "a3", "a4"):
        await asyncio.wait_for(runner.wait("busy", site), 1)
    assert sorted(sync.runs) == [("busy", "a1"), ("busy", "a2"), ("busy", "a3"), ("busy", "a4"), ("other", "b1")]


async def test_an_account_waiting_for_its_share_holds_no_shared_slot() -> None:
    sync = GatedSync()
    runner = SyncRunner(sync, max_concurrent=2, max_per_account=1)
    for site in ("a1", "a2", "a3"):
        runner.request("busy", site)
    await asyncio.sleep(0.01)
    runner.request("other", "b1")  # asked for after the busy account's queue: still starts at once
    await asyncio.sleep(0.01)
    assert sync.started == [("busy", "a1"), ("other", "b1")]
    sync.gate.set()
    await asyncio.wait_for(runner.wait("busy", "a3"), 1)
    assert len(sync.runs) == 4


def test_a_share_larger_than_the_pool_is_the_pool() -> None:
    runner = SyncRunner(GatedSync(), max_concurrent=2, max_per_account=5)
    assert runner.share == 2
