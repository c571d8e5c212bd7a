"""Retries of a failed handler: a dependency outage is waited out, a bug gets a few tries, bad input none.

How a failure is classified is in ``failures``. A *transient* failure (a
dependency unavailable) is retried for as long as it takes, with capped
exponential backoff and jitter: while it waits, the consumer's partitions are
paused (``pausing``), the consumer counts as blocked (a gauge, and ``/readyz``
once it has waited longer than a threshold) and every retry is counted by what
failed. An *unknown* failure (a bug) gets ``RetryPolicy.max_attempts`` attempts
and then goes to the dead-letter topic; a *permanent* one goes there at once.
Each attempt is bounded by the handler timeout, so a hung dependency becomes a
transient failure instead of a stuck consumer. After a timeout the process's
dependencies are asked whether they answer (its readiness checks): if one does
not, the hang is an outage, waited out like any other. If they all answer, the
slowness is the message's own, and ``RetryPolicy.max_timeouts`` such attempts
in a row dead-letter it, the one way a transient failure ends in the
dead-letter topic: a message that hangs its handler every time while its whole
partition waits is a slow poison message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from tenacity import AsyncRetrying, RetryCallState, wait_exponential_jitter

from customer_agent_shared.messaging.failures import (
    DependencyUnresponsiveError,
    Failure,
    FailureKind,
    HandlerTimeoutError,
    classify,
)
from customer_agent_shared.messaging.pausing import PausedConsumer, pause_current_consumer
from customer_agent_shared.observability.metrics import CONSUMERS_BLOCKED, EVENT_RETRIES, TRANSIENT_RETRIES

if TYPE_CHECKING:
    from customer_agent_shared.messaging.reliable import ReliableConsumerConfig

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries of unknown failures; unbounded, capped and jittered ones of transient failures."""

    max_attempts: int = 4
    """Attempts of a handler failing for an unknown reason before its message is dead-lettered."""
    first_delay_seconds: float = 0.2
    max_delay_seconds: float = 5.0
    transient_max_delay_seconds: float = 30.0
    """Longest wait between two attempts while a dependency is unavailable."""
    transient_jitter_seconds: float = 1.0
    """Up to this much is added at random to each such wait, so consumers do not retry in step."""
    max_timeouts: int = 10
    """Attempts in a row cut off by the handler timeout before the message is dead-lettered: a hung
    dependency is waited out for a while, but a message that is slow every time must not block its
    partition for good (a dead letter can be replayed)."""

    def delay(self, failed_attempt: int) -> float:
        """Delay before the next attempt after ``failed_attempt`` unknown failures."""
        return float(min(self.max_delay_seconds, self.first_delay_seconds * (2 ** (failed_attempt - 1))))


@dataclass
class _Blocked:
    topic: str
    reason: str
    since: float


class BlockedConsumers:
    """The consumers of one process now waiting for an unavailable dependency: what for, since when."""

    def __init__(self, service: str) -> None:
        self._service = service
        self._blocked: list[_Blocked] = []

    def block(self, topic: str, reason: str) -> _Blocked:
        """Record that a consumer of ``topic`` started waiting for ``reason``."""
        blocked = _Blocked(topic, reason, time.monotonic())
        self._blocked.append(blocked)
        CONSUMERS_BLOCKED.labels(service=self._service, topic=topic).inc()
        return blocked

    def unblock(self, blocked: _Blocked) -> None:
        """Record that the consumer stopped waiting."""
        self._blocked.remove(blocked)
        CONSUMERS_BLOCKED.labels(service=self._service, topic=blocked.topic).dec()

    def not_ready_reason(self, *, longer_than_seconds: float) -> str | None:
        """Why the process is not ready: a consumer has waited longer than ``longer_than_seconds`` (else None)."""
        if not self._blocked:
            return None
        longest = min(self._blocked, key=lambda blocked: blocked.since)
        waited = time.monotonic() - longest.since
        if waited <= longer_than_seconds:
            return None
        return f"a consumer of {longest.topic} has waited {waited:.0f} s for an unavailable {longest.reason}"


class FailureRetries:
    """What to retry, how long to wait and when to give up, by the kind of failure: a dependency that is down is
    waited out (capped, jittered), an unknown failure gets ``RetryPolicy.max_attempts`` attempts, input refused
    for good none. The ``retry``, ``stop`` and ``wait`` of a tenacity strategy."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy
        self._transient_wait = wait_exponential_jitter(
            multiplier=policy.first_delay_seconds,
            max=policy.transient_max_delay_seconds,
            jitter=policy.transient_jitter_seconds,
        )
        self.failure: Failure | None = None
        self.unknown_failures = 0

    def retry(self, state: RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome is not None else None
        if not isinstance(error, Exception):
            return False  # success, or a cancellation: nothing to retry
        self.failure = classify(error)
        if self.failure.kind is FailureKind.UNKNOWN:
            self.unknown_failures += 1
        return self.failure.kind is not FailureKind.PERMANENT

    def stop(self, _state: RetryCallState) -> bool:
        """Unknown failures run out; an unavailable dependency is waited out."""
        return self._is(FailureKind.UNKNOWN) and self.unknown_failures >= self._policy.max_attempts

    def wait(self, state: RetryCallState) -> float:
        if self._is(FailureKind.TRANSIENT):
            return float(self._transient_wait(state))
        return self._policy.delay(self.unknown_failures)

    def _is(self, kind: FailureKind) -> bool:
        return self.failure is not None and self.failure.kind is kind


class _MessageRetries(FailureRetries):
    """The tenacity strategy of one message: ``FailureRetries``, attempts timing out in a row, the consumer
    paused and counted as blocked while a dependency is down."""

    def __init__(self, config: ReliableConsumerConfig, topic: str) -> None:
        super().__init__(config.retry)
        self._config = config
        self._topic = topic
        self.last_error: BaseException | None = None
        self.failed_attempts = 0
        self.timeouts_in_a_row = 0
        self._blocked: _Blocked | None = None
        self._paused: PausedConsumer | None = None

    def retry(self, state: RetryCallState) -> bool:
        again = super().retry(state)
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, Exception):
            self.last_error = error
            self.failed_attempts += 1
            if isinstance(error, HandlerTimeoutError):
                self.timeouts_in_a_row += 1
            elif not isinstance(error, DependencyUnresponsiveError):  # an outage says nothing about the message
                self.timeouts_in_a_row = 0
        return again

    def stop(self, state: RetryCallState) -> bool:
        """Unknown failures and attempts timing out in a row run out; an unavailable dependency is waited out."""
        return self.timeouts_in_a_row >= self._policy.max_timeouts or super().stop(state)

    def before_sleep(self, state: RetryCallState) -> None:
        service, error = self._config.service, repr(self.last_error)[:300]
        details = {"attempt": state.attempt_number, "retry_in_seconds": round(state.upcoming_sleep, 2), "error": error}
        if self.failure is None or self.failure.kind is not FailureKind.TRANSIENT:
            EVENT_RETRIES.labels(service=service, topic=self._topic).inc()
            logger.warning("handler failed; retrying", extra=details)
            return
        TRANSIENT_RETRIES.labels(service=service, topic=self._topic, kind=self.failure.reason).inc()
        logger.warning("dependency unavailable; retrying", extra={**details, "unavailable": self.failure.reason})
        if self._blocked is None:
            self._blocked = self._config.blocked.block(self._topic, self.failure.reason)
            self._paused = pause_current_consumer()
        self._blocked.reason = self.failure.reason

    async def sleep(self, seconds: float) -> None:
        if self._paused is not None:
            await self._paused.keep_alive()
        await asyncio.sleep(seconds)

    def finish(self) -> None:
        """Resume the consumer and stop counting it as blocked."""
        if self._paused is not None:
            self._paused.resume()
            self._paused = None
        if self._blocked is not None:
            self._config.blocked.unblock(self._blocked)
            self._blocked = None


async def run_with_retries(
    config: ReliableConsumerConfig,
    topic: str,
    attempt_once: Callable[[], Awaitable[T]],
    dead_letter: Callable[[BaseException, int], Awaitable[None]],
) -> tuple[bool, T | None]:
    """Run ``attempt_once`` as the module says; (False, None) once the input was dead-lettered instead."""
    strategy = _MessageRetries(config, topic)
    retrying = AsyncRetrying(
        retry=strategy.retry,
        stop=strategy.stop,
        wait=strategy.wait,
        before_sleep=strategy.before_sleep,
        sleep=strategy.sleep,
        reraise=True,
    )
    try:
        return True, await retrying(
            bounded,
            attempt_once,
            timeout_seconds=config.handler_timeout_seconds,
            dependencies_answer=config.dependencies_answer,
        )
    except Exception as error:
        if error is not strategy.last_error:
            raise  # not the handler's failure: let the message come back
        if strategy.failure is not None and strategy.failure.kind is FailureKind.UNKNOWN:
            logger.exception("handler failed after retries; dead-lettering")
        await dead_letter(error, strategy.failed_attempts)
        return False, None
    finally:
        strategy.finish()


async def bounded(
    attempt_once: Callable[[], Awaitable[T]],
    *,
    timeout_seconds: float,
    dependencies_answer: Callable[[], Awaitable[bool]] | None = None,
) -> T:
    """Run one attempt; one that takes longer than ``timeout_seconds`` is cancelled: ``HandlerTimeoutError``,
    or ``DependencyUnresponsiveError`` when ``dependencies_answer`` then says a dependency does not answer."""
    scope = asyncio.timeout(timeout_seconds)
    try:
        async with scope:
            return await attempt_once()
    except TimeoutError as error:
        if not scope.expired():
            raise
        message = f"handler attempt took longer than {timeout_seconds:g} s"
        if dependencies_answer is not None and not await dependencies_answer():
            raise DependencyUnresponsiveError(f"{message}, and a dependency does not answer") from error
        raise HandlerTimeoutError(message) from error
