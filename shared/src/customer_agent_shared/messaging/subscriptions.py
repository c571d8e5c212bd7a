"""One service's Kafka subscriptions, declared the same way in every service.

Every subscriber of a service uses the group ``<consumer group>.<topic>``, the
AsyncAPI title ``<service>/<topic>``, the shared subscriber options (large
messages, where a new group starts) and a decoder that dead-letters what is
not an event: ``Subscriptions`` fills those in, so a service's
``kafka_subscribers.py`` says only which topic goes to which use case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from faststream.kafka import KafkaBroker

from customer_agent_shared.messaging.batches import BatchConsumer
from customer_agent_shared.messaging.broker import subscriber_options
from customer_agent_shared.messaging.reliable import decode_json_body

Decorator = Callable[[Any], Any]


@dataclass(frozen=True)
class Subscriptions:
    """Registers the subscribers of one service on its broker (see the module)."""

    broker: KafkaBroker
    service: str
    group_id: str
    offset_reset: str = "earliest"
    batches: BatchConsumer | None = None

    def each(self, topic: str, *, description: str) -> Decorator:
        """Decorate a handler of one event at a time: ``async def on_x(event: CloudEvent[Model]) -> None``."""
        decorator: Decorator = self.broker.subscriber(
            topic,
            group_id=self._group(topic),
            decoder=decode_json_body,
            title=self._title(topic),
            description=description,
            **subscriber_options(self.offset_reset),
        )
        return decorator

    def batch(self, topic: str, model: type[Any], *, description: str, event_types: tuple[str, ...] = ()) -> Decorator:
        """Decorate a handler of a batch of ``model`` events (``BatchConsumer``); other ``event_types`` and
        records that are not ``model`` are dead-lettered."""
        if self.batches is None:
            raise ValueError(f"{self.service}: a batch subscriber of {topic} needs a BatchConsumer")
        return self.batches.subscriber(
            self.broker,
            topic,
            group_id=self._group(topic),
            decoder=self.batches.decoder(model, event_types=event_types),
            title=self._title(topic),
            description=description,
            **subscriber_options(self.offset_reset),
        )

    def _group(self, topic: str) -> str:
        return f"{self.group_id}.{topic}"

    def _title(self, topic: str) -> str:
        return f"{self.service}/{topic}"
