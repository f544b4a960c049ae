from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, FloatField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget


class PointForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(),
            Regexp(r"^[a-z0-9][a-z0-9-]{0,39}$", message=_l("Lower-case letters, digits and - only.")),
        ],
        description=_l("Short and permanent: it is part of the QR code's address."),
    )
    name_zh = StringField(_l("Name (Chinese)"), validators=[DataRequired(), Length(max=80)])
    name_en = StringField(_l("Name (English)"), validators=[DataRequired(), Length(max=120)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=200)])
    opening_hours = TextAreaField(_l("Opening hours"), validators=[Optional(), Length(max=500)])
    latitude = FloatField(_l("Latitude"), validators=[Optional(), NumberRange(min=-90, max=90)])
    longitude = FloatField(_l("Longitude"), validators=[Optional(), NumberRange(min=-180, max=180)])
    resident_group_ids = SelectMultipleField(
        _l("Resident groups served"), coerce=int, widget=ListWidget(prefix_label=False), option_widget=CheckboxInput()
    )
    active = BooleanField(_l("Active"), default=True)
    submit = SubmitField(_l("Save"))
