"""A visitor opens or resumes a chat and writes to it: each message becomes a ``message.received``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from customer_agent_shared.events.channels import (
    MESSAGE_RECEIVED,
    ChannelRef,
    ChannelType,
    MessageReceived,
    Sender,
)
from customer_agent_shared.events.envelope import make_event, new_event_id
from customer_agent_shared.messaging.producer import KafkaEventProducer
from customer_agent_shared.topics import CHANNELS_INBOUND

from webchat_service.adapters.threads import ThreadStore
from webchat_service.domain.frames import VisitorMessage
from webchat_service.domain.sessions import Session, ThreadRef, new_thread_id, new_visitor_id
from webchat_service.metrics import VISITOR_MESSAGES

SOURCE = "webchat"


class PublishFailed(RuntimeError):
    """Kafka did not acknowledge a visitor's message in time; the visitor should send it again."""


class VisitorChats:
    """Opens sessions and publishes what visitors write, as any outside channel provider would."""

    def __init__(self, store: ThreadStore, producer: KafkaEventProducer, *, publish_timeout_seconds: float) -> None:
        self._store = store
        self._producer = producer
        self._publish_timeout = publish_timeout_seconds

    async def open(self, account_id: str, channel_id: str, thread_id: str | None) -> Session:
        """Resume ``thread_id`` if webchat holds it on this channel, else start a new thread."""
        if thread_id:
            thread = ThreadRef(account_id, channel_id, thread_id)
            visitor = await self._store.visitor_of(thread)
            if visitor is not None:
                return Session(thread, visitor, resumed=True)
        thread = ThreadRef(account_id, channel_id, new_thread_id())
        visitor = new_visitor_id()
        await self._store.register(thread, visitor)
        return Session(thread, visitor, resumed=False)

    async def write(self, session: Session, message: VisitorMessage) -> MessageReceived:
        """Publish the visitor's message to channels.inbound.v1 and wait for Kafka's acknowledgement."""
        thread = session.thread
        now = datetime.now(UTC)
        data = MessageReceived(
            account_id=thread.account_id,
            channel=ChannelRef(type=ChannelType.LIVE_CHAT, id=thread.channel_id),
            thread_id=thread.thread_id,
            message_id=new_event_id(),
            sender=Sender(id=session.visitor_id, locale=message.locale),
            text=message.text,
            sent_at=now,
        )
        event = make_event(MESSAGE_RECEIVED, data, source=SOURCE, account_id=thread.account_id, time=now)
        try:
            await asyncio.wait_for(
                self._producer.send_event(CHANNELS_INBOUND, thread.key, event), self._publish_timeout
            )
        except Exception as error:  # Kafka down or slow: the widget is told to send the message again
            raise PublishFailed(str(error) or type(error).__name__) from error
        VISITOR_MESSAGES.inc()
        await self._store.touch(thread)
        return data
