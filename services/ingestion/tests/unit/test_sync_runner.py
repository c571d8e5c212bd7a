import asyncio

from ingestion_service.handlers.website_sync import SyncRunner


class GatedSync:
    """Stands in for WebsiteSync: each run waits until the test opens the gate."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.runs: list[tuple[str, str]] = []

    async def run(self, account_id: str, source_id: str) -> None:
        await self.gate.wait()
        self.runs.append((account_id, source_id))


async def test_wait_returns_once_the_sync_and_its_rerun_have_ended() -> None:
    sync = GatedSync()
    runner = SyncRunner(sync, max_concurrent=1)  # type: ignore[arg-type]
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
    runner = SyncRunner(sync, max_concurrent=1)  # type: ignore[arg-type]
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
