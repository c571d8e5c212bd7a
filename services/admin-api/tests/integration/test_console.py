"""The console at /console/: its pages call the REST API with the browser's key and show its refusals."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime

from admin_api.handlers.demo import DEMO_ACCOUNT_ID, DEMO_QUESTION, ensure_demo_account
from customer_agent_shared.events.channels import ChannelRef, ChannelType
from customer_agent_shared.events.conversations import ConversationEvent
from customer_agent_shared.events.envelope import make_event, serialize_event
from customer_agent_shared.events.sources import SOURCE_STATUS, PageFailure, SourceState, SourceStatus
from customer_agent_shared.testing.kafka import produce_raw
from customer_agent_shared.topics import CONVERSATIONS_EVENTS, SOURCES_STATUS

from .harness import OPERATOR, Account, Harness, get_until

FRAGMENTS = ("content", "agent", "channels", "people", "preview", "performance", "gaps", "credits", "audit")


async def test_the_shell_holds_no_data_and_forbids_inline_script(harness: Harness) -> None:
    response = await harness.client.get("/console/")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert 'id="sign-in"' in response.text
    assert "<script>" not in response.text  # every script is a file of ours, none inline
    for asset in ("/console/static/console.js", "/console/static/console.css", "/console/static/vendor/htmx.min.js"):
        served = await harness.client.get(asset)
        assert served.status_code == 200, asset
        assert served.headers["x-content-type-options"] == "nosniff", asset


async def test_console_routes_stay_out_of_the_api_schema(harness: Harness) -> None:
    paths = (await harness.client.get("/openapi.json")).json()["paths"]
    assert not [path for path in paths if path.startswith("/console")]


async def test_a_fragment_without_a_valid_key_is_refused_in_the_apis_words(harness: Harness) -> None:
    response = await harness.client.get("/console/fragments/content")
    assert response.status_code == 401
    assert response.headers["hx-retarget"] == "#flash"
    assert "Send an API key" in response.text
    unknown = await harness.client.get("/console/fragments/content", headers={"Authorization": "Bearer nope"})
    assert unknown.status_code == 401
    assert "unknown or was revoked" in unknown.text


async def test_every_page_renders_for_a_read_only_key_without_edit_controls(harness: Harness) -> None:
    account = await harness.new_account()
    for fragment in FRAGMENTS:
        response = await harness.client.get(f"/console/fragments/{fragment}", headers=account.read)
        assert response.status_code == 200, (fragment, response.text[:500])
        assert "hx-post" not in response.text or fragment == "preview", fragment
    session = await harness.client.get("/console/fragments/session", headers=account.read)
    assert "read-only" in session.text
    assert account.id in session.text


async def test_a_read_only_key_is_refused_by_the_api_and_nothing_looks_done(harness: Harness) -> None:
    account = await harness.new_account()
    form = {"question": "Do you ship to Norway?", "answer": "Yes."}
    refused = await harness.client.post("/console/fragments/sources/short-answer", data=form, headers=account.read)
    assert refused.status_code == 403
    assert "lacks the permission 'customer_agent:edit'" in html.unescape(refused.text)
    assert (await harness.client.get(account.path("/sources"), headers=account.read)).json()["items"] == []


async def test_an_edit_key_adds_a_short_answer_and_pauses_the_agent(harness: Harness) -> None:
    account = await harness.new_account()
    form = {"question": "Do you ship to Norway?", "answer": "Yes, within 3 days.", "citations_enabled": "true"}
    added = await harness.client.post("/console/fragments/sources/short-answer", data=form, headers=account.edit)
    assert added.status_code == 200, added.text
    assert "Do you ship to Norway?" in added.text
    assert 'data-kind="short_answer"' in added.text
    paused = await harness.client.post("/console/fragments/agent/pause", headers=account.edit)
    assert 'data-status="paused_manual"' in paused.text
    status = await harness.client.get(account.path("/agent/status"), headers=account.read)
    assert status.json()["status"] == "paused_manual"


async def test_an_invalid_entry_shows_the_apis_message(harness: Harness) -> None:
    account = await harness.new_account()
    refused = await harness.client.post(
        "/console/fragments/sources/url", data={"url": "ftp://example.com/"}, headers=account.edit
    )
    assert refused.status_code == 422
    assert 'class="alert"' in refused.text
    api = await harness.client.post(
        account.path("/sources"), json={"kind": "url", "url": "ftp://example.com/"}, headers=account.edit
    )
    assert api.json()["error"]["message"] in html.unescape(refused.text)


async def test_a_date_filter_that_is_no_date_is_refused_in_words(harness: Harness) -> None:
    account = await harness.new_account()
    for page in ("/console/fragments/audit", "/console/fragments/performance"):
        # A date field takes years of up to six digits: the answer must be the console's refusal, not FastAPI's.
        refused = await harness.client.get(page, params={"from": "275760-01-01"}, headers=account.read)
        assert refused.status_code == 422, (page, refused.text)
        assert refused.headers["content-type"].startswith("text/html"), page
        assert refused.headers["hx-retarget"] == "#flash"
        assert "'275760-01-01' is not a date (YYYY-MM-DD)." in html.unescape(refused.text)


async def test_a_failed_pages_reason_reaches_the_api_and_the_content_page(harness: Harness) -> None:
    account = await harness.new_account()
    body = {"kind": "url", "url": "https://help.example.com/", "import_related": True}
    source = (await harness.client.post(account.path("/sources"), json=body, headers=account.edit)).json()
    status = SourceStatus(
        account_id=account.id,
        source_id=source["id"],
        state=SourceState.READY,
        sequence=2_000_000,  # above any a running ingestion service may report for this source meanwhile
        discovered=2,
        fetched=2,
        indexed=1,
        failed=1,
        documents=1,
        chunks=3,
        recent_failures=[PageFailure(url="https://help.example.com/gone", error="HTTP 404 Not Found")],
    )
    event = make_event(SOURCE_STATUS, status, source="ingestion-test", account_id=account.id)
    key = f"{account.id}:{source['id']}".encode()
    await produce_raw(harness.settings.kafka_bootstrap_servers, SOURCES_STATUS, serialize_event(event), key=key)
    folded = await get_until(harness, account, f"/sources/{source['id']}", lambda found: found["failed"] == 1)
    assert folded["recent_failures"] == [{"url": "https://help.example.com/gone", "error": "HTTP 404 Not Found"}]
    page = await harness.client.get("/console/fragments/content", headers=account.read)
    assert "https://help.example.com/gone" in page.text
    assert "HTTP 404 Not Found" in page.text


async def test_the_demo_account_is_made_once_with_a_short_answer_and_a_live_chat(harness: Harness) -> None:
    api = harness.service.api
    assert api is not None
    for _ in range(2):  # a restart finds it and leaves it as it is
        await ensure_demo_account(api.accounts, api.configuration, api.sources)
    issued = await harness.client.post(
        f"/v1/accounts/{DEMO_ACCOUNT_ID}/api-keys", json={"permissions": ["customer_agent:read"]}, headers=OPERATOR
    )
    demo = Account(DEMO_ACCOUNT_ID, edit_key="", read_key=issued.json()["key"])
    sources = (await harness.client.get(demo.path("/sources"), headers=demo.read)).json()["items"]
    assert [(s["kind"], s["question"]) for s in sources] == [("short_answer", DEMO_QUESTION)]
    channels = (await harness.client.get(demo.path("/channels"), headers=demo.read)).json()["items"]
    assert [(c["type"], c["id"]) for c in channels] == [("live_chat", "website")]


async def test_gaps_are_resolved_with_the_recommended_answer_or_dismissed_and_charted(harness: Harness) -> None:
    account = await harness.new_account()
    for thread, question in (("t1", "Can I pay with MobilePay?"), ("t2", "Do you ship to Iceland?")):
        data = ConversationEvent(
            account_id=account.id,
            thread_id=thread,
            channel=ChannelRef(type=ChannelType.LIVE_CHAT, id="web"),
            occurred_at=datetime.now(UTC),
            question=question,
            language="en",
            recommended_answer="We accept cards and MobilePay." if thread == "t1" else None,
        )
        event = make_event("conversation.knowledge_gap", data, source="conversation-test", account_id=account.id)
        key = f"{account.id}:{thread}".encode()
        await produce_raw(
            harness.settings.kafka_bootstrap_servers, CONVERSATIONS_EVENTS, serialize_event(event), key=key
        )
    gaps = await get_until(harness, account, "/knowledge-gaps", lambda body: len(body["items"]) == 2)
    by_question = {gap["question"]: gap["id"] for gap in gaps["items"]}

    page = await harness.client.get("/console/fragments/gaps", headers=account.edit)
    assert ">We accept cards and MobilePay.</textarea>" in page.text  # the draft, prefilled
    form = {"question": "Can I pay with MobilePay?", "answer": "Yes, with MobilePay and cards."}
    gap_id = by_question["Can I pay with MobilePay?"]
    resolved = await harness.client.post(f"/console/fragments/gaps/{gap_id}/resolve", data=form, headers=account.edit)
    assert "Resolved" in resolved.text
    gap_id = by_question["Do you ship to Iceland?"]
    dismissed = await harness.client.post(f"/console/fragments/gaps/{gap_id}/dismiss", headers=account.edit)
    assert "Gap dismissed." in dismissed.text
    left = await harness.client.get(account.path("/knowledge-gaps"), params={"status": "open"}, headers=account.read)
    assert left.json()["items"] == []
    sources = (await harness.client.get(account.path("/sources"), headers=account.read)).json()["items"]
    assert [s["answer"] for s in sources] == ["Yes, with MobilePay and cards."]

    today = datetime.now(UTC).date().isoformat()
    charts = await harness.client.get(
        "/console/fragments/performance", params={"from": today, "to": today}, headers=account.read
    )
    assert charts.status_code == 200, charts.text
    configs = [json.loads(html.unescape(found.split('"')[0])) for found in charts.text.split('data-chart="')[1:]]
    assert [config["type"] for config in configs] == ["bar", "line", "bar", "bar"]
    assert configs[0]["data"]["labels"] == [today]
