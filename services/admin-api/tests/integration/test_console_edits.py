"""The console's edit paths, sent as its htmx requests send them: each shows its notice and changes what the API
keeps (sources, channels and their rules, trigger words, availability messages, the profile and its answer
threshold), and the audit log's filters and pages find the changes."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from admin_api.entrypoints.console import insights

from .harness import OPERATOR, Account, Harness, audit_trail

HTMX = {"HX-Request": "true"}


async def _post(harness: Harness, account: Account, path: str, form: dict[str, str] | None = None) -> str:
    """POST a console form; the fragment's text (entities decoded)."""
    response = await harness.client.post(f"/console/fragments{path}", data=form or {}, headers={**account.edit, **HTMX})
    assert response.status_code == 200, response.text
    return html.unescape(response.text)


async def _fragment(
    harness: Harness, account: Account, path: str, *, edit: bool = False, params: dict[str, str] | None = None
) -> str:
    """GET a console fragment with the read-only key (or the edit key); its text (entities decoded)."""
    key = account.edit if edit else account.read
    response = await harness.client.get(f"/console/fragments{path}", params=params, headers={**key, **HTMX})
    assert response.status_code == 200, response.text
    return html.unescape(response.text)


async def _api(harness: Harness, account: Account, suffix: str) -> Any:
    response = await harness.client.get(account.path(suffix), headers=account.read)
    assert response.status_code == 200, response.text
    return response.json()


def _etag_in(page: str) -> str:
    """The ETag a console form carries in its hidden field, as the browser sends it back."""
    found = re.search(r'name="etag" value="([^"]+)"', page)
    assert found, page[:500]
    return html.unescape(found.group(1))


async def _shown_etag(harness: Harness, account: Account, path: str) -> str:
    """The ETag the form of a console page carries."""
    return _etag_in((await harness.client.get(f"/console/fragments{path}", headers={**account.edit, **HTMX})).text)


async def test_sources_are_added_edited_toggled_resynced_and_removed(harness: Harness) -> None:
    account = await harness.new_account()
    url_form = {"url": "https://help.example.com/", "import_related": "true", "citations_enabled": "true"}
    page = await _post(harness, account, "/sources/url", url_form)
    assert "Added https://help.example.com/; it syncs now." in page
    (url,) = (await _api(harness, account, "/sources"))["items"]
    assert (url["kind"], url["import_related"], url["private"]) == ("url", True, False)
    assert f'data-source-id="{url["id"]}" data-kind="url" data-state="pending"' in page
    assert "+ related" in page

    short_answer = {"question": "Ship to Norway?", "answer": "Yes.", "citations_enabled": "true"}
    await _post(harness, account, "/sources/short-answer", short_answer)
    answer_id = next(s["id"] for s in (await _api(harness, account, "/sources"))["items"] if s["id"] != url["id"])
    edit = {"question": "Do you ship to Norway?", "answer": "Yes, within two days."}
    assert "Short answer saved." in await _post(harness, account, f"/sources/{answer_id}/edit", edit)
    page = await _post(harness, account, f"/sources/{answer_id}/set", {"field": "citations_enabled", "value": "false"})
    assert "Turn citations on" in page
    answer = await _api(harness, account, f"/sources/{answer_id}")
    assert (answer["question"], answer["answer"], answer["citations_enabled"]) == (*edit.values(), False)

    page = await _post(harness, account, f"/sources/{url['id']}/set", {"field": "private", "value": "true"})
    assert "Make public" in page
    private = await _api(harness, account, f"/sources/{url['id']}")
    assert (private["private"], private["citations_enabled"]) == (True, False)  # private content is never cited
    assert "Sync started again." in await _post(harness, account, f"/sources/{url['id']}/resync")
    page = await _post(harness, account, f"/sources/{answer_id}/remove")
    assert "Source removed." in page
    assert "Do you ship to Norway?" not in page
    assert [s["id"] for s in (await _api(harness, account, "/sources"))["items"]] == [url["id"]]
    assert await audit_trail(harness, account, target_type="source") == [
        ("source", "create", url["id"]),
        ("source", "create", answer_id),
        ("source", "edit", answer_id),
        ("source", "edit", answer_id),
        ("source", "edit", url["id"]),
        ("source", "publish", url["id"]),
        ("source", "delete", answer_id),
    ]


async def test_a_channel_is_deployed_its_rule_changed_and_it_is_removed(harness: Harness) -> None:
    account = await harness.new_account()
    ada = [{"id": "u-ada", "name": "Ada", "paid_seat": True, "available": True, "team_ids": []}]
    assert (await harness.client.put(account.path("/users"), json=ada, headers=account.edit)).status_code == 200
    deploy = {"type": "live_chat", "id": "web", "mode": "handoff", "assign_to": "user:u-ada", "update_avatar": "true"}
    page = await _post(harness, account, "/channels", deploy)
    assert "The agent now answers on live_chat web." in page
    handoff = {"mode": "handoff", "assign_to": [{"kind": "user", "id": "u-ada"}], "update_avatar": True}
    assert (await _api(harness, account, "/channels"))["items"] == [
        {"type": "live_chat", "id": "web", "handoff": handoff}
    ]

    refused = await harness.client.post(
        "/console/fragments/channels/rule",
        data={"id": "web", "mode": "handoff", "assign_to": "ada"},
        headers=account.edit,
    )
    assert refused.status_code == 422
    assert "Write each handoff target as user:<id> or team:<id>, not 'ada'." in html.unescape(refused.text)
    page = await _post(harness, account, "/channels/rule", {"id": "web", "mode": "stay_assigned", "assign_to": ""})
    assert "Handoff rule of web saved." in page
    (channel,) = (await _api(harness, account, "/channels"))["items"]
    assert channel["handoff"] == {"mode": "stay_assigned", "assign_to": [], "update_avatar": False}

    assert "The agent left web." in await _post(harness, account, "/channels/remove", {"id": "web"})
    assert (await _api(harness, account, "/channels"))["items"] == []
    assert await audit_trail(harness, account, target_type="channel") == [
        ("channel", "create", "web"),
        ("channel", "edit", "web"),
        ("channel", "delete", "web"),
    ]


async def test_a_channel_whose_id_reads_as_a_path_or_a_query_is_the_one_changed_and_removed(harness: Harness) -> None:
    account = await harness.new_account()
    ids = ["web", "web?x=1", "a/../../sources", "..", "50%"]
    for channel_id in ids:
        body = {"type": "custom", "id": channel_id}
        assert (await harness.client.post(account.path("/channels"), json=body, headers=account.edit)).is_success
    page = (await harness.client.get("/console/fragments/channels", headers={**account.edit, **HTMX})).text
    # Each row's buttons name their channel in the form, as htmx sends it, never in the console's address.
    removals = [json.loads(html.unescape(vals)) for vals in re.findall(r"channels/remove\"\s+hx-vals='([^']+)'", page)]
    assert sorted(removal["id"] for removal in removals) == sorted(ids)
    assert "/console/fragments/channels/web" not in page

    stay = {"id": "web?x=1", "mode": "stay_assigned", "assign_to": ""}
    assert "Handoff rule of web?x=1 saved." in await _post(harness, account, "/channels/rule", stay)
    modes = {c["id"]: c["handoff"]["mode"] for c in (await _api(harness, account, "/channels"))["items"]}
    assert modes == {**dict.fromkeys(ids, "handoff"), "web?x=1": "stay_assigned"}
    for removed in ("web?x=1", "a/../../sources", "..", "50%"):
        assert f"The agent left {removed}." in await _post(harness, account, "/channels/remove", {"id": removed})
    assert [c["id"] for c in (await _api(harness, account, "/channels"))["items"]] == ["web"]


async def test_trigger_words_and_one_languages_messages_are_saved_and_a_stale_form_is_refused(
    harness: Harness,
) -> None:
    account = await harness.new_account()
    shown = await _shown_etag(harness, account, "/channels")
    before = await _api(harness, account, "/handoff")
    form = {"triggers": "speak to a human\n\n  complaint \n", "etag": shown}
    assert "Trigger words saved." in await _post(harness, account, "/handoff/triggers", form)
    assert (await _api(harness, account, "/handoff"))["triggers"] == ["speak to a human", "complaint"]

    danish = {
        "available": "En kollega er hos dig om lidt.",
        "away": "Vi er væk lige nu.",
        "at_capacity": "Vi har travlt; vent venligst.",
        "outside_hours": "Vi har lukket.",
    }
    page = await _post(harness, account, "/handoff/messages", {"language": "da", **danish, "handoff_unavailable": ""})
    assert "Availability messages for 'da' saved." in page
    messages = (await _api(harness, account, "/handoff"))["messages"]
    assert {name: messages["da"][name] for name in danish} == danish
    assert {k: v for k, v in messages.items() if k != "da"} == {
        k: v for k, v in before["messages"].items() if k != "da"
    }

    stale = await harness.client.post(  # the form shown before the two saves: someone else's change would be lost
        "/console/fragments/handoff/triggers", data={"triggers": "refund\nmanager", "etag": shown}, headers=account.edit
    )
    assert stale.status_code == 412, stale.text
    assert (await _api(harness, account, "/handoff"))["triggers"] == ["speak to a human", "complaint"]
    # Theirs are named, the typed list kept, and the form carries the new ETag: saving again replaces theirs.
    refused = html.unescape(stale.text)
    assert "someone saved the trigger words after this page was opened" in refused
    assert "now are: “speak to a human”, “complaint”." in refused
    assert '<textarea id="triggers" name="triggers" rows="6">refund\nmanager</textarea>' in refused
    assert _etag_in(stale.text) != shown
    again = {"triggers": "refund\nmanager", "etag": _etag_in(stale.text)}
    assert "Trigger words saved." in await _post(harness, account, "/handoff/triggers", again)
    assert (await _api(harness, account, "/handoff"))["triggers"] == ["refund", "manager"]


async def test_the_agent_profile_is_saved_and_a_stale_form_is_refused(harness: Harness) -> None:
    account = await harness.new_account()
    shown = await _shown_etag(harness, account, "/agent")
    form = {"name": " Ava ", "role": "sales_representative", "personality": "witty", "answer_threshold": "0.6"}
    page = await _post(harness, account, "/agent", {**form, "etag": shown})
    assert "Profile saved." in page
    assert 'value="Ava"' in page
    profile = await _api(harness, account, "/agent")
    assert (profile["name"], profile["role"], profile["personality"]) == ("Ava", "sales_representative", "witty")
    assert profile["answer_threshold"] == 0.6

    typed = {**form, "name": "Bo", "answer_threshold": "0.45", "etag": shown}
    stale = await harness.client.post("/console/fragments/agent", data=typed, headers=account.edit)
    assert stale.status_code == 412, stale.text
    assert (await _api(harness, account, "/agent"))["name"] == "Ava"
    # The form comes back as typed, saying what the profile holds now, with its new ETag: a second save wins.
    refused = " ".join(html.unescape(stale.text).split())
    now = "It now reads: name “Ava”, role sales representative, personality witty, answer threshold 0.6."
    assert now in refused
    assert 'id="agent-name" name="name" value="Bo"' in refused
    assert _threshold_field(refused)["value"] == "0.45"
    assert _etag_in(stale.text) != shown
    again = await _post(harness, account, "/agent", {**typed, "etag": _etag_in(stale.text)})
    assert "Profile saved." in again
    assert [(await _api(harness, account, "/agent"))[key] for key in ("name", "answer_threshold")] == ["Bo", 0.45]


def _threshold_field(page: str) -> dict[str, str]:
    """The attributes of the profile form's answer threshold field."""
    found = re.search(r'<input id="agent-answer-threshold"([^>]*)>', page)
    assert found, page[:1000]
    return dict(re.findall(r'([\w-]+)="([^"]*)"', found.group(1)))


async def test_the_answer_threshold_is_shown_saved_kept_by_other_changes_and_reset(harness: Harness) -> None:
    account = await harness.new_account()
    stored = {"name": "Ada", "role": "customer_service", "personality": "friendly", "answer_threshold": 0.65}
    assert (await harness.client.put(account.path("/agent"), json=stored, headers=account.edit)).is_success
    field = _threshold_field(await _fragment(harness, account, "/agent", edit=True))
    assert (field["value"], field["type"], field["inputmode"]) == ("0.65", "text", "decimal")
    assert field["aria-describedby"] == "agent-answer-threshold-hint"
    read_only = await _fragment(harness, account, "/agent")
    assert _threshold_field(read_only)["value"] == "0.65"
    assert "<fieldset disabled>" in read_only

    # Only the name changed, the rest sent as the form showed it: the threshold stays.
    form = {"name": "Ava", "role": "customer_service", "personality": "friendly", "answer_threshold": "0.65"}
    await _post(harness, account, "/agent", form)
    assert [(await _api(harness, account, "/agent"))[k] for k in ("name", "answer_threshold")] == ["Ava", 0.65]
    # A form without the field (one shown before the field existed) leaves the threshold alone too.
    without = {key: value for key, value in form.items() if key != "answer_threshold"}
    assert "Profile saved." in await _post(harness, account, "/agent", {**without, "personality": "witty"})
    assert [(await _api(harness, account, "/agent"))[k] for k in ("personality", "answer_threshold")] == ["witty", 0.65]

    page = await _post(harness, account, "/agent", {**form, "answer_threshold": "0.3"})
    assert "Profile saved." in page
    assert _threshold_field(page)["value"] == "0.3"
    assert (await _api(harness, account, "/agent"))["answer_threshold"] == 0.3

    page = await _post(harness, account, "/agent", {**form, "answer_threshold": "0,725"})  # a decimal comma
    assert (await _api(harness, account, "/agent"))["answer_threshold"] == 0.725
    assert _threshold_field(page)["value"] == "0.725"

    page = await _post(harness, account, "/agent", {**form, "answer_threshold": " "})
    assert _threshold_field(page)["value"] == ""
    assert (await _api(harness, account, "/agent"))["answer_threshold"] is None
    assert _threshold_field(await _fragment(harness, account, "/agent", edit=True))["value"] == ""


async def test_a_threshold_out_of_range_or_not_a_number_is_refused_by_the_field_and_nothing_is_saved(
    harness: Harness,
) -> None:
    account = await harness.new_account()
    stored = {"name": "Ada", "role": "customer_service", "personality": "friendly", "answer_threshold": 0.65}
    assert (await harness.client.put(account.path("/agent"), json=stored, headers=account.edit)).is_success
    problems = {
        "1.5": "Input should be less than or equal to 1",
        "-0.1": "Input should be greater than or equal to 0",
        "abc": "Input should be a valid number, unable to parse string as a number",
    }
    for typed, problem in problems.items():
        form = {"name": "Bo", "role": "customer_service", "personality": "witty", "answer_threshold": typed}
        response = await harness.client.post("/console/fragments/agent", data=form, headers={**account.edit, **HTMX})
        assert response.status_code == 422, response.text
        page = html.unescape(response.text)
        message = "Nothing was saved: see the field marked below."  # the API's words go under the field
        assert f'<strong>Refused (422):</strong> <span class="message">{message}</span>' in page
        shown = f'<p class="error-text" id="agent-answer-threshold-error" data-field="answer_threshold">{problem}</p>'
        assert shown in page
        field = _threshold_field(page)
        assert (field["value"], field["aria-invalid"]) == (typed, "true")
        assert field["aria-describedby"] == "agent-answer-threshold-hint agent-answer-threshold-error"
        assert 'id="agent-name" name="name" value="Bo"' in page  # the rest as typed too
        assert await _api(harness, account, "/agent") == stored


async def test_the_audit_log_filters_and_pages_back_and_credits_link_to_purchases(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = await harness.new_account()
    for question in ("Ship to Norway?", "Ship to Iceland?", "Ship to Greenland?"):
        body = {"kind": "short_answer", "question": question, "answer": "Yes."}
        assert (await harness.client.post(account.path("/sources"), json=body, headers=account.edit)).is_success
    bought = await harness.client.post(account.path("/credits/purchases"), json={"credits": 500}, headers=OPERATOR)
    assert bought.is_success, bought.text
    today = datetime.now(UTC).date()

    purchases = await _fragment(harness, account, "/audit", params={"target_type": "credit_purchase"})
    assert purchases.count("<tr>") == 2  # the header and the one purchase
    assert "credit_purchase" in purchases
    assert "Ship to" not in purchases
    credits = await _fragment(harness, account, "/credits")
    link = 'hx-get="/console/fragments/audit?target_type=credit_purchase"'
    assert link in credits
    tomorrow = (today + timedelta(days=1)).isoformat()
    empty = await _fragment(harness, account, "/audit", params={"from": tomorrow})
    assert "Nothing recorded for these filters." in empty

    monkeypatch.setattr(insights, "AUDIT_PAGE_SIZE", 2)
    filters = {"target_type": "source", "action": "create", "from": today.isoformat(), "to": today.isoformat()}
    newest = await _fragment(harness, account, "/audit", params=filters)
    assert (newest.count("Ship to Greenland?"), newest.count("Ship to Iceland?")) == (1, 1)
    assert "Ship to Norway?" not in newest
    older = json.loads(re.findall(r"hx-vals='([^']+)'>Older entries", newest)[0])
    assert {k: v for k, v in older.items() if k != "before_id"} == filters
    last = await _fragment(harness, account, "/audit", params=older)
    assert "Ship to Norway?" in last
    assert "Ship to Iceland?" not in last
    assert "Older entries" not in last
