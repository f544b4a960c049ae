from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, RadioField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from yishi.modules.calendar.schemas import WORKING_HOURS_MESSAGE, parse_working_hours
from yishi.modules.communities.models import TargetClock


def clock_choices():
    return [
        SelectChoice(TargetClock.AROUND_THE_CLOCK.value, _l("Around the clock")),
        SelectChoice(TargetClock.WORKING_HOURS.value, _l("In working hours on working days")),
    ]


class OverrideForm(FlaskForm):
    day = DateField(_l("Date"), validators=[DataRequired(message=_l("Enter a date."))])
    is_workday = SelectField(
        _l("This date is"),
        choices=[SelectChoice("1", _l("a working day")), SelectChoice("0", _l("a day off"))],
        validators=[DataRequired()],
    )
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Save the date"))


class ClockForm(FlaskForm):
    target_clock = RadioField(_l("Targets count"), choices=clock_choices(), validators=[DataRequired()])
    working_hours = StringField(
        _l("Working hours"),
        description=_l("Opening and closing time, e.g. 08:30-17:30"),
        validators=[DataRequired()],
    )
    auto_close_days = IntegerField(
        _l("Close resolved matters after (days)"),
        description=_l("A resolved matter its reporter has not confirmed closes by itself after this many days."),
        validators=[DataRequired(message=_l("Enter a number of days from 1 to 90.")), NumberRange(min=1, max=90)],
    )
    submit = SubmitField(_l("Save the settings"))

    def validate_working_hours(self, field):
        try:
            parse_working_hours(field.data or "")
        except ValueError as error:
            raise ValidationError(str(WORKING_HOURS_MESSAGE)) from error
