"""Repositories over admin-api's tables; they use the unit of work's session and never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from customer_agent_shared.events.billing import CreditState
from customer_agent_shared.events.config import AgentConfigSnapshot
from customer_agent_shared.persistence.advisory_locks import wait_for_locks
from customer_agent_shared.persistence.retention import delete_before
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from admin_api.adapters.orm import (
    accounts_table,
    api_keys_table,
    credit_states_table,
    idempotency_table,
    sources_table,
)

Row = dict[str, Any]


@dataclass(frozen=True)
class StoredKey:
    """An API key as stored (never the key itself)."""

    id: str
    account_id: str
    permissions: list[str]
    created_at: datetime
    revoked_at: datetime | None


class AccountRepository:
    """Accounts and their agent configuration."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, account_id: str, *, name: str, config: AgentConfigSnapshot) -> bool:
        """Insert an account; False if the id is taken."""
        result = await self._session.execute(
            insert(accounts_table)
            .values(id=account_id, name=name, config_version=config.version, config=config.model_dump(mode="json"))
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(accounts_table.c.id)
        )
        return result.first() is not None

    async def get(self, account_id: str) -> Row | None:
        """The account row (id, name, created_at, config_version, config)."""
        row = (await self._session.execute(select(accounts_table).where(accounts_table.c.id == account_id))).first()
        return dict(row._mapping) if row else None

    async def config(self, account_id: str, *, for_update: bool = False) -> AgentConfigSnapshot | None:
        """The account's configuration, optionally locked until commit."""
        query = select(accounts_table.c.config).where(accounts_table.c.id == account_id)
        if for_update:
            query = query.with_for_update()
        value = await self._session.scalar(query)
        return AgentConfigSnapshot.model_validate(value) if value is not None else None

    async def save_config(self, config: AgentConfigSnapshot) -> None:
        """Store a new configuration version."""
        await self._session.execute(
            update(accounts_table)
            .where(accounts_table.c.id == config.account_id)
            .values(config_version=config.version, config=config.model_dump(mode="json"))
        )


class ApiKeyRepository:
    """Hashed API keys."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, key_id: str, *, account_id: str, key_hash: str, permissions: list[str]) -> StoredKey:
        """Store a key's digest and permissions."""
        row = (
            await self._session.execute(
                insert(api_keys_table)
                .values(id=key_id, account_id=account_id, key_hash=key_hash, permissions=permissions)
                .returning(api_keys_table)
            )
        ).one()
        return _key(row._mapping)

    async def active_by_hash(self, key_hash: str) -> StoredKey | None:
        """The unrevoked key with this digest."""
        row = (
            await self._session.execute(
                select(api_keys_table).where(
                    api_keys_table.c.key_hash == key_hash, api_keys_table.c.revoked_at.is_(None)
                )
            )
        ).first()
        return _key(row._mapping) if row else None

    async def list(self, account_id: str) -> list[StoredKey]:
        """Every key of the account, oldest first."""
        rows = await self._session.execute(
            select(api_keys_table)
            .where(api_keys_table.c.account_id == account_id)
            .order_by(api_keys_table.c.created_at)
        )
        return [_key(row._mapping) for row in rows]

    async def revoke(self, account_id: str, key_id: str) -> StoredKey | None:
        """Revoke an active key; None if there is no such active key."""
        row = (
            await self._session.execute(
                update(api_keys_table)
                .where(
                    api_keys_table.c.account_id == account_id,
                    api_keys_table.c.id == key_id,
                    api_keys_table.c.revoked_at.is_(None),
                )
                .values(revoked_at=func.now())
                .returning(api_keys_table)
            )
        ).first()
        return _key(row._mapping) if row else None


def _key(mapping: Any) -> StoredKey:
    return StoredKey(
        id=mapping["id"],
        account_id=mapping["account_id"],
        permissions=list(mapping["permissions"]),
        created_at=mapping["created_at"],
        revoked_at=mapping["revoked_at"],
    )


class SourceRepository:
    """Content sources with their folded ingestion progress."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_kind(self, account_id: str, kind: str) -> None:
        """Hold, until the transaction ends, the right to add a source of ``kind`` to the account (so two
        requests cannot both find none and both add one)."""
        await wait_for_locks(self._session, [f"source:{kind}:{account_id}"])

    async def add(self, values: Row) -> None:
        """Insert a source."""
        await self._session.execute(insert(sources_table).values(**values))

    async def get(self, account_id: str, source_id: str, *, for_update: bool = False) -> Row | None:
        """A source that is not deleted."""
        query = select(sources_table).where(
            sources_table.c.account_id == account_id,
            sources_table.c.id == source_id,
            sources_table.c.deleted_at.is_(None),
        )
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).first()
        return dict(row._mapping) if row else None

    async def get_any(self, account_id: str, source_id: str) -> Row | None:
        """A source, deleted or not, locked for a status update."""
        row = (
            await self._session.execute(
                select(sources_table)
                .where(sources_table.c.account_id == account_id, sources_table.c.id == source_id)
                .with_for_update()
            )
        ).first()
        return dict(row._mapping) if row else None

    async def list(self, account_id: str) -> list[Row]:
        """The account's sources, newest first."""
        rows = await self._session.execute(
            select(sources_table)
            .where(sources_table.c.account_id == account_id, sources_table.c.deleted_at.is_(None))
            .order_by(sources_table.c.created_at.desc(), sources_table.c.id)
        )
        return [dict(row._mapping) for row in rows]

    async def update(self, account_id: str, source_id: str, values: Row) -> None:
        """Change some columns of a source."""
        await self._session.execute(
            update(sources_table)
            .where(sources_table.c.account_id == account_id, sources_table.c.id == source_id)
            .values(**values, updated_at=func.now())
        )


class CreditStateRepository:
    """The latest credit state billing published per account."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, account_id: str) -> CreditState | None:
        """The folded state, if billing published one."""
        value = await self._session.scalar(
            select(credit_states_table.c.state).where(credit_states_table.c.account_id == account_id)
        )
        return CreditState.model_validate(value) if value is not None else None

    async def save_if_newer(self, state: CreditState) -> bool:
        """Keep ``state`` unless a newer or equal version is stored; True if stored."""
        statement = insert(credit_states_table).values(
            account_id=state.account_id, version=state.version, state=state.model_dump(mode="json")
        )
        upsert = statement.on_conflict_do_update(
            index_elements=["account_id"],
            set_={"version": statement.excluded.version, "state": statement.excluded.state, "updated_at": func.now()},
            where=credit_states_table.c.version < statement.excluded.version,
        ).returning(credit_states_table.c.account_id)
        return (await self._session.execute(upsert)).first() is not None


@dataclass(frozen=True)
class StoredResponse:
    """The response first given to a request with an Idempotency-Key."""

    fingerprint: str
    status_code: int
    body: Any


class IdempotencyRepository:
    """Responses to creating requests, by Idempotency-Key."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock(self, account_id: str, scope: str, key: str) -> None:
        """Hold this key until the transaction ends, so identical concurrent requests run one at a time."""
        await wait_for_locks(self._session, [f"idempotency:{account_id}:{scope}:{key}"])

    async def get(self, account_id: str, scope: str, key: str) -> StoredResponse | None:
        """The stored response for this key and operation."""
        row = (
            await self._session.execute(
                select(idempotency_table).where(
                    idempotency_table.c.account_id == account_id,
                    idempotency_table.c.scope == scope,
                    idempotency_table.c.key == key,
                )
            )
        ).first()
        if row is None:
            return None
        return StoredResponse(row.fingerprint, row.status_code, row.body)

    async def put(self, account_id: str, scope: str, key: str, response: StoredResponse) -> None:
        """Remember a response (the first one wins)."""
        await self._session.execute(
            insert(idempotency_table)
            .values(
                account_id=account_id,
                scope=scope,
                key=key,
                fingerprint=response.fingerprint,
                status_code=response.status_code,
                body=response.body,
            )
            .on_conflict_do_nothing()
        )

    async def forget_before(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` responses stored before ``before``; return how many."""
        table = idempotency_table
        return await delete_before(self._session, table, time_column=table.c.created_at, before=before, limit=limit)
