"""In-memory view of each account's config and credit state, in front of routing's tables.

The consumer that folds a newer snapshot or credit state updates the entry at once;
entries also expire after a short time so replicas that did not fold the event
themselves catch up from the database.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from customer_agent_shared.events.channels import ChannelRef
from customer_agent_shared.events.config import AgentConfigSnapshot, ChannelDeployment

from routing_service.domain.decisions import PauseCause
from routing_service.domain.triggers import TriggerMatcher


class AccountLoader(Protocol):
    """Where the directory reads an account it does not hold (routing's tables, or a test's fake)."""

    async def load(self, account_id: str) -> tuple[AgentConfigSnapshot | None, int, bool, int]:
        """(snapshot, its version, credits exhausted, credit version); -1 versions when unknown."""
        ...


@dataclass(frozen=True)
class AccountView:
    """What routing needs of one account to decide."""

    config: AgentConfigSnapshot | None
    config_version: int
    credits_exhausted: bool
    credit_version: int
    triggers: TriggerMatcher
    loaded_at: float

    @property
    def known(self) -> bool:
        """True when a live (not deleted) configuration was received."""
        return self.config is not None and not self.config.deleted

    @property
    def pause(self) -> PauseCause:
        """Manual pause wins over the credit pause; both only affect new threads."""
        if self.config is not None and self.config.paused:
            return PauseCause.MANUAL
        if self.credits_exhausted:
            return PauseCause.CREDITS
        return PauseCause.NONE

    def deployment(self, channel: ChannelRef) -> ChannelDeployment | None:
        """The agent's deployment on ``channel``, or None when it is not deployed there."""
        return deployment_in(self.config, channel)


def deployment_in(config: AgentConfigSnapshot | None, channel: ChannelRef) -> ChannelDeployment | None:
    """The agent's deployment on ``channel`` in ``config``, or None when it is not deployed there."""
    if config is None or config.deleted:
        return None
    for deployment in config.channels:
        if deployment.type == channel.type and deployment.id == channel.id:
            return deployment
    return None


def _view(
    config: AgentConfigSnapshot | None, config_version: int, exhausted: bool, credit_version: int, now: float
) -> AccountView:
    triggers = TriggerMatcher(config.handoff.triggers if config is not None and not config.deleted else ())
    return AccountView(config, config_version, exhausted, credit_version, triggers, now)


class AccountDirectory:
    """A bounded, short-lived cache of ``AccountView`` per account."""

    def __init__(
        self, ttl_seconds: float = 5.0, max_accounts: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_accounts
        self._clock = clock
        self._entries: OrderedDict[str, AccountView] = OrderedDict()

    async def get(self, accounts: AccountLoader, account_id: str) -> AccountView:
        """The cached view, or a fresh one read through ``accounts``."""
        now = self._clock()
        view = self._entries.get(account_id)
        if view is not None and now - view.loaded_at < self._ttl:
            self._entries.move_to_end(account_id)
            return view
        config, config_version, exhausted, credit_version = await accounts.load(account_id)
        current = self._entries.get(account_id)  # a fold may have stored something newer meanwhile
        if current is not None and current.config_version > config_version:
            config, config_version = current.config, current.config_version
        if current is not None and current.credit_version > credit_version:
            exhausted, credit_version = current.credits_exhausted, current.credit_version
        view = _view(config, config_version, exhausted, credit_version, now)
        self._put(account_id, view)
        return view

    def config_stored(self, snapshot: AgentConfigSnapshot) -> None:
        """A newer snapshot was committed: replace the cached config."""
        view = self._entries.get(snapshot.account_id)
        if view is None or view.config_version >= snapshot.version:
            return
        self._put(
            snapshot.account_id,
            _view(snapshot, snapshot.version, view.credits_exhausted, view.credit_version, view.loaded_at),
        )

    def credit_stored(self, account_id: str, exhausted: bool, version: int) -> None:
        """A newer credit state was committed: replace the cached flag."""
        view = self._entries.get(account_id)
        if view is None or view.credit_version >= version:
            return
        self._put(account_id, replace(view, credits_exhausted=exhausted, credit_version=version))

    def _put(self, account_id: str, view: AccountView) -> None:
        self._entries[account_id] = view
        self._entries.move_to_end(account_id)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
