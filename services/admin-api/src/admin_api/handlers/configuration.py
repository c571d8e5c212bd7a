"""Changes to the agent configuration: each one locks the account, applies a domain rule, stores the
new version and stages the full snapshot plus the audit record in the same transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from customer_agent_shared.events.config import (
    AgentConfigSnapshot,
    AgentProfile,
    ChannelDeployment,
    HandoffRule,
    HandoffTeam,
    HandoffUser,
)

from admin_api.adapters.unit_of_work import AdminUnitOfWork
from admin_api.domain import configuration as rules
from admin_api.domain.errors import NotFound
from admin_api.domain.etags import check_if_match, etag_of
from admin_api.handlers.audit import publish_snapshot, record_change

Mutation = Callable[[AgentConfigSnapshot], AgentConfigSnapshot]
Section = Callable[[AgentConfigSnapshot], dict[str, Any] | None]


def profile_etag(config: AgentConfigSnapshot) -> str:
    """ETag of the agent profile."""
    return etag_of(config.agent.model_dump(mode="json"))


def handoff_etag(config: AgentConfigSnapshot) -> str:
    """ETag of the handoff settings."""
    return etag_of(config.handoff.model_dump(mode="json"))


def users_etag(config: AgentConfigSnapshot) -> str:
    """ETag of the users who take handoffs."""
    return etag_of([user.model_dump(mode="json") for user in config.users])


def teams_etag(config: AgentConfigSnapshot) -> str:
    """ETag of the teams who take handoffs."""
    return etag_of([team.model_dump(mode="json") for team in config.teams])


def channel_etag(channel: ChannelDeployment) -> str:
    """ETag of one channel deployment and its rule."""
    return etag_of(channel.model_dump(mode="json"))


def _channel_section(channel_id: str) -> Section:
    def section(config: AgentConfigSnapshot) -> dict[str, Any] | None:
        for channel in config.channels:
            if channel.id == channel_id:
                return channel.model_dump(mode="json")
        return None

    return section


class ConfigurationUseCases:
    """Read and change an account's agent configuration."""

    def __init__(self, unit_of_work: Callable[[], AdminUnitOfWork]) -> None:
        self._unit_of_work = unit_of_work

    async def current(self, account_id: str) -> AgentConfigSnapshot:
        """The account's current configuration."""
        async with self._unit_of_work() as uow:
            config = await uow.accounts.config(account_id)
        if config is None:
            raise NotFound(f"Account {account_id!r} does not exist.")
        return config

    async def _change(
        self,
        account_id: str,
        *,
        actor: str,
        action: str,
        target_type: str,
        target_id: str,
        mutate: Mutation,
        section: Section,
    ) -> AgentConfigSnapshot:
        async with self._unit_of_work() as uow:
            current = await uow.accounts.config(account_id, for_update=True)
            if current is None:
                raise NotFound(f"Account {account_id!r} does not exist.")
            changed = rules.next_version(mutate(current), datetime.now(UTC))
            await uow.accounts.save_config(changed)
            await publish_snapshot(uow, changed)
            await record_change(
                uow,
                account_id=account_id,
                actor=actor,
                action=action,
                target_type=target_type,
                target_id=target_id,
                before=section(current),
                after=section(changed),
            )
            await uow.commit()
        return changed

    async def update_profile(
        self,
        account_id: str,
        *,
        actor: str,
        profile: AgentProfile,
        if_match: str | None,
        keep_answer_threshold: bool = False,
    ) -> AgentConfigSnapshot:
        """Replace the agent profile (conditional on If-Match), the stored answer threshold kept if asked."""

        def mutate(config: AgentConfigSnapshot) -> AgentConfigSnapshot:
            check_if_match(if_match, profile_etag(config), "agent profile")
            return rules.replace_profile(config, profile, keep_answer_threshold=keep_answer_threshold)

        return await self._change(
            account_id,
            actor=actor,
            action="edit",
            target_type="agent",
            target_id="profile",
            mutate=mutate,
            section=lambda config: config.agent.model_dump(mode="json"),
        )

    async def set_paused(self, account_id: str, *, actor: str, paused: bool) -> AgentConfigSnapshot:
        """Pause or resume the agent manually."""
        return await self._change(
            account_id,
            actor=actor,
            action="edit",
            target_type="agent",
            target_id="paused",
            mutate=lambda config: config.model_copy(update={"paused": paused}),
            section=lambda config: {"paused": config.paused},
        )

    async def deploy_channel(
        self, account_id: str, *, actor: str, deployment: ChannelDeployment
    ) -> AgentConfigSnapshot:
        """Deploy the agent on a channel."""
        return await self._change(
            account_id,
            actor=actor,
            action="create",
            target_type="channel",
            target_id=deployment.id,
            mutate=lambda config: rules.deploy_channel(config, deployment),
            section=_channel_section(deployment.id),
        )

    async def update_channel_rule(
        self, account_id: str, *, actor: str, channel_id: str, rule: HandoffRule, if_match: str | None
    ) -> AgentConfigSnapshot:
        """Change a channel's handoff rule (conditional on If-Match)."""

        def mutate(config: AgentConfigSnapshot) -> AgentConfigSnapshot:
            check_if_match(if_match, channel_etag(rules.find_channel(config, channel_id)), "channel")
            return rules.replace_channel_rule(config, channel_id, rule)

        return await self._change(
            account_id,
            actor=actor,
            action="edit",
            target_type="channel",
            target_id=channel_id,
            mutate=mutate,
            section=_channel_section(channel_id),
        )

    async def remove_channel(self, account_id: str, *, actor: str, channel_id: str) -> AgentConfigSnapshot:
        """Take the agent off a channel."""
        return await self._change(
            account_id,
            actor=actor,
            action="delete",
            target_type="channel",
            target_id=channel_id,
            mutate=lambda config: rules.remove_channel(config, channel_id),
            section=_channel_section(channel_id),
        )

    async def set_handoff(
        self,
        account_id: str,
        *,
        actor: str,
        triggers: list[str] | None,
        messages: Mapping[str, Mapping[str, str] | None] | None,
        if_match: str | None,
    ) -> AgentConfigSnapshot:
        """Replace trigger phrases and/or availability messages (conditional on If-Match; see
        ``set_handoff_settings`` for the texts of a language)."""

        def mutate(config: AgentConfigSnapshot) -> AgentConfigSnapshot:
            check_if_match(if_match, handoff_etag(config), "handoff settings")
            return rules.set_handoff_settings(config, triggers, messages)

        return await self._change(
            account_id,
            actor=actor,
            action="edit",
            target_type="handoff",
            target_id="handoff",
            mutate=mutate,
            section=lambda config: config.handoff.model_dump(mode="json"),
        )

    async def replace_users(
        self, account_id: str, *, actor: str, users: list[HandoffUser], if_match: str | None = None
    ) -> AgentConfigSnapshot:
        """Replace the people who can take handoffs (conditional on If-Match)."""

        def mutate(config: AgentConfigSnapshot) -> AgentConfigSnapshot:
            check_if_match(if_match, users_etag(config), "users")
            return rules.replace_users(config, users)

        return await self._change(
            account_id,
            actor=actor,
            action="edit",
            target_type="users",
            target_id="users",
            mutate=mutate,
            section=lambda config: {"users": [user.model_dump(mode="json") for user in config.users]},
        )

    async def replace_teams(
        self, account_id: str, *, actor: str, teams: list[HandoffTeam], if_match: str | None = None
    ) -> AgentConfigSnapshot:
        """Replace the teams that can take handoffs (conditional on If-Match)."""

        def mutate(config: AgentConfigSnapshot) -> AgentConfigSnapshot:
            check_if_match(if_match, teams_etag(config), "teams")
            return rules.replace_teams(config, teams)

        return await self._change(
            account_id,
            actor=actor,
            action="edit",
            target_type="teams",
            target_id="teams",
            mutate=mutate,
            section=lambda config: {"teams": [team.model_dump(mode="json") for team in config.teams]},
        )
