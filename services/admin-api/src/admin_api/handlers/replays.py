"""Draft replays: admin-api asks conversation to replay the account's latest real questions against the live
and the draft configuration, then routing what it would do with each, and keeps the report.

A replay is a job: ``start`` stores it and stages the request to conversation (outbox, with the replay row);
conversation's verdicts come back on agent.replay-results.v1, and the consumer that receives them stages
routing's request; routing's verdicts complete the report. Nothing waits in memory, so any replica may
receive any step. A replay still running after the timeout ends when it is read, when the account starts
another (or when conversation's verdicts arrive that late): without conversation's verdicts it failed; without
routing's, the report compares the agent's part only and says so. Replays are deleted after the retention.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from customer_agent_shared.events.config import AgentConfigSnapshot
from customer_agent_shared.events.envelope import EventParseError, RawCloudEvent, derived_event_id, make_event
from customer_agent_shared.events.replay import (
    REPLAY_ANSWERED,
    REPLAY_REQUESTED,
    REPLAY_ROUTED,
    REPLAY_ROUTING_REQUESTED,
    ReplayAnswered,
    ReplayRequested,
    ReplayRouted,
    ReplayRoutingRequested,
    RoutingQuestion,
    replay_event,
)
from customer_agent_shared.persistence.unit_of_work_protocol import delete_in_batches
from customer_agent_shared.topics import AGENT_REPLAY
from prometheus_client import Counter

from admin_api.adapters.draft_repositories import ReplayRecord
from admin_api.adapters.unit_of_work import AdminUnitOfWork
from admin_api.domain import drafts
from admin_api.domain.errors import Conflict, NotFound
from admin_api.domain.replay_report import report
from admin_api.handlers.audit import SOURCE
from admin_api.handlers.drafts import draft_etag

logger = logging.getLogger(__name__)

ANSWERING, ROUTING, DONE, FAILED = "answering", "routing", "done", "failed"
PRUNE_BATCH = 1000

REPLAYS = Counter("customer_agent_admin_api_replays_total", "Draft replays by how they ended.", ["outcome"])


def _routing_request(record: ReplayRecord, answered: ReplayAnswered) -> ReplayRoutingRequested:
    assert record.configs is not None
    return ReplayRoutingRequested(
        account_id=record.account_id,
        replay_id=record.id,
        live=AgentConfigSnapshot.model_validate(record.configs["live"]),
        draft=AgentConfigSnapshot.model_validate(record.configs["draft"]),
        questions=[
            RoutingQuestion(
                position=question.position,
                channel=question.channel,
                text=question.text,
                live_handoff=question.live.handoff_reason,
                draft_handoff=question.draft.handoff_reason,
            )
            for question in answered.questions
        ],
    )


def _finish(record: ReplayRecord, answered: ReplayAnswered, routed: ReplayRouted | None, now: datetime) -> None:
    """Complete the record with the report (``routed`` None: routing's part is missing)."""
    notes = [answered.note] if answered.note else []
    if routed is None:
        notes.append(
            "Routing did not answer in time: trigger words and handoff rules are not compared, only the agent's "
            "answers."
        )
    record.result = {
        **report(answered.questions, routed.questions if routed is not None else None),
        "available": answered.available,
        "complete": answered.complete,
        "routing_compared": routed is not None,
        "notes": notes,
    }
    record.state, record.finished_at = DONE, now
    record.configs = record.answers = None
    REPLAYS.labels(outcome="done" if routed is not None else "without_routing").inc()


class ReplayUseCases:
    """Start draft replays, take in their results, read them."""

    def __init__(
        self,
        unit_of_work: Callable[[], AdminUnitOfWork],
        *,
        timeout_seconds: float,
        retention_days: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._unit_of_work = unit_of_work
        self._timeout = timedelta(seconds=timeout_seconds)
        self._retention = timedelta(days=retention_days)
        self._clock = clock

    async def start(self, account_id: str, *, actor: str, limit: int) -> ReplayRecord:
        """Start replaying the draft on the ``limit`` latest real questions; Conflict without a draft or while
        another replay of the account runs."""
        now = self._clock()
        async with self._unit_of_work() as uow:
            live = await uow.accounts.config(account_id, for_update=True)  # one start at a time per account
            if live is None:
                raise NotFound(f"Account {account_id!r} does not exist.")
            stored = await uow.drafts.get(account_id)
            if stored is None:
                raise Conflict(
                    "The draft changes nothing, so there is nothing to replay; save a change with PUT /agent/draft.",
                    code="empty_draft",
                )
            running = await uow.replays.running(account_id)
            if running is not None and not self._expired(running, now):
                raise Conflict(
                    f"Replay {running.id!r} of this account is still running; read it with GET "
                    f"/agent/draft/replays/{running.id} and start another when it is done.",
                    code="replay_running",
                )
            if running is not None:  # expired: it ends now rather than keep its configurations until read
                self._end_late(running)
                await uow.replays.save(running)
            draft = drafts.drafted(live, stored.sections)
            record = ReplayRecord(
                id="rpl_" + uuid.uuid4().hex,
                account_id=account_id,
                state=ANSWERING,
                question_limit=limit,
                draft_etag=draft_etag(stored.sections),
                live_version=live.version,
                requested_by=actor,
                requested_at=now,
                configs={"live": live.model_dump(mode="json"), "draft": draft.model_dump(mode="json")},
            )
            await uow.replays.add(record)
            request = ReplayRequested(account_id=account_id, replay_id=record.id, limit=limit, live=live, draft=draft)
            await uow.publish(
                AGENT_REPLAY, account_id, make_event(REPLAY_REQUESTED, request, source=SOURCE, account_id=account_id)
            )
            await uow.commit()
        return record

    async def get(self, account_id: str, replay_id: str) -> ReplayRecord:
        """The replay; one past its timeout ends now."""
        async with self._unit_of_work() as uow:
            record = await uow.replays.get(account_id, replay_id)
            if record is None:
                raise NotFound(f"Replay {replay_id!r} does not exist on this account.")
            if not self._expired(record, self._clock()):
                return record
            record = await uow.replays.get(account_id, replay_id, for_update=True)
            assert record is not None
            if self._expired(record, self._clock()):
                self._end_late(record)
                await uow.replays.save(record)
                await uow.commit()
        return record

    async def prune(self) -> None:
        """Delete the replays requested longer ago than the retention (one still running is long expired)."""
        cutoff = self._clock() - self._retention
        total = await delete_in_batches(
            self._unit_of_work, lambda uow: uow.replays.prune(cutoff, PRUNE_BATCH), batch=PRUNE_BATCH
        )
        if total:
            logger.info("replays past their retention deleted", extra={"count": total})

    async def apply_result(self, consumer: str, raw: RawCloudEvent) -> bool:
        """Take in conversation's or routing's verdicts (each once; a replay unknown here, another admin-api's,
        is ignored); False for a repeat. Another type or invalid data raises ``EventParseError`` (dead-lettered)."""
        answered = replay_event(raw, ReplayAnswered).data if raw.type == REPLAY_ANSWERED else None
        routed = replay_event(raw, ReplayRouted).data if raw.type == REPLAY_ROUTED else None
        result = answered or routed
        if result is None:
            raise EventParseError(f"unexpected event type {raw.type!r}; expected {REPLAY_ANSWERED} or {REPLAY_ROUTED}")
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(consumer, raw.id):
                return False
            record = await uow.replays.get(result.account_id, result.replay_id, for_update=True)
            if record is not None and answered is not None and record.state == ANSWERING:
                await self._answered(uow, record, answered, raw.id)
            elif record is not None and routed is not None and record.state == ROUTING:
                assert record.answers is not None
                _finish(record, ReplayAnswered.model_validate(record.answers), routed, self._clock())
                await uow.replays.save(record)
            await uow.commit()
        return True

    async def _answered(
        self, uow: AdminUnitOfWork, record: ReplayRecord, answered: ReplayAnswered, event_id: str
    ) -> None:
        if not answered.questions:  # nothing for routing to judge
            nothing = ReplayRouted(account_id=record.account_id, replay_id=record.id)
            _finish(record, answered, nothing, self._clock())
        elif self._expired(record, self._clock()):  # no time left to ask routing
            _finish(record, answered, None, self._clock())
        else:
            record.state, record.answers = ROUTING, answered.model_dump(mode="json")
            request = _routing_request(record, answered)
            await uow.publish(
                AGENT_REPLAY,
                record.account_id,
                make_event(
                    REPLAY_ROUTING_REQUESTED,
                    request,
                    source=SOURCE,
                    account_id=record.account_id,
                    event_id=derived_event_id(event_id, REPLAY_ROUTING_REQUESTED),
                ),
            )
        await uow.replays.save(record)

    def _expired(self, record: ReplayRecord, now: datetime) -> bool:
        return record.running and now - record.requested_at > self._timeout

    def _end_late(self, record: ReplayRecord) -> None:
        now = self._clock()
        if record.state == ROUTING and record.answers is not None:
            _finish(record, ReplayAnswered.model_validate(record.answers), None, now)
            return
        record.state, record.finished_at = FAILED, now
        record.configs = None
        record.error = (
            f"The conversation service did not replay the questions within {self._timeout.total_seconds():g} "
            "seconds; check that it is running and start the replay again."
        )
        REPLAYS.labels(outcome="failed").inc()
