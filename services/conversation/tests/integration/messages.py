"""Assigned-message events as routing publishes them, for the in-process service."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from customer_agent_shared.events.channels import ChannelRef, ChannelType, MessageReceived, Sender
from customer_agent_shared.events.conversations import ConversationAssigned
from customer_agent_shared.events.envelope import make_event
from customer_agent_shared.testing.kafka import unique_name


def assigned_event(
    text: str, thread: str, *, account: str, new_thread: bool = True, locale: str | None = "en-GB"
) -> Any:
    """A ``conversation.assigned`` event for one live-chat message of ``thread``."""
    message = MessageReceived(
        account_id=account,
        channel=ChannelRef(type=ChannelType.LIVE_CHAT, id="web"),
        thread_id=thread,
        message_id=unique_name("msg"),
        sender=Sender(id="visitor", locale=locale),
        text=text,
        sent_at=datetime.now(UTC),
    )
    assigned = ConversationAssigned(
        account_id=account, thread_id=thread, channel=message.channel, message=message, new_thread=new_thread
    )
    return make_event("conversation.assigned", assigned, source="test", account_id=account)
