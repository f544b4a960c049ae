from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp


class ResidentGroupForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(), Regexp(r"^[A-Za-z0-9_-]{1,32}$", message=_l("Letters, digits, - and _ only."))],
        description=_l("Short and permanent, e.g. g01."),
    )
    name_zh = StringField(_l("Name (Chinese)"), validators=[DataRequired(), Length(max=120)])
    name_en = StringField(_l("Name (English)"), validators=[DataRequired(), Length(max=160)])
    household_count = IntegerField(_l("Households"), validators=[Optional(), NumberRange(min=0, max=100000)])
    submit = SubmitField(_l("Add"))
