"""The agent profile of an account: folded from agent.config.v1, read through a short-lived cache."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from customer_agent_shared.events.config import AgentConfigSnapshot, AgentRole, Personality
from customer_agent_shared.events.envelope import CloudEvent

from conversation_service.domain.composer import Persona
from conversation_service.domain.language import account_languages
from conversation_service.domain.model import AgentProfileRecord
from conversation_service.handlers.types import ConversationUnitOfWorkProtocol, UnitOfWorkFactory

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AgentProfile:
    """What answering needs to know about an account's agent."""

    persona: Persona
    default_language: str = "en"
    deleted: bool = False
    answer_threshold: float | None = None  # None: the service's tuned default
    languages: tuple[str, ...] = ()  # what the account speaks: its default and its messages' languages


DEFAULT_PROFILE = AgentProfile(persona=Persona())


def profile_from_record(record: AgentProfileRecord | None) -> AgentProfile:
    """The profile of a stored record; the defaults when the account sent no configuration yet."""
    if record is None:
        return DEFAULT_PROFILE
    try:
        role = AgentRole(record.role)
    except ValueError:
        role = AgentRole.CUSTOMER_SERVICE
    try:
        personality = Personality(record.personality)
    except ValueError:
        personality = Personality.FRIENDLY
    return AgentProfile(
        persona=Persona(name=record.name, role=role, personality=personality),
        default_language=record.default_language or "en",
        deleted=record.deleted,
        answer_threshold=record.answer_threshold,
        languages=record.languages,
    )


def profile_of_snapshot(snapshot: AgentConfigSnapshot) -> AgentProfile:
    """The profile a configuration snapshot describes, as folding it would store it."""
    agent = snapshot.agent
    return AgentProfile(
        persona=Persona(name=agent.name, role=agent.role, personality=agent.personality),
        default_language=snapshot.default_language or "en",
        deleted=snapshot.deleted,
        answer_threshold=agent.answer_threshold,
        languages=tuple(account_languages(snapshot.default_language, snapshot.handoff.messages)),
    )


class ProfileCache:
    """Profiles by account, cached for a few seconds so a message costs no extra query."""

    def __init__(self, ttl_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._entries: dict[str, tuple[float, AgentProfile]] = {}

    async def get(self, uow: ConversationUnitOfWorkProtocol, account_id: str) -> AgentProfile:
        """The account's profile, from the cache or the database."""
        now = time.monotonic()
        cached = self._entries.get(account_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        profile = profile_from_record(await uow.profiles.get(account_id))
        self._entries[account_id] = (now, profile)
        return profile

    def forget(self, account_id: str) -> None:
        """Drop an account's cached profile (after a new snapshot)."""
        self._entries.pop(account_id, None)


class ConfigFolder:
    """Folds agent.config.v1 snapshots into conversation's own table, ignoring older versions."""

    def __init__(self, unit_of_work: UnitOfWorkFactory, cache: ProfileCache, consumer: str) -> None:
        self._unit_of_work = unit_of_work
        self._cache = cache
        self._consumer = consumer

    async def handle(self, event: CloudEvent[AgentConfigSnapshot]) -> bool:
        """Apply one snapshot; True if it changed the stored profile."""
        snapshot = event.data
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(self._consumer, event.id):
                return False
            applied = await uow.profiles.apply(snapshot)
            await uow.commit()
        self._cache.forget(snapshot.account_id)
        logger.info("agent config folded", extra={"version": snapshot.version, "applied": applied})
        return applied
