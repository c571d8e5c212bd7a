"""Ingestion's Kafka subscribers: thin adapters from topics to use cases."""

from __future__ import annotations

from customer_agent_shared.events.content import ArticleChanged
from customer_agent_shared.events.envelope import CloudEvent
from customer_agent_shared.events.sources import SourceCommand
from customer_agent_shared.messaging.subscriptions import Subscriptions
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
    subscribe = Subscriptions(broker, "ingestion", group_id, offset_reset)

    @subscribe.each(SOURCES_COMMANDS, description="Sync, resync, update or delete a content source.")
    async def on_source_command(event: CloudEvent[SourceCommand]) -> None:
        await commands.handle(event)

    @subscribe.each(CONTENT_EVENTS, description="Index, re-index or remove knowledge-base articles.")
    async def on_article_changed(event: CloudEvent[ArticleChanged]) -> None:
        await articles.handle(event)
