"""Content sources: commands to ingestion through the outbox, uploads, progress folding, idempotency."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest
from customer_agent_shared.events.envelope import make_event, serialize_event
from customer_agent_shared.events.sources import SOURCE_STATUS, SourceState, SourceStatus
from customer_agent_shared.testing.kafka import produce_raw
from customer_agent_shared.testing.plumbing import eventually
from customer_agent_shared.topics import SOURCES_COMMANDS, SOURCES_STATUS
from customer_agent_shared.uploads.store import UploadMissingError

from .harness import Account, Harness, audit_trail, events_for, get_until, read_from, topic_ends

pytestmark = pytest.mark.integration


async def test_url_and_short_answer_sources_send_commands_and_fold_progress(harness: Harness) -> None:
    client, account = harness.client, await harness.new_account()
    offsets = await topic_ends(harness.settings.kafka_bootstrap_servers, SOURCES_COMMANDS)
    source = await add_private_url_once(harness, account)
    for bad in ({"kind": "url", "url": "ftp://x"}, {"kind": "pdf"}, {"kind": "short_answer", "question": "q"}):
        refused = await client.post(account.path("/sources"), json=bad, headers=account.edit)
        assert refused.status_code == 422, bad
    answer_id = await add_and_edit_short_answer(harness, account)
    await edit_and_resync_url(harness, account, source["id"])
    await fold_progress_reports(harness, account, source["id"])

    assert (await client.delete(account.path(f"/sources/{answer_id}"), headers=account.edit)).status_code == 204
    assert (await client.get(account.path(f"/sources/{answer_id}"), headers=account.read)).status_code == 404
    listed = (await client.get(account.path("/sources"), headers=account.read)).json()["items"]
    assert [item["id"] for item in listed] == [source["id"]]
    await check_commands_and_audit(harness, account, offsets, url_id=source["id"], answer_id=answer_id)


async def add_private_url_once(harness: Harness, account: Account) -> dict[str, Any]:
    """Add a private URL source under an idempotency key: a repeat replays it, another body is refused."""
    client = harness.client
    url_body = {"kind": "url", "url": "https://help.example.com/", "import_related": True, "private": True}
    created = await client.post(
        account.path("/sources"), json=url_body, headers={**account.edit, "Idempotency-Key": "k1"}
    )
    assert created.status_code == 201, created.text
    source: dict[str, Any] = created.json()
    assert (source["kind"], source["state"], source["import_related"]) == ("url", "pending", True)
    assert source["citations_enabled"] is False  # private content is never cited
    assert (source["chunks"], source["embedded_chunks"]) == (0, 0)
    replay = await client.post(
        account.path("/sources"), json=url_body, headers={**account.edit, "Idempotency-Key": "k1"}
    )
    assert replay.status_code == 201
    assert replay.json()["id"] == source["id"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    reused = await client.post(
        account.path("/sources"),
        json={**url_body, "url": "https://other.example.com/"},
        headers={**account.edit, "Idempotency-Key": "k1"},
    )
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    return source


async def add_and_edit_short_answer(harness: Harness, account: Account) -> str:
    """Add a short answer and change its answer; its id."""
    answer = await harness.client.post(
        account.path("/sources"),
        json={"kind": "short_answer", "question": "Ship to Norway?", "answer": "Yes."},
        headers=account.edit,
    )
    assert answer.status_code == 201
    answer_id: str = answer.json()["id"]
    edited = await harness.client.patch(
        account.path(f"/sources/{answer_id}"), json={"answer": "Yes, in 3 days."}, headers=account.edit
    )
    assert edited.json()["answer"] == "Yes, in 3 days."
    return answer_id


async def edit_and_resync_url(harness: Harness, account: Account, source_id: str) -> None:
    """A URL source has no question, stays uncited while private, and can be synced again."""
    client = harness.client
    not_short = await client.patch(account.path(f"/sources/{source_id}"), json={"question": "x"}, headers=account.edit)
    assert not_short.status_code == 422
    still_private = await client.patch(
        account.path(f"/sources/{source_id}"), json={"citations_enabled": True}, headers=account.edit
    )
    assert still_private.json()["citations_enabled"] is False
    public = await client.patch(account.path(f"/sources/{source_id}"), json={"private": False}, headers=account.edit)
    assert (public.json()["private"], public.json()["citations_enabled"]) == (False, False)
    resync = await client.post(account.path(f"/sources/{source_id}/resync"), headers=account.edit)
    assert resync.status_code == 202


async def fold_progress_reports(harness: Harness, account: Account, source_id: str) -> None:
    """ingestion reports progress; an older report arriving late is ignored (sequences far above any a
    running ingestion service may report for this source meanwhile)."""
    reports = [
        make_event(
            SOURCE_STATUS,
            SourceStatus(
                account_id=account.id,
                source_id=source_id,
                state=SourceState.SYNCING,
                sequence=sequence,
                discovered=120,
                fetched=fetched,
                documents=55,
                chunks=410,
                embedded_chunks=160,
            ),
            source="ingestion-test",
            account_id=account.id,
        )
        for sequence, fetched in ((1_000_003, 60), (1_000_002, 10))
    ]
    for report in reports:
        await produce_raw(
            harness.settings.kafka_bootstrap_servers,
            SOURCES_STATUS,
            serialize_event(report),
            key=f"{account.id}:{source_id}".encode(),
        )
    progress = await get_until(harness, account, f"/sources/{source_id}", lambda body: body["fetched"] == 60)
    assert (progress["state"], progress["documents"], progress["chunks"], progress["progress"]) == (
        "syncing",
        55,
        410,
        0.5,
    )
    assert progress["embedded_chunks"] == 160  # vectors follow the words
    await eventually(lambda: harness.handled(reports[-1].id), "the older report handled")
    latest = await harness.client.get(account.path(f"/sources/{source_id}"), headers=account.read)
    assert latest.json()["fetched"] == 60


async def check_commands_and_audit(
    harness: Harness, account: Account, offsets: dict[int, int], *, url_id: str, answer_id: str
) -> None:
    """Each source's commands went to ingestion in order, keyed by source, and each change was audited."""
    servers = harness.settings.kafka_bootstrap_servers
    records = await read_from(servers, SOURCES_COMMANDS, offsets, lambda found: len(events_for(found, account.id)) >= 6)
    by_source: dict[str, list[str]] = {}
    for command in events_for(records, account.id):  # order holds per key (per source), not across keys
        by_source.setdefault(command["data"]["source_id"], []).append(command["type"])
    assert by_source == {
        url_id: ["source.sync", "source.update", "source.sync"],
        answer_id: ["source.sync", "source.update", "source.delete"],
    }
    keys = {r.key for r in records if events_for([r], account.id)}
    assert keys == {f"{account.id}:{url_id}".encode(), f"{account.id}:{answer_id}".encode()}
    assert await audit_trail(harness, account, target_type="source") == [
        ("source", "create", url_id),
        ("source", "create", answer_id),
        ("source", "edit", answer_id),
        ("source", "edit", url_id),
        ("source", "publish", url_id),
        ("source", "delete", answer_id),
    ]


async def test_a_patch_that_changes_nothing_changes_nothing(harness: Harness) -> None:
    client, account = harness.client, await harness.new_account()
    offsets = await topic_ends(harness.settings.kafka_bootstrap_servers, SOURCES_COMMANDS)
    body = {"kind": "short_answer", "question": "Ship to Norway?", "answer": "Yes."}
    created = (await client.post(account.path("/sources"), json=body, headers=account.edit)).json()
    path = account.path(f"/sources/{created['id']}")
    editable = ("id", "question", "answer", "citations_enabled", "private")  # progress may move meanwhile
    for same in ({}, {"answer": " Yes. "}, {"citations_enabled": True, "private": False}):
        unchanged = await client.patch(path, json=same, headers=account.edit)
        assert unchanged.status_code == 200, unchanged.text
        assert [unchanged.json()[field] for field in editable] == [created[field] for field in editable], same
    changed = await client.patch(path, json={"answer": "Yes, in 3 days."}, headers=account.edit)
    assert changed.json()["answer"] == "Yes, in 3 days."

    # commands of one source keep their order: once the real change's arrived, a no-op's would have too
    servers = harness.settings.kafka_bootstrap_servers
    records = await read_from(
        servers, SOURCES_COMMANDS, offsets, lambda found: len(events_for(found, account.id, "source.update")) >= 1
    )
    updates = events_for(records, account.id, "source.update")
    assert [update["data"]["answer"] for update in updates] == ["Yes, in 3 days."]
    assert await audit_trail(harness, account, target_type="source") == [
        ("source", "create", created["id"]),
        ("source", "edit", created["id"]),
    ]


async def test_concurrent_requests_with_one_idempotency_key_create_one_source(harness: Harness) -> None:
    client, account = harness.client, await harness.new_account()
    body = {"kind": "short_answer", "question": "Do you ship to Iceland?", "answer": "Yes, weekly."}
    headers = {**account.edit, "Idempotency-Key": "twin"}

    responses = await asyncio.gather(
        *(client.post(account.path("/sources"), json=body, headers=headers) for _ in range(4))
    )

    assert [r.status_code for r in responses] == [201] * 4, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 3
    listed = (await client.get(account.path("/sources"), headers=account.edit)).json()["items"]
    assert [item["id"] for item in listed] == [responses[0].json()["id"]]


async def test_a_failed_request_does_not_consume_its_idempotency_key(harness: Harness) -> None:
    client, account = harness.client, await harness.new_account()
    headers = {**account.edit, "Idempotency-Key": "gap-1"}
    missing = await client.post(
        account.path("/knowledge-gaps/no-such-gap/resolve"), json={"answer": "Yes."}, headers=headers
    )
    assert missing.status_code == 404
    again = await client.post(
        account.path("/knowledge-gaps/no-such-gap/resolve"), json={"answer": "Yes."}, headers=headers
    )
    assert again.status_code == 404
    assert "Idempotent-Replayed" not in again.headers


async def test_file_uploads_accept_exactly_the_allowed_types(harness: Harness) -> None:
    client, account = harness.client, await harness.new_account()
    servers = harness.settings.kafka_bootstrap_servers
    offsets = await topic_ends(servers, SOURCES_COMMANDS)
    content = b"# Returns\nYou can return items within 30 days.\n"
    uploaded = await client.post(
        account.path("/sources/files"), files={"file": ("returns.md", content, "text/markdown")}, headers=account.edit
    )
    assert uploaded.status_code == 201, uploaded.text
    assert (uploaded.json()["kind"], uploaded.json()["filename"], uploaded.json()["size"]) == (
        "file",
        "returns.md",
        len(content),
    )

    refused = await client.post(
        account.path("/sources/files"),
        files={"file": ("tool.exe", b"MZ", "application/octet-stream")},
        headers=account.edit,
    )
    assert refused.status_code == 415
    assert (
        "docx, htm, xhtml, cfg, pptx, conf, csv, json, html, text, txt, pdf, rst, xml, md"
        in refused.json()["error"]["message"]
    )
    too_big = await client.post(
        account.path("/sources/files"),
        files={"file": ("big.txt", b"x" * (harness.settings.max_upload_bytes + 1), "text/plain")},
        headers=account.edit,
    )
    assert too_big.status_code == 413
    missing = await client.post(account.path("/sources/files"), data={"private": "true"}, headers=account.edit)
    assert missing.status_code == 422

    records = await read_from(servers, SOURCES_COMMANDS, offsets, lambda found: bool(events_for(found, account.id)))
    command = events_for(records, account.id, "source.sync")[0]["data"]
    # The command names the file in the upload store; the bytes stay out of the event.
    assert command["upload"] == {
        "sha256": hashlib.sha256(content).hexdigest(),
        "filename": "returns.md",
        "content_type": "text/markdown",
        "size": len(content),
    }
    assert command["file"] is None
    assert await stored(harness, account.id, command["upload"]["sha256"]) == content
    assert len(events_for(records, account.id)) == 1
    assert await audit_trail(harness, account, target_type="source") == [("source", "create", uploaded.json()["id"])]


async def stored(harness: Harness, account_id: str, key: str) -> bytes | None:
    """The account's file of ``key`` in the upload store, or None."""
    async with harness.service.unit_of_work() as uow:
        try:
            return await uow.uploads.get(account_id, key)
        except UploadMissingError:
            return None


async def test_an_uploaded_file_is_kept_while_a_source_holds_it_and_resynced_from_the_store(
    harness: Harness,
) -> None:
    client, account = harness.client, await harness.new_account()
    servers = harness.settings.kafka_bootstrap_servers
    offsets = await topic_ends(servers, SOURCES_COMMANDS)
    content = b"Warranty\n\nEvery coffee machine carries a two year warranty.\n"
    key = hashlib.sha256(content).hexdigest()
    sources = []
    for name in ("warranty.txt", "copy-of-warranty.txt"):
        uploaded = await client.post(
            account.path("/sources/files"), files={"file": (name, content, "text/plain")}, headers=account.edit
        )
        assert uploaded.status_code == 201, uploaded.text
        sources.append(uploaded.json()["id"])
    first, second = sources

    resync = await client.post(account.path(f"/sources/{first}/resync"), headers=account.edit)
    assert resync.status_code == 202
    assert (await client.delete(account.path(f"/sources/{first}"), headers=account.edit)).status_code == 204
    assert await stored(harness, account.id, key) == content  # the other source still holds it
    assert (await client.delete(account.path(f"/sources/{second}"), headers=account.edit)).status_code == 204
    assert await stored(harness, account.id, key) is None  # deleted with its last source

    records = await read_from(servers, SOURCES_COMMANDS, offsets, lambda found: len(events_for(found, account.id)) >= 5)
    commands = [(event["type"], event["data"]) for event in events_for(records, account.id)]
    assert [(kind, data["source_id"]) for kind, data in commands if data["source_id"] == first] == [
        ("source.sync", first),
        ("source.sync", first),
        ("source.delete", first),
    ]
    resynced = [data for kind, data in commands if data["source_id"] == first][1]
    assert (resynced["full"], resynced["upload"]["sha256"], resynced["upload"]["filename"]) == (
        True,
        key,
        "warranty.txt",
    )
    assert all(data["file"] is None for _, data in commands)
