"""The console's users and teams forms: weekly hours as rows of weekdays sharing their times, a submitted form as
the body PUT /users or PUT /teams takes, and the API's per-field refusals put back next to the fields they name."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal, Protocol
from zoneinfo import available_timezones

from admin_api.entrypoints.console.client import see_fields_marked

Resource = Literal["users", "teams"]
EN_DASH = "\u2013"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
QUARTER_HOURS = [f"{minutes // 60:02d}:{minutes % 60:02d}" for minutes in range(0, 24 * 60 + 1, 15)]
STARTS, ENDS = QUARTER_HOURS[:-1], QUARTER_HOURS[1:]  # an interval may end at 24:00, never start there
PLAIN_FIELDS = frozenset({"id", "name", "paid_seat", "available", "team_ids", "max_capacity", "member_ids"})


class SubmittedForm(Protocol):
    """A submitted form (Starlette's ``FormData``): a field's values, in order."""

    def getlist(self, key: str) -> list[Any]: ...

    def __iter__(self) -> Iterator[str]: ...


@dataclass
class HoursRow:
    """Weekdays that share the same working time."""

    days: list[int]
    start: str = "09:00"
    end: str = "17:00"


NEW_ROW = HoursRow(days=[0, 1, 2, 3, 4])


def hour_rows(hours: Mapping[str, Any] | None) -> list[HoursRow]:
    """A working-hours body's intervals, those with the same times on one row, in the order they first appear."""
    rows: dict[tuple[str, str], HoursRow] = {}
    for interval in (hours or {}).get("intervals", []):
        times = (interval["start"], interval["end"])
        row = rows.setdefault(times, HoursRow([], *times))
        if interval["day"] not in row.days:
            row.days.append(interval["day"])
    for row in rows.values():
        row.days.sort()
    return list(rows.values())


def weekdays(days: Iterable[int]) -> str:
    """Weekdays by name, three or more in a row as a span: 'Mon-Fri, Sun' (with an en dash)."""
    runs: list[list[int]] = []
    for day in sorted(set(days)):
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    named = [[WEEKDAYS[day] if 0 <= day < 7 else str(day) for day in run] for run in runs]
    return ", ".join(f"{run[0]}{EN_DASH}{run[-1]}" if len(run) >= 3 else ", ".join(run) for run in named)


@cache
def time_zones() -> frozenset[str]:
    """The IANA time zones the API accepts (it checks them with ``zoneinfo``)."""
    return frozenset(available_timezones())


@cache
def time_zone_groups() -> list[tuple[str, list[str]]]:
    """The time zones by area, those without an area last; UTC is left out, the form offers it first."""
    groups: dict[str, list[str]] = defaultdict(list)
    for name in sorted(time_zones() - {"UTC"}):
        area, slash, _ = name.partition("/")
        groups[area if slash else "Other"].append(name)
    return sorted(groups.items(), key=lambda group: (group[0] == "Other", group[0]))


@dataclass
class PersonForm:
    """One user's or team's edit form: the API's body of it, its hours as the form shows them, and problems."""

    resource: Resource
    original_id: str
    entry: dict[str, Any]
    timezone: str = "UTC"
    rows: list[HoursRow] = field(default_factory=list)
    own_hours: bool = True
    message: str = ""
    status: int = 422
    errors: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, resource: Resource, entry: Mapping[str, Any] | None) -> PersonForm:
        """The form of a user or team as the API returned it (None: a new one)."""
        entry = dict(entry or ({"id": "", "paid_seat": True, "available": True} if resource == "users" else {"id": ""}))
        hours = entry.get("working_hours")
        return cls(
            resource,
            original_id=str(entry["id"]),
            entry=entry,
            timezone=str((hours or {}).get("timezone", "UTC")),
            rows=hour_rows(hours),
            own_hours=resource == "users" or hours is not None,
        )

    def body(self) -> tuple[dict[str, Any], list[int]]:
        """The entry as the API takes it, and the row each of its working intervals came from."""
        intervals = [
            ({"day": day, "start": row.start, "end": row.end}, position)
            for position, row in enumerate(self.rows)
            for day in row.days
        ]
        hours = {"timezone": self.timezone, "intervals": [interval for interval, _ in intervals]}
        body = {**self.entry, "working_hours": hours if self.own_hours else None}
        return body, [position for _, position in intervals]

    def check(self) -> bool:
        """Whether each row of hours has a weekday (the API cannot be asked about hours on no day)."""
        for position, row in enumerate(self.rows):
            if self.own_hours and not row.days:
                self.errors[f"row-{position}"] = ["Tick at least one weekday, or remove these hours."]
        if self.errors:
            self.message = "Nothing was saved: some hours have no weekday."
        return not self.errors

    def refused(self, *, status: int, message: str, details: list[dict[str, Any]], index: int) -> None:
        """Keep the API's refusal of the list the entry was saved in at ``index``, by field where it names one."""
        self.status, self.message = status, message
        origins = self.body()[1]
        marked = 0
        for detail in details:
            path = str(detail.get("field", "")).split(".")
            if path[0] == str(index) and len(path) > 1:
                key = _form_field(path[1:], origins)
                self.errors.setdefault(key, []).append(str(detail.get("problem", "invalid")))
                marked += 1
        if details and marked == len(details):
            self.message = see_fields_marked(len(self.errors))


def _form_field(path: list[str], origins: list[int]) -> str:
    """The form field a refused body path names ('working_hours.intervals.3.end' → the row of interval 3)."""
    if path[0] in PLAIN_FIELDS:
        return path[0]
    if path[:2] == ["working_hours", "timezone"]:
        return "timezone"
    if path[:2] == ["working_hours", "intervals"] and len(path) > 2 and path[2].isdigit():
        interval = int(path[2])
        if interval < len(origins):
            return f"row-{origins[interval]}"
    return "hours"


def read_form(resource: Resource, form: SubmittedForm) -> PersonForm:
    """A submitted users or teams form."""

    def text(name: str) -> str:
        values = form.getlist(name)
        return str(values[0]).strip() if values else ""

    entry: dict[str, Any] = {"id": text("id"), "name": text("name")}
    if resource == "users":
        entry |= {"paid_seat": bool(text("paid_seat")), "available": bool(text("available"))}
        entry["team_ids"] = [str(value) for value in form.getlist("team_ids")]
    else:
        entry["max_capacity"] = _capacity(text("max_capacity"))
        entry["member_ids"] = [str(value) for value in form.getlist("member_ids")]
    return PersonForm(
        resource,
        original_id=text("original_id"),
        entry=entry,
        timezone=text("timezone") or "UTC",
        rows=_read_rows(form),
        own_hours=resource == "users" or text("hours_mode") == "own",
    )


def _capacity(text: str) -> int | str | None:
    """Empty is no limit; anything but a whole number goes to the API as typed, for the API to word the refusal."""
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return text


def _read_rows(form: SubmittedForm) -> list[HoursRow]:
    """The rows of hours (fields hours-<n>-days, -start, -end), in the order of n."""
    numbers = sorted({int(key.split("-")[1]) for key in form if _row_field(key)})
    rows = []
    for number in numbers:
        days = sorted({int(day) for day in form.getlist(f"hours-{number}-days") if str(day).isdigit()})
        start, end = (str((form.getlist(f"hours-{number}-{edge}") or [""])[0]) for edge in ("start", "end"))
        rows.append(HoursRow(days, start, end))
    return rows


def _row_field(key: str) -> bool:
    parts = key.split("-")
    return len(parts) == 3 and parts[0] == "hours" and parts[1].isdigit() and parts[2] in ("days", "start", "end")
