"""Accounts and API keys (operator side) and authentication of API keys."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from admin_api.adapters.repositories import StoredKey
from admin_api.adapters.unit_of_work import AdminUnitOfWork
from admin_api.domain.access import Principal, hash_key, new_key_id, new_secret_key
from admin_api.domain.configuration import new_account_config
from admin_api.domain.errors import Conflict, NotFound
from admin_api.handlers.audit import publish_snapshot, record_change
from admin_api.handlers.credits import open_billing_account

OPERATOR = "bootstrap"


class AccountUseCases:
    """Create accounts, issue and revoke keys, and resolve a key to its principal."""

    def __init__(self, unit_of_work: Callable[[], AdminUnitOfWork]) -> None:
        self._unit_of_work = unit_of_work

    async def create_account(self, account_id: str, name: str) -> datetime:
        """Create an account with the default configuration, publish its first snapshot, have billing open it."""
        config = new_account_config(account_id, datetime.now(UTC))
        async with self._unit_of_work() as uow:
            if not await uow.accounts.add(account_id, name=name, config=config):
                raise Conflict(f"Account {account_id!r} already exists.", code="account_exists")
            await publish_snapshot(uow, config)
            await open_billing_account(uow, account_id, created_at=config.updated_at)
            await record_change(
                uow,
                account_id=account_id,
                actor=OPERATOR,
                action="create",
                target_type="account",
                target_id=account_id,
                before=None,
                after={"id": account_id, "name": name},
            )
            await uow.commit()
        return config.updated_at

    async def create_key(self, account_id: str, permissions: list[str]) -> tuple[StoredKey, str]:
        """Issue a key; the secret is returned once and only its digest is stored."""
        key_id = new_key_id()
        secret = new_secret_key(key_id)
        async with self._unit_of_work() as uow:
            if await uow.accounts.get(account_id) is None:
                raise NotFound(f"Account {account_id!r} does not exist; create it with POST /v1/accounts.")
            stored = await uow.keys.add(
                key_id, account_id=account_id, key_hash=hash_key(secret), permissions=sorted(set(permissions))
            )
            await record_change(
                uow,
                account_id=account_id,
                actor=OPERATOR,
                action="create",
                target_type="api_key",
                target_id=key_id,
                before=None,
                after={"id": key_id, "permissions": stored.permissions},
            )
            await uow.commit()
        return stored, secret

    async def list_keys(self, account_id: str) -> list[StoredKey]:
        """The account's keys (never their secrets)."""
        async with self._unit_of_work() as uow:
            if await uow.accounts.get(account_id) is None:
                raise NotFound(f"Account {account_id!r} does not exist.")
            return await uow.keys.list(account_id)

    async def revoke_key(self, account_id: str, key_id: str) -> None:
        """Revoke a key at once."""
        async with self._unit_of_work() as uow:
            revoked = await uow.keys.revoke(account_id, key_id)
            if revoked is None:
                raise NotFound(f"Account {account_id!r} has no active API key {key_id!r}.")
            await record_change(
                uow,
                account_id=account_id,
                actor=OPERATOR,
                action="delete",
                target_type="api_key",
                target_id=key_id,
                before={"id": key_id, "permissions": revoked.permissions},
                after=None,
            )
            await uow.commit()

    async def authenticate(self, key: str) -> Principal | None:
        """The principal of an active key, or None."""
        async with self._unit_of_work() as uow:
            stored = await uow.keys.active_by_hash(hash_key(key))
        if stored is None:
            return None
        return Principal(stored.account_id, stored.id, frozenset(stored.permissions))
