from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, SelectField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Optional, ValidationError


class ReportForm(FlaskForm):
    period = RadioField(
        _l("Period"),
        choices=[
            SelectChoice("month", _l("a month")),
            SelectChoice("quarter", _l("a quarter")),
            SelectChoice("year", _l("a year")),
            SelectChoice("custom", _l("from … to …")),
        ],
        default="month",
        validators=[DataRequired()],
    )
    month = SelectField(_l("Month"), validators=[Optional()])
    quarter = SelectField(_l("Quarter"), validators=[Optional()])
    year = SelectField(_l("Year"), validators=[Optional()])
    start = DateField(_l("First day"), validators=[Optional()])
    end = DateField(_l("Last day"), validators=[Optional()])
    submit = SubmitField(_l("Compute the report"))

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        months = []
        year, month = today.year, today.month
        for _step in range(24):
            months.append(f"{year}-{month:02d}")
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        self.month.choices = months
        if not self.is_submitted():
            self.month.data = months[1]  # last month by default
        quarters = []
        year, quarter = today.year, (today.month - 1) // 3 + 1
        for _step in range(8):
            quarters.append(f"{year}-Q{quarter}")
            year, quarter = (year, quarter - 1) if quarter > 1 else (year - 1, 4)
        self.quarter.choices = quarters
        self.year.choices = [str(y) for y in range(today.year, today.year - 5, -1)]

    def validate_end(self, field):
        if self.period.data == "custom" and (self.start.data is None or field.data is None):
            raise ValidationError(_l("Give the first and the last day."))
