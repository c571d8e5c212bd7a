"""A visitor's chat session: the thread it writes to and who it is on the channel."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from customer_agent_shared.events.channels import is_external_id

MAX_ID_CHARS = 200
MAX_ACCOUNT_CHARS = 100


@dataclass(frozen=True)
class ThreadRef:
    """One live-chat thread of an account's channel."""

    account_id: str
    channel_id: str
    thread_id: str

    @property
    def key(self) -> str:
        """The Kafka key of the thread's events (per-thread order)."""
        return f"{self.account_id}:{self.thread_id}"


@dataclass(frozen=True)
class Session:
    """A thread and the visitor who writes to it."""

    thread: ThreadRef
    visitor_id: str
    resumed: bool


def new_thread_id() -> str:
    """An unguessable thread id: whoever knows it can resume the thread."""
    return f"wc-{uuid.uuid4().hex}"


def new_visitor_id() -> str:
    """The visitor's id on the channel (``sender.id``), one per thread."""
    return f"visitor-{uuid.uuid4().hex}"


def path_ids_refusal(account_id: str, channel_id: str) -> str | None:
    """Why a page's or socket's path ids cannot open a chat (None: they fit the inbound contract, as admin-api's do)."""
    for name, value, longest in (("account", account_id, MAX_ACCOUNT_CHARS), ("channel", channel_id, MAX_ID_CHARS)):
        if not 0 < len(value) <= longest:
            return f"{name} id must be 1-{longest} characters long (got {len(value)})"
        if not is_external_id(value):
            return f"{name} id must not contain control characters"
    return None
