"""Wires webchat: settings → Redis and Kafka → use cases → socket, pages and subscribers, and the lifecycle.

Webchat is a channel provider like any outside one: it publishes ``message.received`` and hears
replies and handoffs only on Kafka, and keeps no PostgreSQL state (browser sessions live in Redis).

How a reply reaches the replica that holds the visitor's socket, with several replicas:

- Every replica consumes ``channels.outbound.v1`` and ``inbox.handoffs.v1`` in one shared consumer
  group and appends each event for a thread webchat holds to that thread's replay buffer in Redis
  (a capped stream), once per CloudEvent id (a Lua script checks and records the id atomically), then
  publishes a notification on the thread's Redis pub/sub channel. The offset is committed only after
  the append, so an event is never lost, even while every replica restarts: a group of its own per
  replica reading from the latest offset would drop whatever arrived while no replica ran.
- Every replica subscribes to those notifications once (a pattern subscription) and wakes the
  sockets it holds for that thread; a socket sends the buffer's frames after the last one delivered
  (a cursor per thread in Redis) and re-reads the buffer every few seconds in case a notification
  was lost. A visitor who reconnects, to any replica, with ``?thread_id=`` gets every frame that
  arrived while disconnected, and none twice.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass

from customer_agent_shared.clients import create_redis_client, redis_readiness
from customer_agent_shared.messaging.broker import create_kafka_broker
from customer_agent_shared.messaging.offsets import OffsetCommitter
from customer_agent_shared.messaging.producer import KafkaEventProducer
from customer_agent_shared.messaging.reliable import ReliableConsumerConfig, RetryPolicy
from customer_agent_shared.observability.health import health_router
from customer_agent_shared.observability.logging import configure_logging
from customer_agent_shared.runtime import Lifecycle
from customer_agent_shared.settings import unknown_settings
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from redis.asyncio import Redis

from webchat_service.adapters.feed import ThreadFeed
from webchat_service.adapters.rate_limits import VisitorBudgets
from webchat_service.adapters.threads import ThreadStore
from webchat_service.entrypoints import pages, websocket
from webchat_service.entrypoints.kafka_subscribers import register_subscribers
from webchat_service.entrypoints.websocket import ChatRuntime
from webchat_service.handlers.deliveries import Deliveries
from webchat_service.handlers.visitors import VisitorChats
from webchat_service.settings import WebchatSettings

logger = logging.getLogger(__name__)

TITLE = "Customer Agent webchat"
DESCRIPTION = "Reference live-chat channel provider: an embeddable widget, a demo page and its WebSocket."


@dataclass
class WebchatService:
    """Everything one webchat process holds."""

    settings: WebchatSettings
    redis: Redis
    producer: KafkaEventProducer
    broker: KafkaBroker
    committer: OffsetCommitter
    reliable: ReliableConsumerConfig
    lifecycle: Lifecycle
    chat: ChatRuntime
    deliveries: Deliveries


def build_service(settings: WebchatSettings | None = None) -> WebchatService:
    """Build (not start) a webchat process."""
    settings = settings or WebchatSettings()
    redis = create_redis_client(settings.redis_url)
    producer = KafkaEventProducer(settings.kafka_bootstrap_servers, service=settings.service_name, security=settings)
    committer = OffsetCommitter(settings.service_name, interval_seconds=settings.offset_commit_interval_seconds)
    reliable = ReliableConsumerConfig(
        service=settings.service_name,
        send_batch=producer.send_batch,
        dedup_namespace=settings.consumer_group,
        committer=committer,
        retry=RetryPolicy(transient_max_delay_seconds=settings.transient_retry_max_delay_seconds),
        handler_timeout_seconds=settings.handler_timeout_seconds,
    )
    broker = create_kafka_broker(
        settings.kafka_bootstrap_servers,
        service=settings.service_name,
        reliable=reliable,
        graceful_timeout_seconds=float(settings.shutdown_grace_seconds),
        security=settings,
    )
    store = ThreadStore(redis, ttl_seconds=settings.thread_ttl_seconds, max_entries=settings.replay_entries)
    chat = ChatRuntime(
        settings=settings,
        allowlist=settings.origin_allowlist(),
        visitors=VisitorChats(store, producer, publish_timeout_seconds=settings.publish_timeout_seconds),
        store=store,
        feed=ThreadFeed(redis),
        budgets=VisitorBudgets(
            redis,
            redis_url=settings.redis_url,
            messages_per_visitor=settings.messages_per_visitor,
            sessions_per_address=settings.sessions_per_address,
        ),
    )
    deliveries = Deliveries(store)
    register_subscribers(broker, deliveries, settings.consumer_group, settings.consumer_offset_reset)
    lifecycle = _lifecycle(settings, redis=redis, producer=producer, broker=broker, committer=committer, chat=chat)
    reliable.dependencies_answer = lifecycle.readiness.dependencies_answer
    lifecycle.readiness.add_condition(
        "consumers",
        lambda: reliable.blocked.not_ready_reason(longer_than_seconds=settings.blocked_consumer_unready_seconds),
    )
    return WebchatService(settings, redis, producer, broker, committer, reliable, lifecycle, chat, deliveries)


def _lifecycle(
    settings: WebchatSettings,
    *,
    redis: Redis,
    producer: KafkaEventProducer,
    broker: KafkaBroker,
    committer: OffsetCommitter,
    chat: ChatRuntime,
) -> Lifecycle:
    """Start Redis users, the producer, the feed, then the consumers; stop in reverse."""
    lifecycle = Lifecycle(settings.service_name, gc_generation0_threshold=settings.gc_generation0_threshold)

    async def close_redis() -> None:
        await redis.aclose()

    async def stop_consumers() -> None:
        await committer.close()
        await broker.stop()

    lifecycle.add("redis", None, close_redis)
    lifecycle.readiness.add("redis", redis_readiness(redis))
    lifecycle.readiness.add("kafka", lambda: broker.ping(timeout=2.0))
    lifecycle.readiness.add_condition("thread feed", chat.feed.not_ready_reason)
    lifecycle.add("producer", producer.start, producer.stop)
    lifecycle.add("thread feed", chat.feed.start, chat.feed.stop)
    lifecycle.add("kafka consumers", broker.start, stop_consumers)
    return lifecycle


def asyncapi_document(service: WebchatService) -> str:
    """The AsyncAPI document of the topics webchat consumes, as JSON."""
    spec = AsyncAPI(service.broker, title=TITLE, version="1.0.0", description=DESCRIPTION)
    return str(spec.to_specification().to_json())


def create_app(settings: WebchatSettings | None = None, *, service: WebchatService | None = None) -> FastAPI:
    """The ASGI app: widget, demo pages, the socket and the operations endpoints, with the lifecycle."""
    service = service or build_service(settings)
    settings = service.settings
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    for variable in unknown_settings(WebchatSettings, os.environ):
        logger.warning("environment variable is not a setting of this service; ignored", extra={"variable": variable})
    app = FastAPI(title=TITLE, description=DESCRIPTION, lifespan=service.lifecycle.fastapi_lifespan())
    app.state.chat = service.chat
    app.include_router(health_router(service.lifecycle.readiness))
    app.include_router(pages.router)
    app.include_router(websocket.router)

    @app.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi() -> dict[str, object]:
        return dict(json.loads(asyncapi_document(service)))

    return app
