"""The console's users and teams forms: saved with the API's PUT of the whole list, refused in the API's words."""

from __future__ import annotations

import html

from .harness import Account, Harness

ADA: dict[str, str | list[str]] = {
    "original_id": "",
    "id": "u-ada",
    "name": "Ada",
    "paid_seat": "true",
    "available": "true",
    "timezone": "Europe/Copenhagen",
    "hours-0-days": ["0", "1", "2", "3", "4"],
    "hours-0-start": "09:00",
    "hours-0-end": "17:00",
    "hours-1-days": "5",
    "hours-1-start": "10:00",
    "hours-1-end": "14:00",
}
SUPPORT: dict[str, str | list[str]] = {
    "original_id": "",
    "id": "support",
    "name": "Support",
    "max_capacity": "3",
    "member_ids": "u-ada",
}


async def _save(harness: Harness, account: Account, resource: str, form: dict[str, str | list[str]]) -> str:
    response = await harness.client.post(f"/console/fragments/people/{resource}/save", data=form, headers=account.edit)
    assert response.status_code == 200, response.text
    return response.text


async def test_a_user_and_a_team_added_in_forms_reach_the_api_in_its_shape(harness: Harness) -> None:
    account = await harness.new_account()
    page = await _save(harness, account, "users", ADA)
    assert "User &#39;Ada&#39; saved." in page
    assert "Mon\u2013Fri 09:00\u201317:00" in page
    page = await _save(harness, account, "teams", {**SUPPORT, "hours_mode": "members"})
    assert "3 open threads" in page

    users = (await harness.client.get(account.path("/users"), headers=account.read)).json()
    weekdays = [{"day": day, "start": "09:00", "end": "17:00"} for day in range(5)]
    saturday = {"day": 5, "start": "10:00", "end": "14:00"}
    assert users == [
        {
            "id": "u-ada",
            "name": "Ada",
            "paid_seat": True,
            "available": True,
            "working_hours": {"timezone": "Europe/Copenhagen", "intervals": [*weekdays, saturday]},
            "team_ids": [],
        }
    ]
    teams = (await harness.client.get(account.path("/teams"), headers=account.read)).json()
    assert teams == [
        {"id": "support", "name": "Support", "max_capacity": 3, "member_ids": ["u-ada"], "working_hours": None}
    ]

    # Editing Ada's form again keeps her hours as rows and changes only what the form changed.
    form = await harness.client.get(
        "/console/fragments/people/users/form", params={"id": "u-ada"}, headers=account.edit
    )
    assert 'name="hours-1-start"' in form.text
    assert 'name="hours-2-start"' not in form.text
    await _save(harness, account, "users", {**ADA, "original_id": "u-ada", "team_ids": "support", "available": ""})
    users = (await harness.client.get(account.path("/users"), headers=account.read)).json()
    assert (users[0]["team_ids"], users[0]["available"]) == (["support"], False)


async def test_a_refused_form_comes_back_as_typed_with_the_apis_words_by_the_field(harness: Harness) -> None:
    account = await harness.new_account()
    response = await harness.client.post(
        "/console/fragments/people/teams/save",
        data={**SUPPORT, "member_ids": [], "max_capacity": "100001", "hours_mode": "members"},
        headers=account.edit,
    )
    assert response.status_code == 422
    assert response.headers["hx-retarget"] == "closest tr"
    shown = html.unescape(response.text)
    assert "Nothing was saved: see the field marked below." in shown  # the API's words go under the field
    assert '<p class="error-text" data-field="max_capacity">Input should be less than or equal to 100000</p>' in shown
    assert 'value="100001"' in shown  # as typed
    assert (await harness.client.get(account.path("/teams"), headers=account.read)).json() == []

    late = {**ADA, "hours-1-start": "17:00", "hours-1-end": "09:00"}
    response = await harness.client.post("/console/fragments/people/users/save", data=late, headers=account.edit)
    assert response.status_code == 422
    api = await harness.client.put(
        account.path("/users"),
        json=[{"id": "u-ada", "working_hours": {"intervals": [{"day": 5, "start": "17:00", "end": "09:00"}]}}],
        headers=account.edit,
    )
    assert api.json()["error"]["message"] in html.unescape(response.text)
    assert 'name="hours-1-start">' in response.text


async def test_hours_without_a_weekday_are_not_sent(harness: Harness) -> None:
    account = await harness.new_account()
    form = {**ADA, "hours-1-days": []}
    response = await harness.client.post("/console/fragments/people/users/save", data=form, headers=account.edit)
    assert response.status_code == 422
    assert 'data-field="row-1">Tick at least one weekday' in response.text
    assert (await harness.client.get(account.path("/users"), headers=account.read)).json() == []


async def test_a_user_a_team_lists_cannot_be_removed_and_the_api_says_why(harness: Harness) -> None:
    account = await harness.new_account()
    await _save(harness, account, "users", ADA)
    await _save(harness, account, "teams", {**SUPPORT, "hours_mode": "members"})
    refused = await harness.client.post(
        "/console/fragments/people/users/remove", data={"id": "u-ada"}, headers=account.edit
    )
    assert refused.status_code == 422
    assert refused.headers["hx-retarget"] == "#flash"
    assert "Team &#39;support&#39; still lists u-ada as members" in refused.text
    removed = await harness.client.post(
        "/console/fragments/people/teams/remove", data={"id": "support"}, headers=account.edit
    )
    assert "The team &#39;support&#39; was removed." in removed.text
    assert (await harness.client.get(account.path("/teams"), headers=account.read)).json() == []


async def test_a_read_only_key_sees_users_and_teams_without_controls(harness: Harness) -> None:
    account = await harness.new_account()
    await _save(harness, account, "users", ADA)
    page = await harness.client.get("/console/fragments/people", headers=account.read)
    assert "Mon\u2013Fri 09:00\u201317:00" in page.text
    assert "Europe/Copenhagen" in page.text
    assert "<button" not in page.text
    refused = await harness.client.post("/console/fragments/people/users/save", data=ADA, headers=account.read)
    assert refused.status_code == 403
