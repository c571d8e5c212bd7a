"""What ingestion reports about removed sources: refusals are audited, and a removed source is never listed (nor
its uploaded file kept for it)."""

from __future__ import annotations

import hashlib

import pytest
from customer_agent_shared.events.envelope import make_event, serialize_event
from customer_agent_shared.events.sources import SOURCE_STATUS, SourceState, SourceStatus
from customer_agent_shared.testing.kafka import produce_raw
from customer_agent_shared.topics import SOURCES_STATUS

from .harness import Harness, get_until
from .test_sources import stored

pytestmark = pytest.mark.integration

REFUSAL = "article 'a2' (article.published) was refused: the knowledge base was removed"


async def test_a_refusal_reported_on_a_removed_source_is_audited_and_the_source_stays_removed(
    harness: Harness,
) -> None:
    client, account = harness.client, await harness.new_account()
    created = await client.post(account.path("/sources"), json={"kind": "knowledge_base"}, headers=account.edit)
    assert created.status_code == 201, created.text
    source_id = created.json()["id"]
    second = await client.post(account.path("/sources"), json={"kind": "knowledge_base"}, headers=account.edit)
    assert second.status_code == 409  # one knowledge base per account
    assert (await client.delete(account.path(f"/sources/{source_id}"), headers=account.edit)).status_code == 204

    # What ingestion reports when an article arrives for the removed knowledge base.
    status = SourceStatus(
        account_id=account.id, source_id=source_id, state=SourceState.DELETED, sequence=1_000_001, error=REFUSAL
    )
    event = make_event(SOURCE_STATUS, status, source="ingestion", account_id=account.id)
    key = f"{account.id}:{source_id}".encode()
    await produce_raw(harness.settings.kafka_bootstrap_servers, SOURCES_STATUS, serialize_event(event), key=key)

    log = await get_until(
        harness,
        account,
        "/audit-log?target_type=source",
        lambda body: any(item["action"] == "refuse" for item in body["items"]),
    )
    [refusal] = [item for item in log["items"] if item["action"] == "refuse"]
    assert (refusal["target_id"], refusal["actor"]) == (source_id, "ingestion")
    assert REFUSAL in str(refusal["after"])
    assert (await client.get(account.path(f"/sources/{source_id}"), headers=account.read)).status_code == 404


async def _report_deleted(harness: Harness, account_id: str, source_id: str, *, key_source_id: str) -> None:
    status = SourceStatus(account_id=account_id, source_id=source_id, state=SourceState.DELETED, sequence=1_000_002)
    event = make_event(SOURCE_STATUS, status, source="ingestion", account_id=account_id)
    key = f"{account_id}:{key_source_id}".encode()  # one partition for both reports: read in order
    await produce_raw(harness.settings.kafka_bootstrap_servers, SOURCES_STATUS, serialize_event(event), key=key)


async def test_a_source_ingestion_removed_on_its_own_is_no_longer_listed(harness: Harness) -> None:
    """A source.delete that did not come from this API, or a status for a source admin-api never listed:
    the account must not see a source in a state outside pending|syncing|ready|failed."""
    client, account = harness.client, await harness.new_account()
    created = await client.post(account.path("/sources"), json={"kind": "knowledge_base"}, headers=account.edit)
    assert created.status_code == 201, created.text
    listed_id = created.json()["id"]
    await _report_deleted(harness, account.id, "src_never_listed", key_source_id=listed_id)
    await _report_deleted(harness, account.id, listed_id, key_source_id=listed_id)

    listing = await get_until(harness, account, "/sources", lambda body: not body["items"])
    assert listing["items"] == []
    assert (await client.get(account.path(f"/sources/{listed_id}"), headers=account.read)).status_code == 404


async def test_a_file_source_ingestion_removed_on_its_own_releases_its_upload(harness: Harness) -> None:
    client, account = harness.client, await harness.new_account()
    content = b"Returns\n\nAnything unused goes back within 30 days.\n"
    uploaded = await client.post(
        account.path("/sources/files"), files={"file": ("returns.txt", content, "text/plain")}, headers=account.edit
    )
    assert uploaded.status_code == 201, uploaded.text
    source_id = uploaded.json()["id"]
    key = hashlib.sha256(content).hexdigest()
    assert await stored(harness, account.id, key) == content
    await _report_deleted(harness, account.id, source_id, key_source_id=source_id)

    await get_until(harness, account, "/sources", lambda body: not body["items"])
    assert await stored(harness, account.id, key) is None  # its only holder is gone
