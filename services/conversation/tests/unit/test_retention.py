"""The question log's retention runs on its own schedule and deletes only what is past it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conversation_service.domain.model import AskedQuestion
from conversation_service.handlers.resolution import QuestionLogRetention
from customer_agent_shared.testing.plumbing import eventually

from .fakes import FakeDatabase, FakeUnitOfWork


def _question(message_id: str, asked_at: datetime) -> AskedQuestion:
    return AskedQuestion(
        account_id="acc-1",
        thread_id="t-1",
        message_id=message_id,
        text="How do I reset my password?",
        language="en",
        locale=None,
        channel_type="live_chat",
        channel_id="web",
        asked_at=asked_at,
    )


async def test_questions_past_the_retention_are_deleted_periodically_and_newer_ones_kept() -> None:
    database = FakeDatabase()
    now = datetime.now(UTC)
    for question in (_question("old", now - timedelta(days=31)), _question("new", now - timedelta(days=29))):
        database.tables.questions[(question.account_id, question.thread_id, question.message_id)] = question
    retention = QuestionLogRetention(lambda: FakeUnitOfWork(database), days=30, interval_seconds=0.01)

    await retention.periodic.start()
    try:
        await eventually(lambda: _only(database, "new"), "the old question deleted", within=5)
    finally:
        await retention.periodic.stop()


async def _only(database: FakeDatabase, message_id: str) -> bool:
    return [key[2] for key in database.tables.questions] == [message_id]
