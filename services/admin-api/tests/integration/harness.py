"""A running admin-api (real PostgreSQL, Kafka, Redis) with an HTTP client on its ASGI app."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from admin_api.bootstrap import AdminService
from admin_api.settings import AdminSettings
from customer_agent_shared.testing.kafka import ReceivedRecord, collect_records, end_offsets, unique_name
from customer_agent_shared.testing.plumbing import eventually
from customer_agent_shared.topics import TOPICS_BY_NAME
from fastapi import FastAPI
from sqlalchemy import select

BOOTSTRAP_TOKEN = "operator-" + unique_name("token")
OPERATOR = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}


@dataclass
class Account:
    """A test account with an edit key and a read-only key."""

    id: str
    edit_key: str
    read_key: str

    @property
    def edit(self) -> dict[str, str]:
        """Headers of the edit key."""
        return {"Authorization": f"Bearer {self.edit_key}"}

    @property
    def read(self) -> dict[str, str]:
        """Headers of the read-only key."""
        return {"Authorization": f"Bearer {self.read_key}"}

    def path(self, suffix: str) -> str:
        """The account's URL of an endpoint."""
        return f"/v1/accounts/{self.id}{suffix}"


@dataclass
class Harness:
    """The service under test, its ASGI app and a client on that app."""

    service: AdminService
    settings: AdminSettings
    client: httpx.AsyncClient
    app: FastAPI

    async def new_account(self) -> Account:
        """Create an account and two keys through the operator endpoints."""
        account_id = unique_name("acc")
        created = await self.client.post("/v1/accounts", json={"id": account_id, "name": "Test"}, headers=OPERATOR)
        assert created.status_code == 201, created.text
        keys = []
        for permissions in (["customer_agent:read", "customer_agent:edit"], ["customer_agent:read"]):
            response = await self.client.post(
                f"/v1/accounts/{account_id}/api-keys", json={"permissions": permissions}, headers=OPERATOR
            )
            assert response.status_code == 201, response.text
            keys.append(response.json()["key"])
        return Account(account_id, keys[0], keys[1])

    async def handled(self, *event_ids: str) -> bool:
        """Whether the service has handled every one of these events (claimed them in its inbox)."""
        inbox = self.service.kernel.inbox
        async with self.service.kernel.engine.connect() as connection:
            found = await connection.scalars(select(inbox.c.event_id).where(inbox.c.event_id.in_(event_ids)))
            return set(found) == set(event_ids)


def events_for(records: list[ReceivedRecord], account_id: str, event_type: str | None = None) -> list[dict[str, Any]]:
    """Decoded CloudEvents of one account (and type) among records of a shared topic."""
    found = []
    for record in records:
        try:
            event = json.loads(record.value)
        except ValueError:
            continue
        if event.get("accountid") == account_id and (event_type is None or event.get("type") == event_type):
            found.append(event)
    return found


async def audit_trail(harness: Harness, account: Account, **filters: str) -> list[tuple[str, str, str]]:
    """(target_type, action, target_id) of the account's audit entries, oldest first."""
    response = await harness.client.get(
        account.path("/audit-log"), params={"limit": 500, **filters}, headers=account.read
    )
    assert response.status_code == 200, response.text
    return [(e["target_type"], e["action"], e["target_id"]) for e in reversed(response.json()["items"])]


async def topic_ends(servers: str, topic: str) -> dict[int, int]:
    """End offsets of every partition of a registry topic (capture before producing)."""
    return await end_offsets(servers, topic, TOPICS_BY_NAME[topic].partitions(6 if "channel" in topic else 3))


async def read_from(
    servers: str,
    topic: str,
    offsets: dict[int, int],
    until: Callable[[list[ReceivedRecord]], bool],
    timeout_seconds: float = 20.0,
) -> list[ReceivedRecord]:
    """Read ``topic`` from ``offsets`` (every partition) until ``until(records)`` or timeout."""
    return await collect_records(servers, topic, until=until, timeout_seconds=timeout_seconds, from_offsets=offsets)


async def get_until(
    harness: Harness, account: Account, suffix: str, check: Callable[[Any], bool], seconds: float = 20.0
) -> Any:
    """GET the endpoint until ``check(body)`` holds; return that body."""
    last: dict[str, Any] = {}

    async def matching() -> bool:
        last["body"] = (await harness.client.get(account.path(suffix), headers=account.read)).json()
        return check(last["body"])

    try:
        await eventually(matching, f"GET {suffix} matching", within=seconds, every=0.2)
    except AssertionError as error:
        raise AssertionError(f"{error}; last body: {last.get('body')}") from None
    return last["body"]
