"""The retry rules of a handler: outages are waited out, bugs get a few attempts, bad input none, hangs time out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from customer_agent_shared.messaging.failures import PermanentHandlerError
from customer_agent_shared.messaging.reliable import ReliableConsumerConfig
from customer_agent_shared.messaging.retries import BlockedConsumers, RetryPolicy, run_with_retries
from customer_agent_shared.observability.metrics import (
    CONSUMERS_BLOCKED,
    DEAD_LETTERS,
    EVENT_RETRIES,
    TRANSIENT_RETRIES,
)
from customer_agent_shared.persistence.outbox import OutgoingMessage
from customer_agent_shared.settings import ServiceSettings

FAST = RetryPolicy(
    max_attempts=3,
    first_delay_seconds=0.001,
    max_delay_seconds=0.005,
    transient_max_delay_seconds=0.01,
    transient_jitter_seconds=0.0,
)


async def _no_publishing(_messages: list[OutgoingMessage]) -> None:
    raise AssertionError("run_with_retries dead-letters through its callback only")


def config(service: str, *, timeout: float = 5.0) -> ReliableConsumerConfig:
    return ReliableConsumerConfig(service, _no_publishing, retry=FAST, handler_timeout_seconds=timeout)


class Handler:
    """Fails with the given errors in turn, then succeeds; records what was dead-lettered."""

    def __init__(self, *failures: BaseException | Callable[[], Awaitable[None]]) -> None:
        self.failures = list(failures)
        self.calls = 0
        self.dead: list[tuple[str, int]] = []

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            failure = self.failures.pop(0)
            if isinstance(failure, BaseException):
                raise failure
            await failure()
        return "done"

    async def dead_letter(self, error: BaseException, attempts: int) -> None:
        self.dead.append((type(error).__name__, attempts))


def transient_retries(service: str, kind: str) -> float:
    return float(TRANSIENT_RETRIES.labels(service=service, topic="t", kind=kind)._value.get())


async def test_an_outage_is_retried_past_the_attempt_limit_and_never_dead_lettered() -> None:
    handler = Handler(*[ConnectionRefusedError(111, "refused") for _ in range(10)])
    assert await run_with_retries(config("outage"), "t", handler, handler.dead_letter) == (True, "done")
    assert handler.calls == 11
    assert handler.dead == []
    assert transient_retries("outage", "connection") == 10


async def test_a_bug_gets_its_attempts_then_the_dead_letter_topic_even_after_an_outage() -> None:
    handler = Handler(*[TimeoutError() for _ in range(5)], *[KeyError("x") for _ in range(5)])
    assert await run_with_retries(config("bug"), "t", handler, handler.dead_letter) == (False, None)
    assert handler.calls == 5 + 3  # the outage's attempts do not use up the bug's
    assert handler.dead == [("KeyError", 8)]


async def test_refused_input_is_dead_lettered_at_once() -> None:
    handler = Handler(PermanentHandlerError("never"))
    assert await run_with_retries(config("refused"), "t", handler, handler.dead_letter) == (False, None)
    assert (handler.calls, handler.dead) == (1, [("PermanentHandlerError", 1)])


async def test_a_hung_attempt_is_cancelled_and_retried_as_transient() -> None:
    hung = asyncio.Event()

    async def hang() -> None:
        await asyncio.Event().wait()

    async def hang_and_note() -> None:
        try:
            await hang()
        finally:
            hung.set()  # cancelled by the timeout, not left running

    handler = Handler(hang_and_note)
    result = await run_with_retries(config("hung", timeout=0.1), "t", handler, handler.dead_letter)
    assert result == (True, "done")
    assert hung.is_set()
    assert handler.calls == 2
    assert handler.dead == []
    assert transient_retries("hung", "handler_timeout") == 1


async def test_a_message_that_times_out_every_time_is_dead_lettered_after_max_timeouts() -> None:
    async def hang() -> None:
        await asyncio.Event().wait()

    handler = Handler(*[hang for _ in range(FAST.max_timeouts + 5)])
    result = await run_with_retries(config("slow", timeout=0.02), "t", handler, handler.dead_letter)
    assert result == (False, None)
    assert handler.calls == FAST.max_timeouts
    assert handler.dead == [("HandlerTimeoutError", FAST.max_timeouts)]


class Dependencies:
    """Readiness answers in turn: False while a dependency hangs, then True (the last answer repeats)."""

    def __init__(self, *answers: bool) -> None:
        self.answers = list(answers)
        self.asked = 0

    async def __call__(self) -> bool:
        self.asked += 1
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


async def test_timeouts_while_a_dependency_does_not_answer_are_waited_out_however_many() -> None:
    async def hang() -> None:
        await asyncio.Event().wait()

    hangs = FAST.max_timeouts * 3
    dependencies = Dependencies(*[False] * hangs, True)
    handler = Handler(*[hang for _ in range(hangs)])
    slow = config("hung-dependency", timeout=0.02)
    slow.dependencies_answer = dependencies
    result = await run_with_retries(slow, "t", handler, handler.dead_letter)
    assert result == (True, "done")
    assert handler.dead == []
    assert (handler.calls, dependencies.asked) == (hangs + 1, hangs)
    assert transient_retries("hung-dependency", "dependency_unresponsive") == hangs
    assert transient_retries("hung-dependency", "handler_timeout") == 0


async def test_only_timeouts_while_every_dependency_answers_count_toward_the_dead_letter() -> None:
    async def hang() -> None:
        await asyncio.Event().wait()

    # Timeouts of the message alone, an outage in between: it neither counts nor restarts the count.
    answers = [True] * (FAST.max_timeouts - 1) + [False] * 4 + [True]
    handler = Handler(*[hang for _ in range(len(answers) + 5)])
    slow = config("hung-message", timeout=0.02)
    slow.dependencies_answer = Dependencies(*answers)
    result = await run_with_retries(slow, "t", handler, handler.dead_letter)
    assert result == (False, None)
    assert handler.dead == [("HandlerTimeoutError", len(answers))]
    assert transient_retries("hung-message", "dependency_unresponsive") == 4


async def test_a_consumer_waiting_on_an_outage_is_counted_blocked_until_it_is_over() -> None:
    settings = config("blocked")
    seen: list[str | None] = []

    async def observe() -> None:
        seen.append(settings.blocked.not_ready_reason(longer_than_seconds=0))
        raise ConnectionResetError("reset")

    handler = Handler(ConnectionResetError("reset"), observe)
    await run_with_retries(settings, "t", handler, handler.dead_letter)
    assert seen[0] is not None
    assert "t" in seen[0]
    assert "connection" in seen[0]
    assert settings.blocked.not_ready_reason(longer_than_seconds=0) is None
    assert CONSUMERS_BLOCKED.labels(service="blocked", topic="t")._value.get() == 0


async def test_a_cancelled_handler_is_neither_retried_nor_dead_lettered() -> None:
    async def cancelled() -> None:
        raise asyncio.CancelledError

    handler = Handler(cancelled)
    with pytest.raises(asyncio.CancelledError):
        await run_with_retries(config("cancelled"), "t", handler, handler.dead_letter)
    assert (handler.calls, handler.dead) == (1, [])


def test_readiness_fails_only_once_a_consumer_has_waited_longer_than_the_threshold() -> None:
    blocked = BlockedConsumers("readiness")
    assert blocked.not_ready_reason(longer_than_seconds=0) is None
    waiting = blocked.block("channels.inbound.v1", "postgres")
    assert blocked.not_ready_reason(longer_than_seconds=60) is None
    reason = blocked.not_ready_reason(longer_than_seconds=0)
    assert reason is not None
    assert "channels.inbound.v1" in reason
    assert "postgres" in reason
    blocked.unblock(waiting)
    assert blocked.not_ready_reason(longer_than_seconds=0) is None


def test_the_descriptions_state_the_policy_s_limits() -> None:
    policy = RetryPolicy()
    timeouts = f"{policy.max_timeouts} attempts in a row cut off by the handler timeout"
    settings = ServiceSettings.model_fields

    assert timeouts in TRANSIENT_RETRIES._documentation
    assert timeouts in str(settings["transient_retry_max_delay_seconds"].description)
    assert f"cut off {policy.max_timeouts} times in a row" in str(settings["handler_timeout_seconds"].description)
    assert f"the {policy.max_attempts}th such failure" in EVENT_RETRIES._documentation
    assert f"an unknown error {policy.max_attempts} times, or {policy.max_timeouts} handler timeouts in a row" in (
        DEAD_LETTERS._documentation
    )
