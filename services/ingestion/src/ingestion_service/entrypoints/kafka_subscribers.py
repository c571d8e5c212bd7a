"""Ingestion's Kafka subscribers: thin adapters from topics to use cases."""

from __future__ import annotations

from customer_agent_shared.events.content import ArticleChanged
from customer_agent_shared.events.envelope import CloudEvent
from customer_agent_shared.events.sources import SourceCommand
from customer_agent_shared.messaging.broker import subscriber_options
from customer_agent_shared.messaging.reliable import decode_json_body
from customer_agent_shared.topics import CONTENT_EVENTS, SOURCES_COMMANDS
from faststream.kafka import KafkaBroker

from ingestion_service.handlers.articles import ArticleIndexing
from ingestion_service.handlers.source_commands import SourceCommands


def register_subscribers(
    broker: KafkaBroker,
    commands: SourceCommands,
    articles: ArticleIndexing,
    group_id: str,
    offset_reset: str = "earliest",
) -> None:
    """Subscribe ingestion to every topic it consumes."""
    options = subscriber_options(offset_reset)

    @broker.subscriber(
        SOURCES_COMMANDS,
        group_id=f"{group_id}.{SOURCES_COMMANDS}",
        decoder=decode_json_body,
        title=f"ingestion/{SOURCES_COMMANDS}",
        description="Sync, resync, update or delete a content source.",
        **options,
    )
    async def on_source_command(event: CloudEvent[SourceCommand]) -> None:
        await commands.handle(event)

    @broker.subscriber(
        CONTENT_EVENTS,
        group_id=f"{group_id}.{CONTENT_EVENTS}",
        decoder=decode_json_body,
        title=f"ingestion/{CONTENT_EVENTS}",
        description="Index, re-index or remove knowledge-base articles.",
        **options,
    )
    async def on_article_changed(event: CloudEvent[ArticleChanged]) -> None:
        await articles.handle(event)
