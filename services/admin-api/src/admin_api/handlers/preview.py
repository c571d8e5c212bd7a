"""Preview: ask the conversation service what the agent would answer (request/reply over Kafka)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field

from customer_agent_shared.events.channels import ChannelRef
from customer_agent_shared.events.envelope import make_event
from customer_agent_shared.events.preview import PREVIEW_REQUESTED, PreviewAnswered, PreviewRequested, PreviewRouted
from customer_agent_shared.messaging.producer import KafkaEventProducer
from customer_agent_shared.topics import CONVERSATIONS_PREVIEW
from prometheus_client import Counter, Histogram

from admin_api.domain.errors import UpstreamTimeout
from admin_api.handlers.audit import SOURCE

logger = logging.getLogger(__name__)

ROUTING_GRACE_SECONDS = 2.0
"""How long a preview waits for routing's decision once conversation has answered."""

PREVIEWS = Counter("customer_agent_admin_api_previews_total", "Preview requests by outcome.", ["outcome"])
PREVIEW_SECONDS = Histogram(
    "customer_agent_admin_api_preview_seconds",
    "Time from preview request to answer.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30),
)


@dataclass
class _Waiting:
    """A preview request waiting for conversation's answer and routing's decision."""

    account_id: str
    answer: asyncio.Future[PreviewAnswered]
    routing: asyncio.Future[PreviewRouted] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass(frozen=True)
class PreviewResult:
    """The answer the agent would give, and what routing would do (None if it did not say in time)."""

    answer: PreviewAnswered
    routing: PreviewRouted | None


class PreviewUseCase:
    """Publishes preview requests and completes them when the matching replies arrive."""

    def __init__(self, producer: KafkaEventProducer, *, timeout_seconds: float) -> None:
        self._producer = producer
        self._timeout = timeout_seconds
        self._pending: dict[str, _Waiting] = {}

    @property
    def pending(self) -> int:
        """Requests still waiting for an answer."""
        return len(self._pending)

    async def ask(
        self,
        account_id: str,
        *,
        text: str,
        locale: str | None,
        thread_id: str | None,
        channel: ChannelRef | None = None,
    ) -> PreviewResult:
        """The answer the agent would give and routing's decision; never billed. Raises UpstreamTimeout when
        conversation does not answer (routing's part is left out when only it is late)."""
        correlation_id = "prv_" + uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        waiting = _Waiting(account_id, loop.create_future())
        self._pending[correlation_id] = waiting
        request = PreviewRequested(
            account_id=account_id,
            correlation_id=correlation_id,
            text=text,
            locale=locale,
            thread_id=thread_id,
            channel=channel,
        )
        started = loop.time()
        try:
            # No state changes here, so the request goes straight to Kafka (no outbox needed).
            await self._producer.send_event(
                CONVERSATIONS_PREVIEW,
                account_id,
                make_event(PREVIEW_REQUESTED, request, source=SOURCE, account_id=account_id),
            )
            answer = await asyncio.wait_for(waiting.answer, timeout=self._timeout)
            # Routing decides in milliseconds and usually answers first; a routing that is down costs the
            # admin a short wait, not the whole timeout.
            routing = await self._routing_within(waiting, ROUTING_GRACE_SECONDS)
        except TimeoutError as error:
            PREVIEWS.labels(outcome="timeout").inc()
            raise UpstreamTimeout(
                f"The conversation service did not answer the preview within {self._timeout:g} seconds; "
                "check that it is running and try again."
            ) from error
        finally:
            self._pending.pop(correlation_id, None)
        PREVIEWS.labels(outcome="answered").inc()
        PREVIEW_SECONDS.observe(loop.time() - started)
        return PreviewResult(answer, routing)

    @staticmethod
    async def _routing_within(waiting: _Waiting, seconds: float) -> PreviewRouted | None:
        try:
            return await asyncio.wait_for(waiting.routing, timeout=max(0.0, seconds))
        except TimeoutError:
            logger.warning("routing did not answer the preview in time; answer sent without its decision")
            return None

    def deliver(self, reply: PreviewAnswered | PreviewRouted) -> bool:
        """Complete the waiting request with this correlation id; False if it is not ours (or expired)."""
        waiting = self._pending.get(reply.correlation_id)
        if waiting is None:
            return False
        if waiting.account_id != reply.account_id:
            logger.warning("preview reply for another account ignored")
            return False
        if isinstance(reply, PreviewRouted):
            if not waiting.routing.done():
                waiting.routing.set_result(reply)
        elif not waiting.answer.done():
            waiting.answer.set_result(reply)
        return True
