"""API keys and permissions: keys are random, shown once and stored only as a SHA-256 digest."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import StrEnum

KEY_PREFIX = "cak"


class Permission(StrEnum):
    """What an API key may do."""

    READ = "customer_agent:read"
    EDIT = "customer_agent:edit"


def new_key_id() -> str:
    """A public, non-secret id for a key (used as the audit actor)."""
    return "key_" + secrets.token_hex(8)


def new_secret_key(key_id: str) -> str:
    """A fresh API key: prefix, key id and 256 bits of randomness."""
    return f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def hash_key(key: str) -> str:
    """The digest stored at rest; a high-entropy key needs no slow hash."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def tokens_equal(given: str, expected: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def grants(permissions: set[str], needed: Permission) -> bool:
    """Whether a key's permissions allow ``needed``; edit implies read."""
    if needed is Permission.READ:
        return bool(permissions & {Permission.READ.value, Permission.EDIT.value})
    return needed.value in permissions


class Principal:
    """Who is calling: an account's API key with its permissions."""

    __slots__ = ("account_id", "key_id", "permissions")

    def __init__(self, account_id: str, key_id: str, permissions: frozenset[str]) -> None:
        self.account_id = account_id
        self.key_id = key_id
        self.permissions = permissions
