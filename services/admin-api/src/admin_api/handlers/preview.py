"""Preview: ask the conversation service what the agent would answer (request/reply over Kafka)."""

from __future__ import annotations

import asyncio
import logging
import uuid

from customer_agent_shared.events.envelope import make_event
from customer_agent_shared.events.preview import PREVIEW_REQUESTED, PreviewAnswered, PreviewRequested
from customer_agent_shared.messaging.producer import KafkaEventProducer
from customer_agent_shared.topics import CONVERSATIONS_PREVIEW
from prometheus_client import Counter, Histogram

from admin_api.domain.errors import UpstreamTimeout
from admin_api.handlers.audit import SOURCE

logger = logging.getLogger(__name__)

PREVIEWS = Counter("customer_agent_admin_api_previews_total", "Preview requests by outcome.", ["outcome"])
PREVIEW_SECONDS = Histogram(
    "customer_agent_admin_api_preview_seconds",
    "Time from preview request to answer.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30),
)


class PreviewUseCase:
    """Publishes preview requests and completes them when the matching reply arrives."""

    def __init__(self, producer: KafkaEventProducer, *, timeout_seconds: float) -> None:
        self._producer = producer
        self._timeout = timeout_seconds
        self._pending: dict[str, tuple[str, asyncio.Future[PreviewAnswered]]] = {}

    @property
    def pending(self) -> int:
        """Requests still waiting for an answer."""
        return len(self._pending)

    async def ask(self, account_id: str, *, text: str, locale: str | None, thread_id: str | None) -> PreviewAnswered:
        """The answer the agent would give; never billed. Raises UpstreamTimeout when no reply comes."""
        correlation_id = "prv_" + uuid.uuid4().hex
        future: asyncio.Future[PreviewAnswered] = asyncio.get_running_loop().create_future()
        self._pending[correlation_id] = (account_id, future)
        request = PreviewRequested(
            account_id=account_id, correlation_id=correlation_id, text=text, locale=locale, thread_id=thread_id
        )
        started = asyncio.get_running_loop().time()
        try:
            # No state changes here, so the request goes straight to Kafka (no outbox needed).
            await self._producer.send_event(
                CONVERSATIONS_PREVIEW,
                account_id,
                make_event(PREVIEW_REQUESTED, request, source=SOURCE, account_id=account_id),
            )
            answer = await asyncio.wait_for(future, timeout=self._timeout)
        except TimeoutError as error:
            PREVIEWS.labels(outcome="timeout").inc()
            raise UpstreamTimeout(
                f"The conversation service did not answer the preview within {self._timeout:g} seconds; "
                "check that it is running and try again."
            ) from error
        finally:
            self._pending.pop(correlation_id, None)
        PREVIEWS.labels(outcome="answered").inc()
        PREVIEW_SECONDS.observe(asyncio.get_running_loop().time() - started)
        return answer

    def deliver(self, answer: PreviewAnswered) -> bool:
        """Complete the waiting request with this correlation id; False if it is not ours (or expired)."""
        waiting = self._pending.get(answer.correlation_id)
        if waiting is None:
            return False
        account_id, future = waiting
        if account_id != answer.account_id:
            logger.warning("preview reply for another account ignored")
            return False
        if not future.done():
            future.set_result(answer)
        return True
