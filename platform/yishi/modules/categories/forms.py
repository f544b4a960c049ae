from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from yishi.modules.categories.models import CategoryKind


def kind_choices():
    from flask_babel import gettext as _

    labels = {
        CategoryKind.DISPUTE: _("dispute mediation"),
        CategoryKind.INFRASTRUCTURE: _("infrastructure"),
        CategoryKind.ENVIRONMENT: _("environment"),
        CategoryKind.SERVICE: _("service"),
        CategoryKind.OTHER: _("other"),
    }
    return [(kind.value, labels[kind]) for kind in CategoryKind]


class CategoryForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(),
            Regexp(r"^[a-z0-9][a-z0-9_-]{0,39}$", message=_l("Lower-case letters, digits, - and _ only.")),
        ],
    )
    name_zh = StringField(_l("Name (Chinese)"), validators=[DataRequired(), Length(max=80)])
    name_en = StringField(_l("Name (English)"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(_l("Kind"))
    first_response_minutes = IntegerField(
        _l("First response within (minutes)"), default=15, validators=[DataRequired(), NumberRange(min=1, max=525600)]
    )
    resolution_minutes = IntegerField(
        _l("Resolved within (minutes)"), default=10080, validators=[DataRequired(), NumberRange(min=1, max=525600)]
    )
    description_zh = TextAreaField(_l("Description (Chinese)"), validators=[Optional(), Length(max=2000)])
    description_en = TextAreaField(_l("Description (English)"), validators=[Optional(), Length(max=2000)])
    active = BooleanField(_l("Active"), default=True)
    submit = SubmitField(_l("Save"))


class TemplateForm(FlaskForm):
    template = SelectField(_l("Template"), validators=[DataRequired()])
    submit = SubmitField(_l("Add its missing categories"))
