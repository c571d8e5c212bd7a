"""Routing's entity: a thread, who owns it, and every change of ownership an event makes to it."""

from __future__ import annotations

from dataclasses import dataclass

from customer_agent_shared.events.channels import Assignee, AssigneeKind, ChannelRef, HandoffReason

from routing_service.domain.decisions import Decision
from routing_service.domain.handoff import LoadKey
from routing_service.domain.inbox import InboxChange, Owner, close_thread, reassign_thread, return_thread
from routing_service.domain.ownership import ThreadState, Transition, path

RESOLVABLE = frozenset({ThreadState.AGENT})
"""States conversation's quiet-period resolution closes.

A thread a person holds is closed by the inbox (thread.closed), never by the resolution: conversation does
not hear every handoff (triggers, pause), so it may resolve a human's thread.
"""


@dataclass(frozen=True)
class OwnershipChange:
    """What one event did to a thread: the transitions it took and the places it took or freed."""

    transitions: tuple[Transition, ...]
    load_changes: tuple[tuple[LoadKey, int], ...] = ()
    reason: HandoffReason | None = None


@dataclass
class RoutedThread:
    """A thread as routing holds it: its state, its assignee, and what the visitor said last."""

    account_id: str
    thread_id: str
    state: ThreadState
    channel: ChannelRef
    assignee_kind: AssigneeKind | None
    assignee_id: str | None
    powered_by_ai: bool
    locale: str | None
    last_message_id: str | None
    messages: int

    @property
    def key(self) -> str:
        """The thread's partition key on every topic routing writes."""
        return f"{self.account_id}:{self.thread_id}"

    @property
    def owner(self) -> Owner:
        """The thread's owner as the inbox rules see it."""
        if self.state is ThreadState.HUMAN and self.assignee_kind is not None and self.assignee_id:
            return Owner(self.state, (self.assignee_kind, self.assignee_id))
        return Owner(self.state)

    @property
    def assignee(self) -> Assignee:
        """Who the inbox shows as holding the thread (the unassigned view when nobody does)."""
        kind = self.assignee_kind or AssigneeKind.UNASSIGNED
        return Assignee(kind=kind, id=self.assignee_id if kind is not AssigneeKind.UNASSIGNED else None)

    def carry_out(self, decision: Decision) -> OwnershipChange | None:
        """Move the thread where a routing decision puts it; None when the decision keeps its owner."""
        final = decision.final_state
        if final is None:
            return None
        if decision.new_thread:
            self.powered_by_ai = decision.powered_by_ai
        holder: LoadKey | None = None
        if final is ThreadState.HUMAN and decision.assignee is not None:
            holder = (decision.assignee.kind, decision.assignee.id)
        self._move_to(Owner(final, holder))
        taken = ((holder, +1),) if holder is not None else ()
        return OwnershipChange(decision.transitions, taken, decision.reason)

    def close_from_inbox(self) -> OwnershipChange | None:
        """A person closed the thread; None when routing does not hold it open."""
        return self._take(close_thread(self.owner))

    def reassign(self, assignee: Assignee) -> OwnershipChange | None:
        """A person gave the thread to a user, a team or the unassigned view."""
        return self._take(reassign_thread(self.owner, assignee))

    def return_to_agent(self) -> OwnershipChange | None:
        """A person handed the thread back to the agent."""
        return self._take(return_thread(self.owner))

    def resolve(self) -> OwnershipChange | None:
        """Conversation resolved the thread after a quiet period: only an agent's thread closes."""
        if self.state not in RESOLVABLE:
            return None
        steps = tuple(path(self.state, ThreadState.CLOSED))
        self.state = ThreadState.CLOSED
        return OwnershipChange(steps)

    def _take(self, change: InboxChange | None) -> OwnershipChange | None:
        if change is None:
            return None
        self._move_to(change.owner)
        return OwnershipChange((change.step,), change.load_changes)

    def _move_to(self, owner: Owner) -> None:
        # A closed thread keeps its last assignee: the transition records who held it.
        if owner.state is ThreadState.HUMAN and owner.holder is not None:
            self.assignee_kind, self.assignee_id = owner.holder
        elif owner.state is ThreadState.UNASSIGNED:
            self.assignee_kind, self.assignee_id = AssigneeKind.UNASSIGNED, None
        elif owner.state is ThreadState.AGENT:
            self.assignee_kind, self.assignee_id = None, None
        self.state = owner.state
