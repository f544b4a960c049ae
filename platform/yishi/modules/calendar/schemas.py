from __future__ import annotations

from datetime import time

import marshmallow as ma
from flask_babel import lazy_gettext as _l
from marshmallow import validate

from yishi.core.schemas import Flag, Integer
from yishi.modules.communities.models import TargetClock

YEARS = validate.Range(min=2000, max=2100)
SOURCES = ("override", "official", "weekend", "weekday")


def parse_working_hours(text: str) -> tuple[time, time]:
    """``"08:30-17:30"`` → (08:30, 17:30); ValueError unless both are HH:MM and opening < closing."""
    try:
        opening, closing = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError as error:
        raise ValueError(str(error)) from error
    if len(text.strip()) != 11 or opening >= closing:
        raise ValueError(text)
    return opening, closing


WORKING_HOURS_MESSAGE = _l("Use HH:MM-HH:MM with the opening before the closing, e.g. 08:30-17:30.")


def validate_working_hours(value: str) -> None:
    try:
        parse_working_hours(value)
    except ValueError as error:
        raise ma.ValidationError(str(WORKING_HOURS_MESSAGE)) from error


class OfficialDaySchema(ma.Schema):
    date = ma.fields.Date(required=True)
    name_zh = ma.fields.String(required=True, validate=validate.Length(min=1, max=80))
    name_en = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))


class OfficialYearSchema(ma.Schema):
    """tenants/calendars/<year>.toml: the official holidays and make-up working days (调休上班)."""

    holidays = ma.fields.List(ma.fields.Nested(OfficialDaySchema), load_default=list)
    workdays = ma.fields.List(ma.fields.Nested(OfficialDaySchema), load_default=list)


class CalendarDaySchema(ma.Schema):
    """One date with its status and where the status comes from."""

    date = ma.fields.Date(dump_only=True)
    is_workday = ma.fields.Boolean(dump_only=True)
    source = ma.fields.String(
        dump_only=True,
        metadata={"description": "override (the community's own), official (the year file), weekend or weekday"},
    )
    name_zh = ma.fields.String(dump_only=True, metadata={"description": "the official holiday or make-up day"})
    name_en = ma.fields.String(dump_only=True)
    note = ma.fields.String(dump_only=True, metadata={"description": "the community's note on its override"})


class MonthArgsSchema(ma.Schema):
    year = Integer(validate=YEARS, metadata={"description": "default: this year"})
    month = Integer(validate=validate.Range(min=1, max=12), metadata={"description": "default: this month"})


class MonthSchema(ma.Schema):
    year = Integer(dump_only=True)
    month = Integer(dump_only=True)
    days = ma.fields.List(ma.fields.Nested(CalendarDaySchema), dump_only=True)


class OverrideSchema(ma.Schema):
    """The community's own status for one date, over the official calendar."""

    date = ma.fields.Date(required=True, attribute="day")
    is_workday = Flag(required=True)
    note = ma.fields.String(load_default="", validate=validate.Length(max=200))

    @ma.validates("date")
    def _within_years(self, value, **_kwargs):
        if not 2000 <= value.year <= 2100:
            raise ma.ValidationError(str(_l("Choose a date between 2000 and 2100.")))


class ClockSettingsSchema(ma.Schema):
    """How the community's matter targets count."""

    target_clock = ma.fields.Enum(TargetClock, by_value=True, required=True)
    working_hours = ma.fields.String(required=True, validate=validate_working_hours)
    auto_close_days = Integer(
        validate=ma.validate.Range(min=1, max=90),
        metadata={"description": "a resolved matter not confirmed by its reporter closes after this many days"},
    )


class ClockSettingsUpdateSchema(ClockSettingsSchema):
    """Every field optional: use it as ``ClockSettingsUpdateSchema(partial=True)``."""
