"""The upload store on real PostgreSQL: content addressing, account isolation, the hash check, holds, and a
put racing with the delete of the last hold."""

from __future__ import annotations

import asyncio

import pytest
from customer_agent_shared.persistence.database import create_session_factory
from customer_agent_shared.persistence.migrations import upgrade_to_head
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.migrations import assert_migrations_apply_and_roll_back
from customer_agent_shared.testing.plumbing import eventually
from customer_agent_shared.uploads.postgres import MIGRATIONS_DIR, SCHEMA, PostgresUploadStore, blobs_table
from customer_agent_shared.uploads.store import UploadCorruptError, UploadMissingError, upload_key
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

pytestmark = pytest.mark.integration

HANDBOOK = b"%PDF-1.7 the handbook " * 50_000  # about 1 MiB


@pytest.fixture
async def sessions(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> async_sessionmaker[AsyncSession]:
    """Sessions on a migrated scratch upload store, reached as schema ``uploads`` (as the services reach it)."""
    engine, schema = scratch_schema
    await asyncio.to_thread(upgrade_to_head, MIGRATIONS_DIR, infrastructure.database_url, schema)
    return create_session_factory(engine.execution_options(schema_translate_map={SCHEMA: schema}))


async def _put(sessions: async_sessionmaker[AsyncSession], account: str, content: bytes, holder: str) -> str:
    async with sessions() as session:
        key = await PostgresUploadStore(session).put(account, content, holder=holder)
        await session.commit()
    return key


async def _get(sessions: async_sessionmaker[AsyncSession], account: str, key: str) -> bytes:
    async with sessions() as session:
        return await PostgresUploadStore(session).get(account, key)


async def _delete(sessions: async_sessionmaker[AsyncSession], account: str, key: str, holder: str) -> bool:
    async with sessions() as session:
        deleted = await PostgresUploadStore(session).delete(account, key, holder=holder)
        await session.commit()
    return deleted


async def _blobs(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(blobs_table)) or 0)


async def test_content_is_stored_once_per_account_under_its_sha256_and_read_back(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    key = await _put(sessions, "acme", HANDBOOK, holder="src_1")
    assert key == upload_key(HANDBOOK)
    assert await _put(sessions, "acme", HANDBOOK, holder="src_2") == key
    assert await _get(sessions, "acme", key) == HANDBOOK
    assert await _blobs(sessions) == 1
    # The same bytes uploaded by another account are that account's own blob.
    assert await _put(sessions, "globex", HANDBOOK, holder="src_9") == key
    assert await _blobs(sessions) == 2


async def test_an_account_never_reads_another_accounts_blob(sessions: async_sessionmaker[AsyncSession]) -> None:
    key = await _put(sessions, "acme", HANDBOOK, holder="src_1")
    with pytest.raises(UploadMissingError):
        await _get(sessions, "globex", key)
    with pytest.raises(UploadMissingError):
        await _get(sessions, "acme", upload_key(b"never uploaded"))
    with pytest.raises(ValueError, match="not an upload key"):
        await _get(sessions, "acme", "../" + key)


async def test_bytes_that_no_longer_match_their_key_are_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    key = await _put(sessions, "acme", HANDBOOK, holder="src_1")
    async with sessions() as session:
        tampered = HANDBOOK.replace(b"handbook", b"HANDBOOK", 1)
        await session.execute(update(blobs_table).where(blobs_table.c.sha256 == key).values(content=tampered))
        await session.commit()
    with pytest.raises(UploadCorruptError):
        await _get(sessions, "acme", key)


async def test_a_blob_lives_until_its_last_hold_is_deleted(sessions: async_sessionmaker[AsyncSession]) -> None:
    key = await _put(sessions, "acme", HANDBOOK, holder="src_1")
    await _put(sessions, "acme", HANDBOOK, holder="src_2")
    await _put(sessions, "globex", HANDBOOK, holder="src_1")

    assert await _delete(sessions, "acme", key, "src_1") is False
    assert await _get(sessions, "acme", key) == HANDBOOK
    assert await _delete(sessions, "acme", key, "src_2") is True
    with pytest.raises(UploadMissingError):
        await _get(sessions, "acme", key)
    assert await _delete(sessions, "acme", key, "src_2") is False  # a repeated delete finds nothing
    assert await _get(sessions, "globex", key) == HANDBOOK


async def _waiting_for_a_lock(sessions: async_sessionmaker[AsyncSession]) -> bool:
    async with sessions() as session:
        waiting = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE '%blobs%'"
            )
        )
    return bool(waiting)


@pytest.mark.parametrize("first", ["put", "delete"])
async def test_a_put_racing_with_the_delete_of_the_last_hold_keeps_the_blob(
    sessions: async_sessionmaker[AsyncSession], first: str
) -> None:
    key = await _put(sessions, "acme", HANDBOOK, holder="src_old")
    async with sessions() as putting, sessions() as deleting:
        first_session, second_session = (putting, deleting) if first == "put" else (deleting, putting)

        async def step(session: AsyncSession) -> None:
            if session is putting:
                await PostgresUploadStore(session).put("acme", HANDBOOK, holder="src_new")
            else:
                await PostgresUploadStore(session).delete("acme", key, holder="src_old")

        await step(first_session)  # holds the blob's row lock, uncommitted
        second = asyncio.create_task(step(second_session))
        await eventually(lambda: _waiting_for_a_lock(sessions), "the second transaction waits for the first")
        await first_session.commit()
        await second
        await second_session.commit()
    # Either way the new source's blob is there, and only its hold is left.
    assert await _get(sessions, "acme", key) == HANDBOOK
    assert await _delete(sessions, "acme", key, "src_new") is True


async def test_the_store_migrations_apply_and_roll_back(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    await assert_migrations_apply_and_roll_back(
        engine, infrastructure.database_url, MIGRATIONS_DIR, schema, {"blobs", "holds"}
    )
