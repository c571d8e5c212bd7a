"""Replies and handoffs heard on Kafka become frames in the thread's replay buffer, once per event id."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from customer_agent_shared.events.channels import (
    MESSAGE_SEND,
    THREAD_HANDED_OFF,
    ChannelType,
    MessageSend,
    ThreadHandedOff,
)
from customer_agent_shared.events.envelope import EventParseError, RawCloudEvent
from pydantic import BaseModel, ValidationError

from webchat_service.adapters.threads import ThreadStore
from webchat_service.domain.frames import handoff_frame, reply_frame
from webchat_service.domain.sessions import ThreadRef
from webchat_service.metrics import FRAMES_KEPT

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)


class Deliveries:
    """Keeps the frames of threads webchat holds; skips every other channel's events."""

    def __init__(self, store: ThreadStore) -> None:
        self._store = store

    async def on_outbound(self, event: RawCloudEvent) -> str:
        """A ``message.send`` for a live_chat thread webchat holds becomes a ``message`` frame."""
        if event.type != MESSAGE_SEND or not _is_live_chat(event.data):
            return self._skipped()
        message = _validated(MessageSend, event)
        thread = ThreadRef(message.account_id, message.channel.id, message.thread_id)
        return await self._keep(thread, event.id, reply_frame(message))

    async def on_handoff(self, event: RawCloudEvent) -> str:
        """A ``thread.handed_off`` of a thread webchat holds becomes a ``handoff`` frame; other types are skipped."""
        if event.type != THREAD_HANDED_OFF or not _is_live_chat(event.data):
            return self._skipped()
        handoff = _validated(ThreadHandedOff, event)
        thread = ThreadRef(handoff.account_id, handoff.channel.id, handoff.thread_id)
        return await self._keep(thread, event.id, handoff_frame(handoff))

    async def _keep(self, thread: ThreadRef, event_id: str, frame: dict[str, Any]) -> str:
        outcome = await self._store.append(thread, event_id=event_id, frame=frame)
        FRAMES_KEPT.labels(outcome=outcome).inc()
        if outcome != "not_held":
            logger.info("frame for a visitor", extra={"outcome": outcome, "frame_type": frame["type"]})
        return outcome

    @staticmethod
    def _skipped() -> str:
        FRAMES_KEPT.labels(outcome="skipped").inc()
        return "skipped"


def _is_live_chat(data: dict[str, Any]) -> bool:
    channel = data.get("channel")
    return isinstance(channel, dict) and channel.get("type") == ChannelType.LIVE_CHAT.value


def _validated(model: type[ModelT], event: RawCloudEvent) -> ModelT:
    """The event's data as ``model``; an invalid one is a poison message (dead-lettered with the reason)."""
    try:
        data = model.model_validate(event.data)
    except ValidationError as error:
        raise EventParseError(f"invalid {event.type} data: {error.errors()[:5]}") from error
    if getattr(data, "account_id", None) != event.accountid:
        raise EventParseError(f"event accountid {event.accountid!r} differs from data.account_id")
    return data
