"""Why the agent is or is not taking new conversations."""

from __future__ import annotations

from enum import StrEnum


class AgentStatus(StrEnum):
    """Running, or paused and why."""

    RUNNING = "running"
    PAUSED_MANUAL = "paused_manual"
    PAUSED_CREDITS_EXHAUSTED = "paused_credits_exhausted"


def agent_status(*, paused: bool, credits_exhausted: bool) -> AgentStatus:
    """A manual pause wins over a credit pause: resuming alone would not restart the agent."""
    if paused:
        return AgentStatus.PAUSED_MANUAL
    if credits_exhausted:
        return AgentStatus.PAUSED_CREDITS_EXHAUSTED
    return AgentStatus.RUNNING
