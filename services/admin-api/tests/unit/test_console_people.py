"""The console's users and teams forms: hours as rows of weekdays, a form as the API's body, refusals by field."""

from __future__ import annotations

from typing import Any

from admin_api.entrypoints.console.people_forms import HoursRow, PersonForm, hour_rows, read_form, weekdays
from starlette.datastructures import FormData

HOURS: dict[str, Any] = {
    "timezone": "Europe/Copenhagen",
    "intervals": [
        {"day": 0, "start": "09:00", "end": "12:00"},
        {"day": 0, "start": "13:00", "end": "17:00"},
        {"day": 1, "start": "09:00", "end": "12:00"},
        {"day": 1, "start": "13:00", "end": "17:00"},
        {"day": 5, "start": "10:00", "end": "14:00"},
    ],
}


def test_intervals_with_the_same_times_share_a_row_and_come_back_as_they_were() -> None:
    assert hour_rows(HOURS) == [
        HoursRow([0, 1], "09:00", "12:00"),
        HoursRow([0, 1], "13:00", "17:00"),
        HoursRow([5], "10:00", "14:00"),
    ]
    body, origins = PersonForm.of("users", {"id": "u-ada", "working_hours": HOURS}).body()
    sent = {(i["day"], i["start"], i["end"]) for i in body["working_hours"]["intervals"]}
    assert sent == {(i["day"], i["start"], i["end"]) for i in HOURS["intervals"]}
    assert origins == [0, 0, 1, 1, 2]
    assert hour_rows(None) == []


def test_weekdays_are_named_with_runs_of_three_or_more_as_a_span() -> None:
    assert weekdays([4, 0, 1, 2, 3]) == "Mon\u2013Fri"
    assert weekdays([0, 1, 6]) == "Mon, Tue, Sun"
    assert weekdays([0, 2, 3, 4, 6]) == "Mon, Wed\u2013Fri, Sun"


def _form(*fields: tuple[str, str]) -> FormData:
    return FormData([("original_id", ""), ("id", " u-bo "), ("name", "Bo"), *fields])


def test_a_user_form_becomes_the_apis_body_rows_in_the_order_of_their_numbers() -> None:
    form = read_form(
        "users",
        _form(
            ("paid_seat", "true"),
            ("team_ids", "support"),
            ("timezone", "America/New_York"),
            ("hours-10-days", "6"),
            ("hours-10-start", "08:00"),
            ("hours-10-end", "24:00"),
            ("hours-2-days", "2"),
            ("hours-2-days", "0"),
            ("hours-2-start", "09:00"),
            ("hours-2-end", "17:00"),
        ),
    )
    assert form.check()
    body, origins = form.body()
    assert body == {
        "id": "u-bo",
        "name": "Bo",
        "paid_seat": True,
        "available": False,
        "team_ids": ["support"],
        "working_hours": {
            "timezone": "America/New_York",
            "intervals": [
                {"day": 0, "start": "09:00", "end": "17:00"},
                {"day": 2, "start": "09:00", "end": "17:00"},
                {"day": 6, "start": "08:00", "end": "24:00"},
            ],
        },
    }
    assert origins == [0, 0, 1]


def test_a_team_on_its_members_hours_has_none_and_its_capacity_goes_as_typed() -> None:
    members = read_form("teams", _form(("hours_mode", "members"), ("max_capacity", ""), ("hours-0-start", "09:00")))
    assert members.body()[0]["working_hours"] is None
    assert members.body()[0]["max_capacity"] is None
    assert members.check()  # rows of hours it does not use are not judged
    own = read_form("teams", _form(("hours_mode", "own"), ("max_capacity", "12"), ("member_ids", "u-ada")))
    assert own.body()[0] == {
        "id": "u-bo",
        "name": "Bo",
        "max_capacity": 12,
        "member_ids": ["u-ada"],
        "working_hours": {"timezone": "UTC", "intervals": []},
    }
    assert read_form("teams", _form(("max_capacity", "many"))).body()[0]["max_capacity"] == "many"


def test_hours_on_no_weekday_are_refused_by_the_form_itself() -> None:
    form = read_form("users", _form(("hours-0-start", "09:00"), ("hours-0-end", "17:00")))
    assert not form.check()
    assert form.errors == {"row-0": ["Tick at least one weekday, or remove these hours."]}
    assert form.message.startswith("Nothing was saved")


def test_the_apis_details_about_this_entry_land_by_their_fields() -> None:
    form = PersonForm.of("users", {"id": "u-ada", "working_hours": HOURS})
    details = [
        {"field": "3.name", "problem": "String should have at most 200 characters"},
        {"field": "3.working_hours.intervals.4.end", "problem": "String should match pattern"},
        {"field": "3.working_hours.timezone", "problem": "too long"},
        {"field": "3.working_hours.intervals", "problem": "too many"},
        {"field": "0.name", "problem": "another entry's problem"},
    ]
    form.refused(status=422, message="The request is invalid: ...", details=details, index=3)
    assert form.errors == {
        "name": ["String should have at most 200 characters"],
        "row-2": ["String should match pattern"],
        "timezone": ["too long"],
        "hours": ["too many"],
    }
    assert (form.status, form.message) == (422, "The request is invalid: ...")
