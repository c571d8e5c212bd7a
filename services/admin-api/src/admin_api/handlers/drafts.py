"""The draft of the agent configuration: save, read, discard, publish (the draft goes live) and unpublish
(the last publication undone). Each locks the account's row, so they serialize with every live change."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from customer_agent_shared.events.config import AgentConfigSnapshot, AgentProfile, HandoffRule

from admin_api.adapters.unit_of_work import AdminUnitOfWork
from admin_api.domain import configuration as rules
from admin_api.domain import drafts
from admin_api.domain.drafts import AGENT, HANDOFF, DraftSection, channel_section
from admin_api.domain.errors import Conflict, NotFound
from admin_api.domain.etags import check_if_match, etag_of
from admin_api.handlers.audit import publish_snapshot, record_change

DRAFT = "draft"


def draft_etag(sections: Mapping[str, DraftSection]) -> str:
    """ETag of a draft (of no draft: the same for every account)."""
    return etag_of({name: section.to_json() for name, section in sections.items()})


@dataclass(frozen=True)
class DraftView:
    """The draft as an admin reads it: the configuration it describes and what it changes."""

    config: AgentConfigSnapshot
    sections: dict[str, DraftSection]
    conflicts: list[str]
    live_version: int
    updated_at: datetime | None
    updated_by: str | None

    @property
    def etag(self) -> str:
        """The draft's ETag."""
        return draft_etag(self.sections)


@dataclass(frozen=True)
class DraftChange:
    """What a save changes; a section left None keeps its drafted (or live) value."""

    profile: AgentProfile | None = None
    keep_answer_threshold: bool = False
    triggers: list[str] | None = None
    messages: Mapping[str, Mapping[str, str] | None] | None = None
    change_handoff: bool = False
    channel_rules: dict[str, HandoffRule] = field(default_factory=dict)

    def apply(self, config: AgentConfigSnapshot) -> tuple[AgentConfigSnapshot, set[str]]:
        """``config`` with the change (validated as the live endpoints validate it) and the sections touched."""
        touched: set[str] = set()
        if self.profile is not None:
            config = rules.replace_profile(config, self.profile, keep_answer_threshold=self.keep_answer_threshold)
            touched.add(AGENT)
        if self.change_handoff:
            config = rules.set_handoff_settings(config, self.triggers, self.messages)
            touched.add(HANDOFF)
        for channel_id, rule in self.channel_rules.items():
            config = rules.replace_channel_rule(config, channel_id, rule)
            touched.add(channel_section(channel_id))
        return config, touched


def _values(sections: Mapping[str, DraftSection]) -> dict[str, Any]:
    return {name: section.value for name, section in sorted(sections.items())}


class DraftUseCases:
    """Read and change an account's draft, and make it live."""

    def __init__(self, unit_of_work: Callable[[], AdminUnitOfWork]) -> None:
        self._unit_of_work = unit_of_work

    async def get(self, account_id: str) -> DraftView:
        """The draft (with no changes: the live configuration)."""
        async with self._unit_of_work() as uow:
            live = await self._live(uow, account_id, lock=False)
            stored = await uow.drafts.get(account_id)
        sections = stored.sections if stored else {}
        return DraftView(
            config=drafts.drafted(live, sections),
            sections=sections,
            conflicts=drafts.conflicts(sections, live),
            live_version=live.version,
            updated_at=stored.updated_at if stored else None,
            updated_by=stored.updated_by if stored else None,
        )

    async def save(self, account_id: str, *, actor: str, change: DraftChange, if_match: str | None) -> DraftView:
        """Save sections into the draft (conditional on the draft's If-Match); each saved section is based on
        its live value now, and one equal to it leaves the draft."""
        now = datetime.now(UTC)
        async with self._unit_of_work() as uow:
            live = await self._live(uow, account_id, lock=True)
            stored = await uow.drafts.get(account_id, for_update=True)
            before = stored.sections if stored else {}
            check_if_match(if_match, draft_etag(before), DRAFT)
            proposed, touched = change.apply(drafts.drafted(live, before))
            values = drafts.sections_of(proposed)
            after = drafts.saved(before, live, {name: values[name] for name in touched})
            if after:
                await uow.drafts.put(account_id, after, by=actor, at=now)
            else:
                await uow.drafts.delete(account_id)
            if after != before:
                await record_change(
                    uow,
                    account_id=account_id,
                    actor=actor,
                    action="edit" if before else "create",
                    target_type=DRAFT,
                    target_id=DRAFT,
                    before=_values(before),
                    after=_values(after),
                )
            await uow.commit()
        return DraftView(
            config=drafts.drafted(live, after),
            sections=after,
            conflicts=drafts.conflicts(after, live),
            live_version=live.version,
            updated_at=now if after else None,
            updated_by=actor if after else None,
        )

    async def discard(self, account_id: str, *, actor: str) -> None:
        """Drop the draft (nothing happens without one)."""
        async with self._unit_of_work() as uow:
            await self._live(uow, account_id, lock=True)
            stored = await uow.drafts.get(account_id, for_update=True)
            if stored is None:
                return
            await uow.drafts.delete(account_id)
            await record_change(
                uow,
                account_id=account_id,
                actor=actor,
                action="delete",
                target_type=DRAFT,
                target_id=DRAFT,
                before=_values(stored.sections),
                after=None,
            )
            await uow.commit()

    async def publish(
        self, account_id: str, *, actor: str, if_match: str | None
    ) -> tuple[AgentConfigSnapshot, list[str]]:
        """Make the draft live (conditional on its If-Match): the new configuration and the sections it changed."""
        now = datetime.now(UTC)
        async with self._unit_of_work() as uow:
            live = await self._live(uow, account_id, lock=True)
            stored = await uow.drafts.get(account_id, for_update=True)
            sections = stored.sections if stored else {}
            check_if_match(if_match, draft_etag(sections), DRAFT)
            changed = rules.next_version(drafts.publishable(sections, live), now)
            current = drafts.sections_of(live)
            before = {name: current.get(name) for name in sorted(sections)}
            after = _values(sections)
            await self._go_live(uow, changed)
            await uow.publications.add(
                account_id, config_version=changed.version, before=before, after=after, by=actor, at=now
            )
            await uow.drafts.delete(account_id)
            await record_change(
                uow,
                account_id=account_id,
                actor=actor,
                action="publish",
                target_type="agent",
                target_id="configuration",
                before=before,
                after=after,
            )
            await uow.commit()
        return changed, sorted(sections)

    async def unpublish(self, account_id: str, *, actor: str) -> tuple[AgentConfigSnapshot, list[str]]:
        """Undo the last publication: its sections go back to their values before it, and its changes become the
        draft again (unless a draft was started since)."""
        now = datetime.now(UTC)
        async with self._unit_of_work() as uow:
            live = await self._live(uow, account_id, lock=True)
            publication = await uow.publications.latest(account_id)
            if publication is None or publication.unpublished_at is not None:
                raise Conflict(
                    "There is no publication to undo: unpublish undoes the last POST /agent/publish, once.",
                    code="nothing_to_unpublish",
                )
            restored = drafts.reverted(live, published=publication.after, before=publication.before)
            changed = rules.next_version(restored, now)
            await self._go_live(uow, changed)
            await uow.publications.mark_unpublished(publication.id, now)
            if await uow.drafts.get(account_id, for_update=True) is None:
                back = drafts.saved({}, changed, publication.after)
                if back:
                    await uow.drafts.put(account_id, back, by=actor, at=now)
            await record_change(
                uow,
                account_id=account_id,
                actor=actor,
                action="unpublish",
                target_type="agent",
                target_id="configuration",
                before=dict(publication.after),
                after=dict(publication.before),
            )
            await uow.commit()
        return changed, sorted(publication.after)

    @staticmethod
    async def _live(uow: AdminUnitOfWork, account_id: str, *, lock: bool) -> AgentConfigSnapshot:
        config = await uow.accounts.config(account_id, for_update=lock)
        if config is None:
            raise NotFound(f"Account {account_id!r} does not exist.")
        return config

    @staticmethod
    async def _go_live(uow: AdminUnitOfWork, config: AgentConfigSnapshot) -> None:
        await uow.accounts.save_config(config)
        await publish_snapshot(uow, config)
