"""The upload store in PostgreSQL: blobs and their holds in a schema of their own (``uploads``).

Its tables are declared in schema ``uploads``; an engine that reaches them under another name translates
it (``build_kernel(schemas=...)``, from ``UPLOADS_DATABASE_SCHEMA``). The store works in the session it is
given, so a blob is written in the same transaction as the row and the outbox event that refer to it.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import BigInteger, Column, DateTime, LargeBinary, MetaData, String, Table, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from customer_agent_shared.uploads.store import UploadMissingError, checked_key, upload_key, verified

SCHEMA = "uploads"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
"""The store's own Alembic migrations (version table in its schema); its writer, admin-api, applies them."""

metadata = MetaData(schema=SCHEMA)

blobs_table = Table(
    "blobs",
    metadata,
    Column("account_id", String(100), primary_key=True),
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

holds_table = Table(
    "holds",
    metadata,
    Column("account_id", String(100), primary_key=True),
    Column("sha256", String(64), primary_key=True),
    Column("holder", String(200), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


class PostgresUploadStore:
    """An account's blobs in PostgreSQL, in the caller's transaction (it never commits)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def put(self, account_id: str, content: bytes, *, holder: str) -> str:
        """Store ``content`` for the account (once, however many hold it), record ``holder``'s hold; its key."""
        key = upload_key(content)
        blob = insert(blobs_table).values(account_id=account_id, sha256=key, size=len(content), content=content)
        # DO UPDATE, not DO NOTHING: it locks a blob that is already there, so a concurrent delete of its
        # last hold waits for this transaction and then sees the new hold (and if that delete went first,
        # the blob is inserted again).
        await self._session.execute(
            blob.on_conflict_do_update(index_elements=["account_id", "sha256"], set_={"size": blob.excluded.size})
        )
        hold = insert(holds_table).values(account_id=account_id, sha256=key, holder=holder)
        await self._session.execute(hold.on_conflict_do_nothing())
        return key

    async def get(self, account_id: str, key: str) -> bytes:
        """The account's blob of ``key``, checked against it; UploadMissingError if the account has none."""
        content = await self._session.scalar(
            select(blobs_table.c.content).where(
                blobs_table.c.account_id == account_id, blobs_table.c.sha256 == checked_key(key)
            )
        )
        if content is None:
            raise UploadMissingError(f"no upload {key[:12]}… is stored for account {account_id!r}")
        return verified(bytes(content), key)

    async def delete(self, account_id: str, key: str, *, holder: str) -> bool:
        """Drop ``holder``'s hold; the blob is deleted with its last hold. True if the blob was deleted."""
        of_blob = (blobs_table.c.account_id == account_id, blobs_table.c.sha256 == checked_key(key))
        # The blob is locked before its holds are counted, so a put racing with this delete either waits
        # for it (and stores the blob again) or is seen by the count.
        if await self._session.scalar(select(blobs_table.c.sha256).where(*of_blob).with_for_update()) is None:
            return False
        await self._session.execute(
            delete(holds_table).where(
                holds_table.c.account_id == account_id, holds_table.c.sha256 == key, holds_table.c.holder == holder
            )
        )
        held = await self._session.scalar(
            select(func.count())
            .select_from(holds_table)
            .where(holds_table.c.account_id == account_id, holds_table.c.sha256 == key)
        )
        if held:
            return False
        await self._session.execute(delete(blobs_table).where(*of_blob))
        return True
