"""The in-memory account view: newer versions replace it at once, older ones never do, it expires."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from customer_agent_shared.events.channels import ChannelRef, ChannelType
from customer_agent_shared.events.config import AgentConfigSnapshot, ChannelDeployment, HandoffSettings
from routing_service.adapters.account_cache import AccountDirectory
from routing_service.adapters.account_repositories import AccountRepository
from routing_service.domain.decisions import PauseCause

WEB = ChannelRef(type=ChannelType.LIVE_CHAT, id="web")


def snapshot(version: int, *, paused: bool = False, triggers: tuple[str, ...] = ()) -> AgentConfigSnapshot:
    return AgentConfigSnapshot(
        account_id="a",
        version=version,
        updated_at=datetime.now(UTC),
        paused=paused,
        channels=[ChannelDeployment(type=ChannelType.LIVE_CHAT, id="web")],
        handoff=HandoffSettings(triggers=list(triggers)),
    )


class FakeAccounts:
    """Stands in for the repository: counts loads, returns what is 'stored'."""

    def __init__(self) -> None:
        self.stored: tuple[AgentConfigSnapshot | None, int, bool, int] = (None, -1, False, -1)
        self.loads = 0

    async def load(self, account_id: str) -> tuple[AgentConfigSnapshot | None, int, bool, int]:
        self.loads += 1
        return self.stored


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_cached_until_it_expires() -> None:
    fake, clock = FakeAccounts(), Clock()
    directory = AccountDirectory(ttl_seconds=5, clock=clock)
    repository = cast(AccountRepository, fake)
    fake.stored = (snapshot(1), 1, False, -1)
    assert (await directory.get(repository, "a")).deployment(WEB) is not None
    clock.now = 4.9
    await directory.get(repository, "a")
    assert fake.loads == 1
    fake.stored = (snapshot(2, paused=True), 2, True, 7)
    clock.now = 5.0
    view = await directory.get(repository, "a")
    assert fake.loads == 2
    assert (view.pause, view.credits_exhausted, view.config_version) == (PauseCause.MANUAL, True, 2)


async def test_newer_versions_replace_the_view_and_older_ones_do_not() -> None:
    fake = FakeAccounts()
    directory = AccountDirectory(clock=Clock())
    repository = cast(AccountRepository, fake)
    fake.stored = (snapshot(3), 3, False, 10)
    await directory.get(repository, "a")

    directory.config_stored(snapshot(4, triggers=("human",)))
    directory.config_stored(snapshot(2, paused=True))  # late: ignored
    directory.credit_stored("a", True, 11)
    directory.credit_stored("a", False, 9)  # late: ignored
    view = await directory.get(repository, "a")
    assert view.config_version == 4
    assert view.triggers.match("a HUMAN please") == "human"
    assert view.pause is PauseCause.CREDITS
    assert fake.loads == 1


async def test_a_reload_never_goes_back_to_an_older_version() -> None:
    fake, clock = FakeAccounts(), Clock()
    directory = AccountDirectory(ttl_seconds=1, clock=clock)
    repository = cast(AccountRepository, fake)
    fake.stored = (snapshot(1), 1, False, 1)
    await directory.get(repository, "a")
    directory.config_stored(snapshot(2, paused=True))
    clock.now = 2.0  # expired; the database read is older than what was folded (a replica lagging)
    view = await directory.get(repository, "a")
    assert (view.config_version, view.pause) == (2, PauseCause.MANUAL)


async def test_unknown_and_deleted_accounts_are_not_deployed() -> None:
    fake = FakeAccounts()
    directory = AccountDirectory(clock=Clock())
    repository = cast(AccountRepository, fake)
    view = await directory.get(repository, "a")
    assert (view.known, view.deployment(WEB), view.pause) == (False, None, PauseCause.NONE)
    deleted = snapshot(5).model_copy(update={"deleted": True})
    fake.stored = (deleted, 5, False, -1)
    view = await AccountDirectory(clock=Clock()).get(repository, "a")
    assert view.deployment(WEB) is None
