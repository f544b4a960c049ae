"""The working-day calendar that matter targets count against.

A date is a working day by, in order: the community's own override (:class:`CalendarDay`), the
official calendar of its year (``tenants/calendars/<year>.toml``: public holidays and make-up working
days, 调休上班), and otherwise the week (Saturdays and Sundays off). A year without a file falls back to
the week alone.
"""

from __future__ import annotations

import calendar as pycalendar
import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from yishi.core import audit, tenancy
from yishi.core.db import db
from yishi.core.errors import NotFoundError, ValidationFailed, flatten_validation_messages
from yishi.modules.accounts.permissions import Actor, require
from yishi.modules.calendar.models import CalendarDay
from yishi.modules.calendar.schemas import ClockSettingsSchema, OfficialYearSchema, parse_working_hours
from yishi.modules.communities.models import Community, TargetClock

MAX_DAYS_SEARCHED = 3 * 366  # due_at gives up if no working minute turns up within this many days


class OfficialDay(NamedTuple):
    is_workday: bool
    name_zh: str
    name_en: str

    def name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name_zh


@dataclass(frozen=True)
class DayStatus:
    date: date
    is_workday: bool
    source: str  # override, official, weekend, weekday
    name_zh: str = ""
    name_en: str = ""
    note: str = ""

    @property
    def is_weekend(self) -> bool:
        return self.date.weekday() >= 5

    def name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name_zh


# --- the official calendar ---------------------------------------------------------------------------


def calendars_folder() -> Path:
    return Path(current_app.config["TENANTS_PATH"]) / "calendars"


def _load_year(path: Path) -> dict[date, OfficialDay]:
    try:
        year = int(path.stem)
    except ValueError as error:
        raise ValueError(f"{path}: the file name must be the year, e.g. 2026.toml") from error
    try:
        data = OfficialYearSchema().load(tomllib.loads(path.read_text(encoding="utf-8")))
    except (tomllib.TOMLDecodeError, ma.ValidationError) as error:
        raise ValueError(f"{path}: {error}") from error
    days: dict[date, OfficialDay] = {}
    for key, is_workday in (("holidays", False), ("workdays", True)):
        for item in data[key]:
            day = item["date"]
            if day.year != year:
                raise ValueError(f"{path}: {day.isoformat()} is not in {year}")
            if day in days:
                raise ValueError(f"{path}: {day.isoformat()} is listed twice")
            days[day] = OfficialDay(is_workday, item["name_zh"], item["name_en"])
    return days


@lru_cache(maxsize=8)
def _load_cached(folder: str, signature: tuple) -> dict[date, OfficialDay]:
    days: dict[date, OfficialDay] = {}
    for path in sorted(Path(folder).glob("*.toml")):
        days.update(_load_year(path))
    return days


def load_official_calendar(folder: Path | None = None) -> dict[date, OfficialDay]:
    """Every ``<year>.toml`` of the folder, validated: date → (is_workday, name_zh, name_en).
    Raises ValueError naming the file when one is not valid."""
    folder = Path(folder or calendars_folder())
    if not folder.is_dir():
        return {}
    signature = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(folder.glob("*.toml")))
    return dict(_load_cached(str(folder), signature))


def official_years(folder: Path | None = None) -> list[int]:
    return sorted({day.year for day in load_official_calendar(folder)})


# --- a community's calendar -------------------------------------------------------------------------


def _community_in_scope() -> Community:
    community = db.session.get(Community, tenancy.require_community_id())
    if community is None:
        raise NotFoundError()
    return community


class WorkingCalendar:
    """The calendar of the community in scope; loads its overrides one year at a time."""

    def __init__(self, official: dict[date, OfficialDay] | None = None):
        self.official = load_official_calendar() if official is None else official
        self._overrides: dict[int, dict[date, CalendarDay]] = {}

    def overrides(self, year: int) -> dict[date, CalendarDay]:
        if year not in self._overrides:
            statement = select(CalendarDay).where(
                CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)
            )
            self._overrides[year] = {row.day: row for row in db.session.execute(statement).scalars()}
        return self._overrides[year]

    def status(self, day: date) -> DayStatus:
        official = self.official.get(day)
        names = {"name_zh": official.name_zh, "name_en": official.name_en} if official else {}
        override = self.overrides(day.year).get(day)
        if override is not None:
            return DayStatus(day, override.is_workday, "override", note=override.note, **names)
        if official is not None:
            return DayStatus(day, official.is_workday, "official", **names)
        if day.weekday() >= 5:
            return DayStatus(day, False, "weekend")
        return DayStatus(day, True, "weekday")

    def is_workday(self, day: date) -> bool:
        return self.status(day).is_workday


def is_workday(day: date) -> bool:
    """Whether ``day`` is a working day for the community in scope."""
    return WorkingCalendar().is_workday(day)


def month_view(year: int, month: int) -> list[DayStatus]:
    """Every date of the month with its status, for the community in scope."""
    working = WorkingCalendar()
    _weekday, length = pycalendar.monthrange(year, month)
    return [working.status(date(year, month, number)) for number in range(1, length + 1)]


def today_in(community: Community) -> date:
    return datetime.now(ZoneInfo(community.time_zone)).date()


def due_at(start: datetime, minutes: int) -> datetime:
    """When a target of ``minutes`` from ``start`` falls due for the community in scope, in UTC.

    Around the clock every minute counts. In working hours only the minutes inside the community's
    daily working hours on its working days count, in its time zone; a start outside them begins at
    the next opening.
    """
    if start.tzinfo is None:
        raise ValueError("due_at needs an aware start")
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    community = _community_in_scope()
    start = start.astimezone(UTC)
    if community.target_clock != TargetClock.WORKING_HOURS:
        return start + timedelta(minutes=minutes)
    zone = ZoneInfo(community.time_zone)
    opening, closing = parse_working_hours(community.working_hours)
    working = WorkingCalendar()
    remaining = timedelta(minutes=minutes)
    cursor = start
    day = start.astimezone(zone).date()
    for _searched in range(MAX_DAYS_SEARCHED):
        if working.is_workday(day):
            opens = datetime.combine(day, opening, tzinfo=zone).astimezone(UTC)
            closes = datetime.combine(day, closing, tzinfo=zone).astimezone(UTC)
            cursor = max(cursor, opens)
            if cursor < closes:
                available = closes - cursor
                if remaining <= available:
                    return cursor + remaining
                remaining -= available
        day += timedelta(days=1)
        cursor = max(cursor, datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC))
    raise ValueError(f"no working time within {MAX_DAYS_SEARCHED} days")


# --- editing ---------------------------------------------------------------------------------------


def get_override(day: date) -> CalendarDay:
    override = db.session.execute(select(CalendarDay).where(CalendarDay.day == day)).scalar_one_or_none()
    if override is None:
        raise NotFoundError()
    return override


def set_override(community: Community, day: date, is_workday: bool, note: str, *, actor: Actor) -> CalendarDay:
    """Make ``day`` a working day or a day off for this community, whatever the official calendar says."""
    require(actor, "community:write", community=community)
    if not 2000 <= day.year <= 2100:
        raise ValidationFailed(errors={"date": [_("Choose a date between 2000 and 2100.")]})
    note = (note or "").strip()
    if len(note) > 200:
        raise ValidationFailed(errors={"note": [_("At most 200 characters.")]})
    with tenancy.community_scope(community.id):
        override = db.session.execute(select(CalendarDay).where(CalendarDay.day == day)).scalar_one_or_none()
        if override is None:
            override = CalendarDay(community_id=community.id, day=day, is_workday=is_workday, note=note)
            db.session.add(override)
        else:
            override.is_workday, override.note = is_workday, note
        db.session.flush()
        audit.record(
            "calendar.override_set",
            actor=actor,
            obj=override,
            details={"day": day.isoformat(), "is_workday": is_workday, "note": note},
        )
    return override


def remove_override(community: Community, day: date, *, actor: Actor) -> None:
    """Back to the official calendar for ``day``; NotFoundError when the community has no override."""
    require(actor, "community:write", community=community)
    with tenancy.community_scope(community.id):
        override = get_override(day)
        audit.record("calendar.override_removed", actor=actor, obj=override, details={"day": day.isoformat()})
        db.session.delete(override)
        db.session.flush()


def update_clock_settings(community: Community, data: dict, *, actor: Actor) -> Community:
    """Change how the community's targets count (``target_clock``) and its ``working_hours``."""
    require(actor, "community:write", community=community)
    try:
        data = ClockSettingsSchema(partial=True).load(
            {key: getattr(value, "value", value) for key, value in data.items()}
        )
    except ma.ValidationError as error:
        raise ValidationFailed(errors=flatten_validation_messages(error.messages)) from error
    changed = sorted(key for key, value in data.items() if getattr(community, key) != value)
    for key in changed:
        setattr(community, key, data[key])
    db.session.flush()
    if changed:
        with tenancy.community_scope(community.id):
            audit.record(
                "calendar.clock_updated",
                actor=actor,
                obj=community,
                details={key: str(getattr(data[key], "value", data[key])) for key in changed},
            )
    return community


def parse_day(text: str) -> date:
    """A date from a URL (YYYY-MM-DD); NotFoundError otherwise: such a page does not exist."""
    try:
        day = date.fromisoformat(text)
    except ValueError as error:
        raise NotFoundError() from error
    if len(text) != 10:
        raise NotFoundError()
    return day
